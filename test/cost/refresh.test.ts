/**
 * refresh-prices' parser on a small checked-in sample of the AWS Price List bulk API offer-file
 * format (test/cost/fixtures/offer-*.json: the real structure — products keyed by SKU with
 * attributes, terms.OnDemand → offer term → price dimensions with tiers and a free tier — cut
 * down to a few products; the prices in it are the table's own figures, not fetched).
 */
import { strict as assert } from "assert";
import { readFileSync } from "fs";
import { join } from "path";
import { loadPrices, type PriceTable } from "../../offline/prices";
import {
  findOfferPrice,
  offerUrl,
  refreshPriceTable,
  type OfferFile,
} from "../../offline/refresh-prices";

const fixture = (name: string) =>
  JSON.parse(readFileSync(join(__dirname, "fixtures", name), "utf8")) as OfferFile;

describe("refresh-prices: AWS Price List offer files", () => {
  const sqs = fixture("offer-AWSQueueService-ap-northeast-1.json");
  const rds = fixture("offer-AmazonRDS-ap-northeast-1.json");
  const table = loadPrices();

  it("finds the standard and FIFO request prices by usage type, past the free tier", () => {
    const standard = findOfferPrice(
      sqs,
      table.items["sqs.standard.request"].offer!,
      "ap-northeast-1",
    );
    const fifo = findOfferPrice(sqs, table.items["sqs.fifo.request"].offer!, "ap-northeast-1");
    assert.equal(standard?.usdPerUnit, 0.0000004);
    assert.equal(standard?.usagetype, "APN1-Requests-Tier1"); // not Requests-Tier2, not FIFO
    assert.equal(fifo?.usdPerUnit, 0.0000005);
    assert.equal(fifo?.unit, "Requests");
  });

  it("reads a product's region from the attribute the selector names (data transfer: fromRegionCode)", () => {
    const price = findOfferPrice(sqs, table.items["transfer.internet"].offer!, "ap-northeast-1");
    assert.equal(price?.usdPerUnit, 0.114);
    assert.equal(
      findOfferPrice(sqs, table.items["transfer.internet"].offer!, "us-east-1"),
      undefined,
    );
  });

  it("tells Aurora MySQL from PostgreSQL and Standard from I/O-Optimized", () => {
    const acu = findOfferPrice(
      rds,
      table.items["aurora.serverlessV2.acu"].offer!,
      "ap-northeast-1",
    );
    const r7g = findOfferPrice(
      rds,
      table.items["aurora.instance.db.r7g.large"].offer!,
      "ap-northeast-1",
    );
    assert.equal(acu?.usdPerUnit, 0.15);
    assert.equal(r7g?.usdPerUnit, 0.333);
    assert.equal(r7g?.sku, "M8RT5YH2JC6VQK9X");
  });

  it("refuses to guess when several products match with different prices", () => {
    assert.throws(
      () =>
        findOfferPrice(
          rds,
          { code: "AmazonRDS", usagetype: ["InstanceUsage:db.r7g.large"] },
          "ap-northeast-1",
        ),
      /2 products match .* narrow the selector/,
    );
  });

  it("rebuilds the table: found prices replace the old figure, with the date and verified: true", async () => {
    const small: PriceTable = {
      ...table,
      items: {
        "sqs.fifo.request": { ...table.items["sqs.fifo.request"], usd: { "ap-northeast-1": 0.9 } },
        "sqs.standard.request": table.items["sqs.standard.request"],
        "kms.key": { ...table.items["kms.key"], offer: undefined },
      },
    };
    const asked: string[] = [];
    const result = await refreshPriceTable(
      small,
      async (code, region) => {
        asked.push(offerUrl(code, region));
        return code === "AWSQueueService" && region === "ap-northeast-1" ? sqs : undefined;
      },
      { date: "2031-02-03" },
    );
    const fifo = result.table.items["sqs.fifo.request"];
    assert.deepEqual(fifo.usd, { "ap-northeast-1": 0.5 });
    assert.equal(fifo.verified, true);
    assert.equal(fifo.taken, "2031-02-03");
    assert.match(
      fifo.source,
      /^https:\/\/pricing\.us-east-1\.amazonaws\.com\/offers\/v1\.0\/aws\/AWSQueueService\//,
    );
    // Four regions listed, one found: the found one is replaced, the item stays unverified.
    const standard = result.table.items["sqs.standard.request"];
    assert.equal((standard.usd as Record<string, number>)["ap-northeast-1"], 0.4);
    assert.equal(standard.verified, false);
    assert.equal(result.missing, 3);
    assert.ok(
      result.report.some((l) => /sqs.standard.request us-west-2: offer file unavailable/.test(l)),
    );
    assert.deepEqual(result.table.items["kms.key"], small.items["kms.key"]);
    assert.ok(
      asked.includes(
        "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AWSQueueService/current/ap-northeast-1/index.json",
      ),
    );
    // The provenance changes only when everything was found.
    assert.equal(result.table.provenance, table.provenance);
  });
});
