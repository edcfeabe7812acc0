/**
 * The capacity model's arithmetic (bench/capacity-model.ts) on the prod plan with fixed figures:
 * each hop's orders/s from the measured handler time, the stated round trips and the AWS limit
 * that bounds it; the region's ceiling is its slowest hop, the stack's the slowest region × the
 * regions (even split) or a shared hop; the next bottleneck once the first is lifted.
 */
import { strict as assert } from "assert";
import { capacityModel } from "../../bench/capacity-model";
import type { DispatchFigures } from "../../bench/capacity-dispatch";
import { describePlan, sqsCallRttMs, type MeasuredHandlers } from "../../offline/cost";
import { runStack } from "../../offline/engine";

/** The prod plan's functions have 256 MB: 256/1769 of a vCPU. */
const SCALE = 1769 / 256;

const HANDLERS: MeasuredHandlers = {
  command: "fixture",
  rowBytes: 500,
  messageBytes: 745,
  notify: { fixedMs: 2, perRecordMs: 0.3, logFixedBytes: 460, logPerRecordBytes: 0 },
  forwarder: { fixedMs: 3, perRecordMs: 0.1, logFixedBytes: 540, logPerRecordBytes: 6 },
  heartbeat: { ownMs: 0.3, logBytes: 900 },
};

const point = (batchSize: number, rows: number, perCall = batchSize, dispatchers: 1 | 2 = 1) => ({
  schema: "prod-like" as const,
  variant: "call-only" as const,
  dispatchers,
  rowJsonBytes: 521,
  batchSize,
  latencyMs: 25,
  runs: 3,
  rowsPerRun: rows,
  runMs: 930,
  rowsPerSecondInRun: rows,
  rowsPerSecondSustained: rows,
  callsPerRun: rows / perCall,
  payloadBytes: 64_000,
  samples: [{ rows, ms: 900 }],
  best: { rowsPerRun: rows, runMs: 900, rowsPerSecondInRun: rows, rowsPerSecondSustained: rows },
});

const DISPATCH: DispatchFigures = {
  command: "fixture",
  awsLatencyMs: 25,
  envelopeCheck: "fixture",
  // At 500 the payload byte cap ends a call at 300 records.
  points: [
    point(100, 2000),
    point(500, 3600, 300),
    point(100, 3500, 100, 2),
    point(500, 6000, 300, 2),
  ],
};

describe("capacity model (bench/capacity-model.ts) on the prod plan", () => {
  it("bounds each hop, names the first to saturate and the next one", async () => {
    const run = await runStack({ stack: "prod" });
    const plan = describePlan(run);
    const model = capacityModel({ stack: "prod", plan, handlers: HANDLERS, dispatch: DISPATCH });
    assert.equal(model.regions.length, 3);
    for (const region of model.regions) {
      const hop = (name: RegExp) => region.hops.find((h) => name.test(h.hop))!;
      // dispatch: the measured best sustained rows/s at the plan's batch (500) and 25 ms calls,
      // relay_dispatch and its helper together (the routines run both).
      assert.equal(hop(/^dispatch/).ordersPerSecond, 6000);
      assert.match(hop(/^dispatch/).hop, /helper, 2 sessions/);
      assert.match(hop(/^dispatch/).basis, /3,600 rows\/s with relay_dispatch alone/);
      // forwarder: maximumConcurrency 10 × 10 messages per ((3 + 0.1 × 10) CPU ms at a
      // 256/1769 vCPU share + the round trip to the aggregator) ms.
      const ms = (3 + 1) * SCALE + sqsCallRttMs(region.region, "ap-northeast-1");
      assert.ok(Math.abs(hop(/^forwarder/).ordersPerSecond! - (10 * 10) / (ms / 1000)) < 1e-6);
      // notify: 1,000 concurrent × 300 records (what a call carries at batch 500) per
      // (2 + 90 + 30 round trips) ms, and at most 10,000 invocations/s (10 × the concurrency
      // quota) × 300 records.
      const notifyMs = (2 + 0.3 * 300) * SCALE + 30 * sqsCallRttMs(region.region, region.region);
      const notify = Math.min((1000 * 300) / (notifyMs / 1000), 10_000 * 300);
      assert.ok(Math.abs(hop(/^notify/).ordersPerSecond! - notify) < 1e-6);
      assert.equal(hop(/^regional queue/).ordersPerSecond, Infinity);
      assert.equal(
        region.ceiling,
        Math.min(...region.hops.map((h) => h.ordersPerSecond ?? Infinity)),
      );
    }
    // prod's aggregator is FIFO in high-throughput mode: 9,000 TPS × 10 in ap-northeast-1.
    assert.equal(model.shared.find((h) => /^aggregator/.test(h.hop))!.ordersPerSecond, 90_000);
    // eu-west-1's forwarder (215 ms to Tokyo) saturates first: 100 / 0.243 s ≈ 411/s, × 3 regions.
    const eu = 100 / ((4 * SCALE + 215) / 1000);
    assert.equal(
      model.firstToSaturate,
      "eu-west-1: forwarder (event source, maximumConcurrency 10)",
    );
    assert.ok(Math.abs(model.evenSplitCeiling! - 3 * eu) < 1e-6);
    assert.match(model.lift!, /forwarder\.maximumConcurrency/);
    // Lifted, dispatch is next: 6,000 rows/s per region × 3.
    assert.equal(model.next?.ceiling, 18_000);
    assert.match(model.next!.bottleneck!, /dispatch/);
    // The DC consumer's figure comes from the DC-sink issue's benchmark: without it, said so.
    assert.ok(model.unmeasured.some((u) => /DC consumer/.test(u)));
  });

  it("takes the DC consumer's rows/s when given and bounds the stack by it", async () => {
    const run = await runStack({ stack: "prod" });
    const model = capacityModel({
      stack: "prod",
      plan: describePlan(run),
      handlers: HANDLERS,
      dispatch: DISPATCH,
      dc: { rowsPerSecond: 400, processes: 2, command: "fixture" },
    });
    assert.equal(model.evenSplitCeiling, 800);
    assert.match(model.firstToSaturate!, /^DC consumer \(2 processes\)/);
  });
});
