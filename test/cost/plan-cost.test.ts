/**
 * `npm run plan -- --cost --orders-per-day N`: the flags on the plan command line (offline/plan.ts
 * through cli/command.ts), the text table and the `cost` object of `--json`, in a real process.
 */
import { strict as assert } from "assert";
import { execFile } from "child_process";
import { join } from "path";

const ROOT = join(__dirname, "..", "..");
const TSX = join(ROOT, "node_modules", "tsx", "dist", "cli.mjs");

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function plan(...args: string[]): Promise<Ran> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [TSX, "offline/plan.ts", ...args],
      {
        cwd: ROOT,
        encoding: "utf8",
        maxBuffer: 64e6,
        env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
      },
      (_error, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }),
    );
  });
}

describe("npm run plan -- --cost --orders-per-day N", function () {
  this.timeout(120_000);
  let text: Ran;
  let jsonRun: Ran;

  // Both plans at once: two processes for two cores.
  before(async () => {
    [text, jsonRun] = await Promise.all([
      plan("--stack", "prod", "--cost", "--orders-per-day", "100000"),
      plan("--stack", "prod", "--cost", "--orders-per-day", "100000", "--json"),
    ]);
  });

  it("prints the monthly cost per region, the total and the seed design beside it", () => {
    const r = text;
    assert.equal(r.code, 0, r.stderr);
    for (const region of ["ap-northeast-1", "us-west-2", "eu-west-1"]) {
      assert.match(r.stdout, new RegExp(`^Region ${region} \\(.*\\): \\$`, "m"));
    }
    assert.match(r.stdout, /^Monthly cost of stack prod at 100,000 orders\/day/m);
    assert.match(r.stdout, /^Total: \$[\d,]+ a month/m);
    assert.match(r.stdout, /^The seed design at the same volume .*: \$[\d,]+ a month/m);
    assert.match(r.stdout, /^Not counted:/m);
  });

  it("adds a `cost` object to --json, the plan itself unchanged", () => {
    const r = jsonRun;
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(json), ["stack", "resources", "outputs", "cost"]);
    assert.equal(json.cost.currency, "USD");
    assert.equal(json.cost.ordersPerDay, 100000);
    assert.equal(json.cost.regions.length, 3);
    const sum = json.cost.regions.reduce((s: number, r: { usd: number }) => s + r.usd, 0);
    assert.ok(Math.abs(sum - json.cost.usd) < 0.01);
    assert.ok(json.cost.seed.usd > 0);
    assert.ok(json.cost.regions[0].items[0].price.source.startsWith("https://"));
  });

  it("refuses --cost without a volume, a volume without --cost, and a bad number (exit 2)", async () => {
    const cases = [
      [["--cost"], /--cost needs --orders-per-day N/],
      [["--orders-per-day", "10"], /--orders-per-day is for --cost/],
      [["--cost", "--orders-per-day", "lots"], /--orders-per-day must be a whole number/],
      [["--cost", "--orders-per-day", "10", "--mermaid"], /choose one of --cost and --mermaid/],
    ] as const;
    const ran = await Promise.all(cases.map(([args]) => plan("--stack", "prod", ...args)));
    cases.forEach(([args, message], i) => {
      assert.equal(ran[i]!.code, 2, `${args.join(" ")}: ${ran[i]!.stderr}`);
      assert.match(ran[i]!.stderr, message);
    });
  });
});
