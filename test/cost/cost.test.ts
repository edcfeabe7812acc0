/**
 * The cost model's arithmetic, line by line, on a tiny stack (one region, one provisioned
 * instance, the aggregator in the same region) written to a temp dir and run on the offline
 * engine: every line item the estimate produces is recomputed here from first principles —
 * Poisson weights by their formula, quantities from the plan's settings and the stated
 * assumptions, unit prices from the table — and must match. Then: the seed design's lines, the
 * comparison, the prod stack's traffic against bench/RESULTS.md's measured per-order figures, and
 * the renderings.
 */
import { strict as assert } from "assert";
import { mkdtempSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { METRIC } from "../../contract/metrics";
import {
  BENCH_MEASURED,
  costJson,
  costOfRun,
  describePlan,
  estimateCost,
  estimateSeedCost,
  formatCost,
  METRIC_PUBLISHER,
  regionTraffic,
  type CostAssumptions,
  type CostEstimate,
  type LineItem,
  type MeasuredHandlers,
} from "../../offline/cost";
import { runStack, type OfflineRun } from "../../offline/engine";
import { loadPrices, priceOf } from "../../offline/prices";

const TINY_STACK = `config:
  order-relay:regions:
    - region: us-east-1
      instanceClass: db.t4g.medium
      instances: [a]
      vpc:
        cidr: 10.60.0.0/16
  order-relay:aggregator:
    region: us-east-1
  order-relay:retentionHours: 24
  order-relay:logRetentionDays: 3
`;

/** Handler figures chosen so every billed duration is a whole number of ms. */
const MEASURED: MeasuredHandlers = {
  command: "test fixture",
  rowBytes: 500,
  messageBytes: 745,
  notify: { fixedMs: 4, perRecordMs: 0, logFixedBytes: 400, logPerRecordBytes: 0 },
  forwarder: { fixedMs: 3, perRecordMs: 0, logFixedBytes: 500, logPerRecordBytes: 0 },
  heartbeat: { ownMs: 0.5, logBytes: 900 },
  ack: { fixedMs: 1, perRecordMs: 0, logFixedBytes: 450, logPerRecordBytes: 0 },
};

/** Stated here in full so the hand arithmetic below reads against these exact values. */
const ASSUMPTIONS: CostAssumptions = {
  rowBytes: 500,
  outboxRowBytes: 760,
  outboxIndexBytes: 60,
  markRedoBytesPerRow: 100,
  purgeRedoBytesPerRow: 200,
  writeIoBytes: 4096,
  pageBytes: 16384,
  serverlessUtilisation: 0.1,
  recordOverheadBytes: 130,
  envelopeOverheadBytes: 256,
  httpOverheadBytesPerCall: 1000,
  esmPollers: 5,
  esmWaitSeconds: 20,
  dcConsumers: 1,
  dcWaitSeconds: 20,
  platformLogBytesPerInvocation: 600,
  logStorageRatio: 1,
  alarmNotificationsPerMonth: 10,
  ackDbCallMs: 5,
  lambdaVcpuMemoryMb: 1769,
};
/** 256 MB functions get 256/1769 of a vCPU: CPU time takes this many times longer. */
const SCALE = 1769 / 256;

const S = 730 * 3600; // seconds in the 730-hour month
const ORDERS_PER_DAY = 43_200; // 0.5 orders/s in the one region

/** E[f(N)], N ~ Poisson(mean): e^-mean · mean^k / k!, summed far enough. */
function expect(mean: number, f: (k: number) => number): number {
  let p = Math.exp(-mean);
  let sum = 0;
  for (let k = 0; k < 80; k++) {
    if (k > 0) p *= mean / k;
    sum += p * f(k);
  }
  return sum;
}

describe("cost model (offline/cost.ts) on a tiny hand-checked stack", function () {
  let run: OfflineRun;
  let relay: CostEstimate;
  let seed: CostEstimate;
  const prices = loadPrices();
  const unit = (key: string) => priceOf(prices, key, "us-east-1").usdPerUnit;

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), "cost-test-"));
    const file = join(dir, "Pulumi.tiny.yaml");
    writeFileSync(file, TINY_STACK);
    run = await runStack({ configFile: file });
    const options = { ordersPerDay: ORDERS_PER_DAY, measured: MEASURED, assumptions: ASSUMPTIONS };
    relay = estimateCost(run, options);
    seed = estimateSeedCost(run, options);
  });

  const items = (e: CostEstimate) => e.regions.flatMap((r) => r.items);
  const find = (e: CostEstimate, item: string | RegExp): LineItem => {
    const found = items(e).filter((i) =>
      typeof item === "string" ? i.item === item : item.test(i.item),
    );
    assert.equal(
      found.length,
      1,
      `one line "${item}" expected, found ${found.map((i) => i.item).join(" | ") || "none"}`,
    );
    return found[0];
  };
  const close = (actual: number, expected: number, what: string) =>
    assert.ok(
      Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected)),
      `${what}: ${actual} ≠ ${expected}`,
    );
  /** Checks one line's quantity and dollars against the hand figure and the unit price. */
  const check = (e: CostEstimate, item: string | RegExp, quantity: number, priceKey: string) => {
    const line = find(e, item);
    close(line.quantity, quantity, `${item} quantity`);
    assert.equal(line.price.key, priceKey, `${item} price`);
    close(line.usd, quantity * unit(priceKey), `${item} usd`);
    return line;
  };

  it("prices every line item exactly as recomputed by hand", () => {
    const lambda = 0.5; // orders per second
    const p1 = 1 - Math.exp(-lambda); // a dispatch run (every second) has at least one row
    const calls10 = expect(lambda, (n) => Math.ceil(n / 10)); // 10-message calls per second
    // ack: one message per forwarder call; its event source gathers 5 s windows, 10 per batch.
    const ackMessages = calls10;
    const ackCalls = expect(5 * ackMessages, (n) => Math.ceil(n / 10)) / 5;
    const planned = run.resources;
    const alarms = planned.filter(
      (r) => r.type === "aws:cloudwatch/metricAlarm:MetricAlarm",
    ).length;
    const hasAck = planned.some(
      (r) =>
        r.type === "aws:lambda/function:Function" &&
        r.inputs.environment?.variables?.POWERTOOLS_SERVICE_NAME === "order-relay-ack",
    );
    const expected: string[] = [];
    const line = (item: string | RegExp, quantity: number, key: string) =>
      expected.push(check(relay, item, quantity, key).item);

    line("instance db.t4g.medium × 1", 730, "aurora.instance.db.t4g.medium");
    line("RDS-managed master secret (order-relay-tiny-us-east-1)", 1, "secretsmanager.secret");
    line(
      /^interface endpoint com\.amazonaws\.us-east-1\.lambda \(2 AZs\)$/,
      2 * 730,
      "vpc.endpoint.interface.hour",
    );
    // 24 h retention + one 5-minute purge interval of rows at 0.5/s, 760 + 60 bytes each.
    line("outbox storage", (0.5 * 3600 * (24 + 5 / 60) * 820) / 1e9, "aurora.storage");
    const writes =
      (0.5 * 820) / 4096 + // outbox INSERT, in the order's own commit
      p1 + // dispatch's UPDATE, one commit per batch (≤ 100 rows: one batch)
      (0.5 * 100) / 4096 + // its redo per row
      1 + // relay_state every run
      1 / 60 + // heartbeat
      (2 * Math.ceil((0.5 * 300) / 1000) + 1) / 300 + // purge every 5 min: 2 DELETEs + state
      (0.5 * 200) / 4096 + // purge redo per order
      (hasAck ? ackCalls + (0.5 * 100) / 4096 : 0); // relay_confirm
    const reads = (2 * 0.5) / Math.floor(16384 / 760);
    line(/^I\/O requests/, (writes + reads) * S, "aurora.io");
    line(/^backup storage beyond/, 0, "aurora.backup");
    const endpointBytes = p1 * (256 + 1000) + 0.5 * 630 + (1000 + 500) / 60;
    line(
      "Lambda endpoint data processed (lambda_async)",
      (endpointBytes * S) / 1e9,
      "vpc.endpoint.interface.gb",
    );
    // notify: one invocation per run with rows + one heartbeat a minute.
    line("notify requests", (p1 + 1 / 60) * S, "lambda.request");
    // Billed ms: CPU ms × SCALE (256 MB) + 6 ms per SQS call in the region, rounded up.
    const notifyMs =
      expect(lambda, (n) => (n > 0 ? Math.ceil(4 * SCALE + 6 * Math.ceil(n / 10)) : 0)) +
      Math.ceil(0.5 * SCALE) / 60;
    line("notify duration (256 MB, arm64)", (notifyMs / 1000) * 0.25 * S, "lambda.duration.arm64");
    const notifyLog = p1 * (600 + 400) + (600 + 900) / 60;
    line("notify log ingestion", (notifyLog * S) / 1e9, "logs.ingest");
    line("notify log storage (3 d)", (notifyLog * 86400 * 3) / 1e9, "logs.storage");
    // Regional queue: sends, receives (the burst, 10 per call), empty polls, deletes.
    line("regional queue requests (standard)", (3 * calls10 + 5 / 20) * S, "sqs.standard.request");
    line("forwarder requests", calls10 * S, "lambda.request");
    line(
      "forwarder duration (256 MB, arm64)",
      ((Math.ceil(3 * SCALE + 6) * calls10) / 1000) * 0.25 * S,
      "lambda.duration.arm64",
    );
    line("forwarder log ingestion", (calls10 * 1100 * S) / 1e9, "logs.ingest");
    line("forwarder log storage (3 d)", (calls10 * 1100 * 86400 * 3) / 1e9, "logs.storage");
    // Aggregator (FIFO, same region): forwarder sends, DC receives, DC empty polls, DC deletes.
    line(/^aggregator queue requests \(FIFO\)$/, (3 * calls10 + 1 / 20) * S, "sqs.fifo.request");
    line(
      "aggregator → DC (internet egress)",
      ((0.5 * 745 + (calls10 + 1 / 20) * 1000) * S) / 1e9,
      "transfer.internet",
    );
    let traced = p1 + 1 / 60 + calls10;
    if (hasAck) {
      line(
        "ack queue requests (standard)",
        (ackMessages + 2 * ackCalls + 5 / 20) * S,
        "sqs.standard.request",
      );
      line("ack requests", ackCalls * S, "lambda.request");
      line(
        "ack duration (256 MB, arm64)",
        ((Math.ceil(1 * SCALE + 5) * ackCalls) / 1000) * 0.25 * S,
        "lambda.duration.arm64",
      );
      line("ack log ingestion", (ackCalls * 1050 * S) / 1e9, "logs.ingest");
      line("ack log storage (3 d)", (ackCalls * 1050 * 86400 * 3) / 1e9, "logs.storage");
      traced += ackCalls;
    }
    assert.ok(traced < 1, "below the 1 trace/s reservoir every invocation is traced");
    line(/^traces \(tracing Active/, traced * S, "xray.trace");
    line(`alarms, standard resolution (${alarms})`, alarms, "cloudwatch.alarm.standard");
    const metrics = Object.values(METRIC).length; // every metric's handler runs in this region
    line(`custom metrics (${metrics} names × 1 dimension set)`, metrics, "cloudwatch.metric");
    line("dashboards (1)", 1, "cloudwatch.dashboard");

    // Nothing else: no KMS or SNS without alarms.email, no cross-region transfer.
    assert.deepEqual(
      items(relay)
        .map((i) => i.item)
        .sort(),
      expected.sort(),
    );
    close(
      relay.usd,
      items(relay).reduce((s, i) => s + i.usd, 0),
      "total",
    );
    assert.equal(relay.regions.length, 1);
    assert.equal(relay.regions[0].ordersPerDay, ORDERS_PER_DAY);
  });

  it("prices the seed design by hand: 1 invocation and 3 SQS calls per order, no outbox", () => {
    const expected: string[] = [];
    const line = (item: string | RegExp, quantity: number, key: string) =>
      expected.push(check(seed, item, quantity, key).item);
    line("instance db.t4g.medium × 1", 730, "aurora.instance.db.t4g.medium");
    line("RDS-managed master secret (order-relay-tiny-us-east-1)", 1, "secretsmanager.secret");
    line(/^interface endpoint .* \(2 AZs\)$/, 2 * 730, "vpc.endpoint.interface.hour");
    line(
      "Lambda endpoint data processed (lambda_async per order)",
      (0.5 * (630 + 1000) * S) / 1e9,
      "vpc.endpoint.interface.gb",
    );
    line("notify requests", 0.5 * S, "lambda.request");
    // One record, one SendMessage to the DC queue in the same region: 4 CPU ms × SCALE + 6 ms.
    line(
      "notify duration (256 MB, arm64)",
      ((0.5 * Math.ceil(4 * SCALE + 6)) / 1000) * 0.25 * S,
      "lambda.duration.arm64",
    );
    line("notify log ingestion", (0.5 * 1000 * S) / 1e9, "logs.ingest");
    line("notify log storage (3 d)", (0.5 * 1000 * 86400 * 3) / 1e9, "logs.storage");
    line(
      "DC queue requests (standard, as the seed)",
      (3 * 0.5 + 1 / 20) * S,
      "sqs.standard.request",
    );
    line(
      "DC queue → DC (internet egress)",
      ((0.5 * 1745 + 0.05 * 1000) * S) / 1e9,
      "transfer.internet",
    );
    assert.deepEqual(
      items(seed)
        .map((i) => i.item)
        .sort(),
      expected.sort(),
    );
    // The lines both designs pay alike are marked, with the same figure.
    for (const shared of items(relay).filter((i) => i.sharedWithSeed)) {
      close(find(seed, shared.item).usd, shared.usd, shared.item);
    }
  });

  it("compares the two: saving, the lines that differ, and per category", () => {
    const comparison = costOfRun(run, {
      ordersPerDay: ORDERS_PER_DAY,
      measured: MEASURED,
      assumptions: ASSUMPTIONS,
      breakEven: false,
    });
    close(comparison.savingUsd, seed.usd - relay.usd, "saving");
    const notShared = (e: CostEstimate) =>
      items(e)
        .filter((i) => !i.sharedWithSeed)
        .reduce((s, i) => s + i.usd, 0);
    close(comparison.variable.relayUsd, notShared(relay), "relay variable");
    close(comparison.variable.seedUsd, notShared(seed), "seed variable");
    const sqs = comparison.byCategory.find((c) => c.category === "SQS")!;
    close(
      sqs.seedUsd,
      items(seed)
        .filter((i) => i.category === "SQS")
        .reduce((s, i) => s + i.usd, 0),
      "SQS seed",
    );
  });

  it("names each line's unit price with its region, source, date and verified flag", () => {
    for (const item of items(relay)) {
      assert.ok(["us-east-1", "all"].includes(item.price.region), item.item);
      assert.equal(item.price.fallback, false, item.item);
      assert.match(item.price.source, /^https:\/\//, item.item);
      assert.match(item.price.taken, /^\d{4}-\d{2}-\d{2}$/, item.item);
      assert.equal(typeof item.price.verified, "boolean");
      assert.ok(item.basis.length > 0, item.item);
    }
  });

  it("assigns every contract metric to the handler that publishes it", () => {
    for (const name of Object.values(METRIC)) {
      assert.ok(METRIC_PUBLISHER[name], `METRIC ${name} has no publisher in offline/cost.ts`);
    }
  });

  it("renders a readable table and a machine object", () => {
    const comparison = costOfRun(run, {
      ordersPerDay: ORDERS_PER_DAY,
      measured: MEASURED,
      assumptions: ASSUMPTIONS,
      breakEven: false,
    });
    const text = formatCost(comparison);
    for (const part of [
      "Monthly cost of stack tiny at 43,200 orders/day",
      "Region us-east-1 (relay + aggregator, 43,200 orders/day)",
      "Total: $",
      "The seed design at the same volume",
      "Assumptions:",
      "Not counted:",
      "unverified",
    ]) {
      assert.ok(text.includes(part), `text lacks "${part}"`);
    }
    const json = JSON.parse(JSON.stringify(costJson(comparison)));
    assert.equal(json.currency, "USD");
    assert.equal(json.ordersPerDay, ORDERS_PER_DAY);
    assert.equal(json.regions[0].items.length, items(relay).length);
    assert.ok(Math.abs(json.usd - relay.usd) < 1e-3);
    assert.ok(Math.abs(json.seed.usd - seed.usd) < 1e-3);
    assert.ok(Array.isArray(json.notCounted) && json.notCounted.length > 0);
  });
});

describe("cost model: NAT access, alarm email, a region the price table does not list", function () {
  it("prices NAT processing instead of an endpoint, KMS and SNS for alarms.email, and flags the fallback", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cost-test-"));
    const file = join(dir, "Pulumi.nat.yaml");
    writeFileSync(
      file,
      `config:
  order-relay:regions:
    - region: sa-east-1
      vpc:
        vpcId: vpc-0123456789abcdef0
        subnetIds: [subnet-0123456789abcdef0, subnet-0123456789abcdef1]
      lambdaAccess: nat
  order-relay:aggregator:
    region: sa-east-1
  order-relay:retentionHours: 24
  order-relay:alarms:
    email: ops@example.com
`,
    );
    const run = await runStack({ configFile: file });
    const estimate = estimateCost(run, {
      ordersPerDay: 20_000,
      measured: MEASURED,
      assumptions: ASSUMPTIONS,
    });
    const items = estimate.regions.flatMap((r) => r.items);
    const names = items.map((i) => i.item);
    assert.ok(
      !names.some((n) => /^interface endpoint/.test(n)),
      "no endpoint with lambdaAccess: nat",
    );
    const nat = items.find((i) => /^NAT gateway data processed/.test(i.item))!;
    assert.equal(nat.price.key, "nat.gb");
    assert.ok(
      !items.some((i) => i.price.key === "nat.hour"),
      "the VPC's own gateway hours are not this stack's",
    );
    const keys = run.resources.filter((r) => r.type === "aws:kms/key:Key").length;
    assert.ok(keys > 0);
    assert.equal(items.find((i) => /^customer managed keys/.test(i.item))!.quantity, keys);
    assert.ok(names.some((n) => /^email deliveries/.test(n)));
    // sa-east-1 is not listed: every per-region price is the item's highest listed figure, flagged.
    assert.ok(items.every((i) => i.price.fallback || i.price.region === "all"));
    assert.ok(estimate.prices.fallbacks.length > 0);
    const acu = items.find((i) => /^Serverless v2 at min/.test(i.item))!;
    assert.equal(acu.price.usd, priceOf(loadPrices(), "aurora.serverlessV2.acu", "sa-east-1").usd);
  });
});

describe("cost model on the prod stack", function () {
  let run: OfflineRun;
  before(async () => {
    run = await runStack({ stack: "prod" });
  });

  it("converges to bench/RESULTS.md's measured calls per order where batches are full", () => {
    // bench: 0.622 SQS calls and 0.123 invocations per order at 500 orders/s per region, the
    // relay hops only (the ack path came later), local 1 s long polls.
    const plan = describePlan(run).filter((r) => r.relay);
    const rate = BENCH_MEASURED.atOrdersPerSecondPerRegion;
    let sqs = 0;
    let invocations = 0;
    for (const region of plan) {
      const t = regionTraffic(region, rate, MEASURED, ASSUMPTIONS);
      sqs +=
        t.regionalSendRequests +
        t.regionalReceiveRequests +
        t.regionalDeleteRequests +
        t.aggregatorSendRequests +
        2 * t.aggregatorSendCalls; // DC receives and deletes, one each per forwarded call
      invocations += t.notifyInvocations + t.forwarderInvocations;
    }
    const orders = rate * plan.length;
    const sqsPerOrder = sqs / orders;
    const invocationsPerOrder = invocations / orders;
    assert.ok(Math.abs(sqsPerOrder - 0.6) < 0.02, `${sqsPerOrder} SQS calls per order (floor 0.6)`);
    assert.ok(
      Math.abs(sqsPerOrder - BENCH_MEASURED.sqsCallsPerOrder) / BENCH_MEASURED.sqsCallsPerOrder <
        0.1,
      `${sqsPerOrder} vs measured ${BENCH_MEASURED.sqsCallsPerOrder}`,
    );
    assert.ok(
      Math.abs(invocationsPerOrder - BENCH_MEASURED.lambdaInvocationsPerOrder) /
        BENCH_MEASURED.lambdaInvocationsPerOrder <
        0.15,
      `${invocationsPerOrder} vs measured ${BENCH_MEASURED.lambdaInvocationsPerOrder}`,
    );
  });

  it("prices every region of prod, cross-region transfer from the non-aggregator regions only", () => {
    const estimate = estimateCost(run, { ordersPerDay: 100_000, measured: MEASURED });
    const regions = estimate.regions.map((r) => r.region).sort();
    assert.deepEqual(regions, ["ap-northeast-1", "eu-west-1", "us-west-2"]);
    for (const region of estimate.regions) {
      const transfer = region.items.filter((i) => /forwarder → aggregator/.test(i.item));
      assert.equal(transfer.length, region.region === "ap-northeast-1" ? 0 : 1, region.region);
      assert.ok(
        region.items.some((i) => i.category === "Aurora"),
        region.region,
      );
    }
    // Seed: 3 SQS calls and 1 invocation per order at any volume.
    const seedEstimate = estimateSeedCost(run, { ordersPerDay: 100_000, measured: MEASURED });
    const requests = seedEstimate.regions
      .flatMap((r) => r.items)
      .filter((i) => i.category === "Lambda" && /requests$/.test(i.item))
      .reduce((s, i) => s + i.quantity, 0);
    assert.ok(Math.abs(requests - (100_000 / 86400) * S) < 1e-6 * requests);
  });

  it("finds where the relay starts to cost less than the seed", () => {
    const comparison = costOfRun(run, { ordersPerDay: 100_000, measured: MEASURED });
    const at = comparison.breakEvenOrdersPerDay;
    assert.ok(at !== undefined && at > 1000 && at < 1e8, `break-even ${at}`);
    const saving = (ordersPerDay: number) =>
      estimateSeedCost(run, { ordersPerDay, measured: MEASURED }).usd -
      estimateCost(run, { ordersPerDay, measured: MEASURED }).usd;
    assert.ok(saving(at * 0.9) < 0 && saving(at * 1.1) > 0);
  });
});
