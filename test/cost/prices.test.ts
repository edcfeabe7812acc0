/**
 * The checked-in price table (offline/prices.json): valid against its schema, honest about its
 * provenance, complete for the regions and instance classes the shipped stacks use, and the one
 * region rule (fallback to the highest listed price) as documented.
 */
import { strict as assert } from "assert";
import { readFileSync } from "fs";
import { listStacks, readStackFile, stackFilePath } from "../../config/load";
import {
  auroraInstancePrice,
  loadPrices,
  parsePriceTable,
  PRICES_FILE,
  priceOf,
  PriceTableError,
  type PriceTable,
} from "../../offline/prices";

const raw = () => JSON.parse(readFileSync(PRICES_FILE, "utf8"));

/** Every region and instance class the shipped stacks name. */
function shippedStacks(): { regions: Set<string>; classes: Set<string> } {
  const regions = new Set<string>();
  const classes = new Set<string>();
  for (const stack of listStacks()) {
    const relay = readStackFile(stackFilePath(stack), stack).relay as {
      regions: { region: string; instanceClass?: string }[];
      aggregator: { region: string };
    };
    for (const r of relay.regions) {
      regions.add(r.region);
      if (r.instanceClass) classes.add(r.instanceClass);
    }
    regions.add(relay.aggregator.region);
  }
  return { regions, classes };
}

describe("price table (offline/prices.json)", () => {
  let table: PriceTable;
  before(() => {
    table = loadPrices();
  });

  it("is valid against its zod schema", () => {
    assert.doesNotThrow(() => parsePriceTable(raw()));
    assert.ok(Object.keys(table.items).length >= 30);
  });

  it("gives every item a service, unit, source page on aws.amazon.com, date and honesty flag", () => {
    for (const [key, item] of Object.entries(table.items)) {
      assert.match(
        item.source,
        /^https:\/\/(aws\.amazon\.com|pricing\.us-east-1\.amazonaws\.com)\//,
        key,
      );
      assert.match(item.taken, /^\d{4}-\d{2}-\d{2}$/, key);
      assert.equal(typeof item.verified, "boolean", key);
      assert.ok(item.offer, `${key}: no offer selector, so refresh-prices cannot replace it`);
    }
  });

  it("says the figures were typed in, not fetched, while any item is unverified", () => {
    const unverified = Object.values(table.items).filter((i) => !i.verified);
    if (unverified.length > 0) {
      assert.match(table.provenance, /NOT fetched or verified/);
      assert.match(table.provenance, /refresh-prices/);
    }
  });

  it("prices every region the shipped stacks use without the fallback", () => {
    const { regions } = shippedStacks();
    for (const [key, item] of Object.entries(table.items)) {
      for (const region of regions) {
        const price = priceOf(table, key, region);
        assert.equal(price.fallback, false, `${key} has no price for ${region}`);
        assert.ok(item.per > 0 && price.usd >= 0);
      }
    }
  });

  it("prices every instance class the shipped stacks name", () => {
    const { regions, classes } = shippedStacks();
    for (const instanceClass of classes) {
      for (const region of regions) {
        assert.ok(
          auroraInstancePrice(table, instanceClass, region),
          `${instanceClass} in ${region}`,
        );
      }
    }
  });

  it("falls back to the highest listed price for a region it does not list, and says so", () => {
    const price = priceOf(table, "aurora.serverlessV2.acu", "sa-east-1");
    const listed = Object.values(
      table.items["aurora.serverlessV2.acu"].usd as Record<string, number>,
    );
    assert.equal(price.fallback, true);
    assert.equal(price.usd, Math.max(...listed));
    assert.equal(price.usdPerUnit, price.usd / price.per);
  });

  it("derives other sizes of a family from its .large price (linear ladder)", () => {
    const large = priceOf(table, "aurora.instance.db.r7g.large", "us-east-1");
    const big = auroraInstancePrice(table, "db.r7g.4xlarge", "us-east-1")!;
    assert.equal(big.usd, large.usd * 8);
    assert.equal(big.derivedFrom, "aurora.instance.db.r7g.large × 8");
    assert.equal(auroraInstancePrice(table, "db.x9z.large", "us-east-1"), undefined);
  });

  it("rejects a table with a negative price, a bad region code, a missing source or an unknown field", () => {
    const item = raw().items["sqs.standard.request"];
    const cases: [string, unknown][] = [
      ["negative", { ...item, usd: { "us-east-1": -1 } }],
      ["region", { ...item, usd: { Tokyo: 0.4 } }],
      ["source", { ...item, source: "not a url" }],
      ["unknown", { ...item, cost: 1 }],
      ["date", { ...item, taken: "June 2025" }],
    ];
    for (const [name, bad] of cases) {
      assert.throws(
        () => parsePriceTable({ ...raw(), items: { "sqs.standard.request": bad } }),
        (error: unknown) =>
          error instanceof PriceTableError && /items\.sqs\.standard\.request/.test(error.message),
        name,
      );
    }
  });

  it("throws a clear error for an item the table does not have", () => {
    assert.throws(() => priceOf(table, "nope", "us-east-1"), /prices.json has no item "nope"/);
  });
});
