/**
 * bench/RESULTS.md's Capacity section (bench/capacity-section.ts), rendered from the committed
 * bench/capacity-results.json and from nothing: the commands that produced the figures, the
 * dispatch table (1 and 2 sessions), the goal's verdict and the model's ceiling.
 */
import { strict as assert } from "assert";
import {
  CAPACITY_COMMANDS,
  readCapacityResults,
  renderCapacitySection,
} from "../../bench/capacity-section";

describe("bench/RESULTS.md Capacity section (bench/capacity-section.ts)", () => {
  it("renders bench/capacity-results.json: commands, dispatch per session count, goal, model", () => {
    const results = readCapacityResults();
    assert.ok(results, "bench/capacity-results.json is committed");
    const text = renderCapacitySection(results).join("\n");
    assert.match(text, /^## Capacity \(bench\/capacity\.ts\)/);
    for (const command of CAPACITY_COMMANDS) assert.ok(text.includes(command), command);
    assert.match(text, /\| 1 \(relay_dispatch\) \| 500 \| [\d,]+ \/ \*\*[\d,]+\*\* \|/);
    assert.match(text, /\| 2 \(relay_dispatch \+ helper\) \| 500 \|/);
    assert.match(
      text,
      /Goal dispatch ≥ 5,000 rows\/s per region: \*\*(met|missed)\*\* — [\d,]+ rows\/s/,
    );
    assert.match(
      text,
      /Stack ceiling with orders split evenly over 3 regions: \*\*[\d,]+ orders\/s\*\*/,
    );
    assert.ok(!text.includes("undefined") && !text.includes("NaN"), text);
  });

  it("without a results file says how to produce one", () => {
    const text = renderCapacitySection(undefined).join("\n");
    assert.match(text, /No bench\/capacity-results\.json yet: run `npx tsx bench\/capacity\.ts`/);
    assert.equal(readCapacityResults("/nonexistent/capacity-results.json"), undefined);
  });
});
