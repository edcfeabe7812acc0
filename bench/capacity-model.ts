/**
 * The capacity model: from the pieces measured on this machine (bench/capacity.ts) and the AWS
 * limits that bound each hop, the orders/s each hop of each region carries, the stack's ceiling
 * and the first part to saturate, with the config that lifts it. Pure: no I/O.
 *
 * Hops, in order: dispatch (relay_dispatch, one serial run per second per region) → lambda_async
 * → notify (async Lambda) → regional queue (standard) → forwarder (event source, bounded by
 * maximumConcurrency) → aggregator (FIFO, shared by every region) → DC consumer. Each hop's
 * figure is "orders/s it can pass on" at the plan's settings; the region's ceiling is the smallest
 * of its own hops, the stack's the smallest of (the regions' sum, the shared hops).
 */
import {
  DEFAULT_ASSUMPTIONS,
  lambdaCpuScale,
  sqsCallRttMs,
  type CostAssumptions,
  type MeasuredHandlers,
  type PlannedRegion,
} from "../offline/cost";
import type { DispatchFigures } from "./capacity-dispatch";

/** A limit AWS documents, with the page it is on. */
export interface AwsLimit {
  readonly value: number;
  readonly text: string;
  readonly source: string;
}

/**
 * The AWS limits the model uses (taken from the AWS docs pages named, as of 2025; quotas can be
 * raised on request and differ per account — check Service Quotas before relying on them).
 */
export const AWS_LIMITS = {
  fifoTps: {
    value: 300,
    text: "FIFO queue without high throughput: 300 transactions/s per API action (SendMessage[Batch], ReceiveMessage, DeleteMessage[Batch]); 10 messages per batch → 3,000 messages/s",
    source:
      "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html",
  },
  fifoHighThroughputTps: {
    value: 9000,
    text: "FIFO high-throughput mode in ap-northeast-1: 9,000 transactions/s per API action (us-east-1, us-west-2, eu-west-1: 18,000 as of the Oct 2023 increase, raised further since) → 90,000 messages/s batched; 300 messages/s per message group (the relay groups per row)",
    source:
      "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/high-throughput-fifo.html",
  },
  standardQueue: {
    value: Infinity,
    text: "standard queue: nearly unlimited API calls per second per action",
    source:
      "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html",
  },
  sqsBatch: {
    value: 10,
    text: "10 entries per SendMessageBatch / DeleteMessageBatch, 10 messages per ReceiveMessage",
    source:
      "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html",
  },
  lambdaConcurrency: {
    value: 1000,
    text: "Lambda concurrent executions per region per account: 1,000 by default (shared by every function; raisable)",
    source: "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html",
  },
  esmMaximumConcurrency: {
    value: 1000,
    text: "SQS event source maximumConcurrency: 2..1,000 concurrent invocations per mapping (the plan sets forwarder.maximumConcurrency)",
    source: "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html",
  },
  asyncPayload: {
    value: 256 * 1024,
    text: "asynchronous invocation payload: 256 KiB the relay keeps to (1 MiB since late 2025; Aurora's lambda_async states no limit of its own); relay_dispatch caps a call at 200,000 bytes",
    source: "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html",
  },
  invokeRate: {
    value: 10_000,
    text: "Lambda invocation requests per region: 10 × the concurrency quota per second (10,000/s at the default)",
    source: "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html",
  },
} as const;

export interface DcFigure {
  /** Rows per second one DC consumer process commits. */
  readonly rowsPerSecond: number;
  readonly processes: number;
  readonly command: string;
  readonly note?: string;
}

export interface Hop {
  readonly hop: string;
  /** Orders/s it passes on at the plan's settings; undefined when not measured. */
  readonly ordersPerSecond?: number;
  /** How the figure follows. */
  readonly basis: string;
  /** The command that measured its input, or the limit's source. */
  readonly source: string;
  /** The config that lifts it. */
  readonly lift: string;
}

export interface RegionCapacity {
  readonly region: string;
  readonly hops: readonly Hop[];
  readonly ceiling?: number;
  readonly bottleneck?: string;
}

export interface StackCapacity {
  readonly stack: string;
  readonly regions: readonly RegionCapacity[];
  readonly shared: readonly Hop[];
  /** Orders/s with the volume split evenly over the regions (the slowest region saturates). */
  readonly evenSplitCeiling?: number;
  /** Orders/s if every region ran at its own ceiling. */
  readonly sumOfRegionsCeiling?: number;
  readonly firstToSaturate?: string;
  readonly lift?: string;
  /** Once the first bottleneck is lifted (its hop taken out everywhere): the next one. */
  readonly next?: {
    readonly ceiling?: number;
    readonly bottleneck?: string;
    readonly lift?: string;
  };
  readonly unmeasured: readonly string[];
}

const min = (hops: readonly Hop[]) => {
  const known = hops.filter((h) => h.ordersPerSecond !== undefined);
  if (known.length === 0) return undefined;
  return known.reduce((a, b) => (b.ordersPerSecond! < a.ordersPerSecond! ? b : a));
};

/**
 * Dispatch's sustained rows/s at a batch size and latency (the call-only variant), with 1
 * session (relay_dispatch alone) or 2 (relay_dispatch and its helper, as a region with a backlog
 * runs them).
 */
export function dispatchRate(
  dispatch: DispatchFigures | undefined,
  batchSize: number,
  latencyMs: number,
  dispatchers: 1 | 2 = 1,
): number | undefined {
  const point = dispatch?.points.find(
    (p) =>
      p.schema === "prod-like" &&
      p.variant === "call-only" &&
      (p.dispatchers ?? 1) === dispatchers &&
      p.batchSize === batchSize &&
      p.latencyMs === latencyMs,
  );
  return point?.best?.rowsPerSecondSustained ?? point?.rowsPerSecondSustained;
}

/** Records one lambda_async call carried at a batch size (the payload byte cap may cut it). */
export function recordsPerCall(
  dispatch: DispatchFigures | undefined,
  batchSize: number,
): number | undefined {
  const point = dispatch?.points.find(
    (p) =>
      p.schema === "prod-like" &&
      p.variant === "call-only" &&
      (p.dispatchers ?? 1) === 1 &&
      p.batchSize === batchSize,
  );
  return point && point.callsPerRun > 0
    ? Math.round(point.rowsPerRun / point.callsPerRun)
    : undefined;
}

export function capacityModel(input: {
  stack: string;
  plan: readonly PlannedRegion[];
  handlers: MeasuredHandlers;
  dispatch?: DispatchFigures;
  dc?: DcFigure;
  /** Which SQL the dispatch figure was measured on, when not the working tree's. */
  dispatchSource?: string;
  /** The cost model's assumptions (the Lambda CPU share). @default DEFAULT_ASSUMPTIONS */
  assumptions?: CostAssumptions;
  /** Highest dispatchBatchSize measured (for the lift text). */
  maxBatchSize?: number;
}): StackCapacity {
  const { plan, handlers, dispatch, dc } = input;
  const assumptions = input.assumptions ?? DEFAULT_ASSUMPTIONS;
  const unmeasured: string[] = [];
  const aggregatorRegion = plan.find((p) =>
    p.queues.some((q) => /-aggregator(\.fifo)?$/.test(q.name)),
  );
  const aggregatorQueue = aggregatorRegion?.queues.find((q) =>
    /-aggregator(\.fifo)?$/.test(q.name),
  );
  const relays = plan.filter((p) => p.relay);
  const regions = relays.map((region): RegionCapacity => {
    const r = region.region;
    const batch = region.clusters[0]?.settings?.dispatchBatchSize ?? 100;
    const latency = dispatch?.awsLatencyMs ?? 25;
    // The routines run relay_dispatch and its helper (two events): the 2-session figure when
    // measured, else the serial one.
    const parallel = dispatchRate(dispatch, batch, latency, 2);
    const serial = dispatchRate(dispatch, batch, latency, 1);
    const dispatchOps = parallel ?? serial;
    const sessions = parallel !== undefined ? 2 : 1;
    if (dispatchOps === undefined)
      unmeasured.push(`${r}: dispatch (${dispatch?.blocker ?? "no point"})`);
    const bigger = dispatchRate(dispatch, input.maxBatchSize ?? 500, latency, sessions);
    // Records per notify invocation: the batch, unless the payload byte cap cuts it first.
    const perCall = Math.min(batch, recordsPerCall(dispatch, batch) ?? batch);
    const notify = region.functions.find((f) => f.role === "notify")!;
    const forwarder = region.functions.find((f) => f.role === "forwarder");
    const notifyScale = lambdaCpuScale(notify.memoryMb, assumptions);
    const notifyMs =
      notifyScale * (handlers.notify.fixedMs + handlers.notify.perRecordMs * perCall) +
      Math.ceil(perCall / 10) * sqsCallRttMs(r, r);
    const concurrency = AWS_LIMITS.lambdaConcurrency.value;
    const hops: Hop[] = [
      {
        hop:
          sessions === 2
            ? "dispatch (relay_dispatch + helper, 2 sessions, events every 1 s)"
            : "dispatch (relay_dispatch, serial, event every 1 s)",
        ordersPerSecond: dispatchOps,
        basis:
          `measured: batch ${batch}, lambda_async ${latency} ms per call, ~500-byte rows` +
          (sessions === 2
            ? `, relay_dispatch and its helper at once (${serial === undefined ? "?" : serial.toLocaleString("en-US")} rows/s with relay_dispatch alone)`
            : "") +
          (dispatch?.blocker ? ` — working tree: ${dispatch.blocker}` : ""),
        source: dispatch?.command ?? "npx tsx bench/capacity.ts --only dispatch",
        lift:
          batch < (input.maxBatchSize ?? 500)
            ? `dispatchBatchSize up to 500 (measured ${bigger === undefined ? "?" : bigger.toLocaleString("en-US")} rows/s at 500: with ~500-byte rows the 200,000-byte payload cap stops a call at ~${recordsPerCall(dispatch, input.maxBatchSize ?? 500) ?? "?"} rows)`
            : `with ~500-byte rows the 200,000-byte payload cap stops a call at ~${recordsPerCall(dispatch, batch) ?? "?"} rows, so each session is bound by its SQL time per batch + one lambda_async call; beyond: a faster lambda_async, a larger payload cap (contract), more partitions than 2 (SQL change), a database with more vCPUs`,
      },
      {
        hop: `notify (async Lambda, ${notify.memoryMb} MB)`,
        ordersPerSecond: Math.min(
          (concurrency * perCall) / (notifyMs / 1000),
          AWS_LIMITS.invokeRate.value * perCall,
        ),
        basis: `${concurrency} concurrent (account default, shared) × ${perCall} records / ${notifyMs.toFixed(1)} ms (measured ${handlers.notify.fixedMs} + ${handlers.notify.perRecordMs}/record CPU ms × ${notifyScale.toFixed(2)} for ${notify.memoryMb} MB + ${Math.ceil(perCall / 10)} × ${sqsCallRttMs(r, r)} ms SQS round trips)`,
        source: `${handlers.command}; ${AWS_LIMITS.lambdaConcurrency.source}`,
        lift: "account concurrency quota (Service Quotas)",
      },
      {
        hop: "regional queue (standard)",
        ordersPerSecond: Infinity,
        basis: AWS_LIMITS.standardQueue.text,
        source: AWS_LIMITS.standardQueue.source,
        lift: "—",
      },
    ];
    if (forwarder) {
      const size = forwarder.source?.batchSize ?? 10;
      const cap = forwarder.source?.maxConcurrency ?? concurrency;
      const rtt = sqsCallRttMs(r, forwarder.aggregatorRegion ?? r);
      const scale = lambdaCpuScale(forwarder.memoryMb, assumptions);
      const ms =
        scale * (handlers.forwarder.fixedMs + handlers.forwarder.perRecordMs * size) +
        Math.ceil(size / 10) * rtt;
      hops.push({
        hop: `forwarder (event source, maximumConcurrency ${cap})`,
        ordersPerSecond: (cap * size) / (ms / 1000),
        basis: `${cap} concurrent × ${size} messages / ${ms.toFixed(1)} ms (measured ${handlers.forwarder.fixedMs} + ${handlers.forwarder.perRecordMs}/record CPU ms × ${scale.toFixed(2)} for ${forwarder.memoryMb} MB + ${rtt} ms round trip to ${forwarder.aggregatorRegion})`,
        source: `${handlers.command}; ${AWS_LIMITS.esmMaximumConcurrency.source}`,
        lift: (() => {
          const needed = Math.ceil((5000 * ms) / 1000 / size);
          return needed <= cap
            ? `forwarder.maximumConcurrency (2..1000; ${cap} already carries 5,000/s)`
            : `forwarder.maximumConcurrency (2..1000; ${needed} carries 5,000/s)`;
        })(),
      });
    }
    const bottleneck = min(hops);
    return { region: r, hops, ceiling: bottleneck?.ordersPerSecond, bottleneck: bottleneck?.hop };
  });
  const shared: Hop[] = [];
  if (aggregatorQueue?.fifo) {
    const ht = aggregatorQueue.highThroughput;
    const tps = ht ? AWS_LIMITS.fifoHighThroughputTps.value : AWS_LIMITS.fifoTps.value;
    shared.push({
      hop: `aggregator (FIFO${ht ? ", high throughput" : ""}) — sends, receives, deletes each`,
      ordersPerSecond: tps * AWS_LIMITS.sqsBatch.value,
      basis: `${tps} transactions/s per API action × ${AWS_LIMITS.sqsBatch.value} messages per batch (full batches)`,
      source: ht ? AWS_LIMITS.fifoHighThroughputTps.source : AWS_LIMITS.fifoTps.source,
      lift: ht ? "a quota increase (Service Quotas)" : "aggregator.highThroughput: true",
    });
  }
  if (dc) {
    shared.push({
      hop: `DC consumer (${dc.processes} process${dc.processes > 1 ? "es" : ""})`,
      ordersPerSecond: dc.rowsPerSecond * dc.processes,
      basis: `${dc.rowsPerSecond} rows/s per process × ${dc.processes}${dc.note ? ` (${dc.note})` : ""}`,
      source: dc.command,
      lift: "more DC consumer processes (per-row message groups let them share the queue)",
    });
  } else {
    unmeasured.push(
      "DC consumer rows/s: not measured here — the DC-sink issue (13) owns that benchmark; hook: a bench/dc-*.ts module exporting dcCapacity() (or --dc-rows-per-second N)",
    );
    shared.push({
      hop: "DC consumer",
      basis: "not measured (see unmeasured)",
      source: "hook: bench/dc-*.ts → dcCapacity()",
      lift: "more DC consumer processes",
    });
  }
  const ceilingOf = (skip?: string) => {
    const hopKind = (hop: string) => hop.split(" (")[0];
    const ceilings = regions.map((region) => {
      const hops = region.hops.filter((h) => !skip || hopKind(h.hop) !== skip);
      const bottleneck = min(hops);
      return { region: region.region, bottleneck, ceiling: bottleneck?.ordersPerSecond };
    });
    const known = ceilings.filter((c) => c.ceiling !== undefined);
    const slowest = known.length
      ? known.reduce((a, b) => (b.ceiling! < a.ceiling! ? b : a))
      : undefined;
    const sharedHops = shared.filter((h) => !skip || hopKind(h.hop) !== skip);
    const sharedMin = min(sharedHops);
    const all = known.length === regions.length;
    const evenRegional = slowest && all ? slowest.ceiling! * regions.length : undefined;
    const sumRegional = all ? known.reduce((s, c) => s + c.ceiling!, 0) : undefined;
    let even = evenRegional;
    let first = slowest ? `${slowest.region}: ${slowest.bottleneck!.hop}` : undefined;
    let firstHop = slowest?.bottleneck?.hop;
    let lift = slowest?.bottleneck?.lift;
    if (
      sharedMin?.ordersPerSecond !== undefined &&
      (evenRegional === undefined || sharedMin.ordersPerSecond < evenRegional)
    ) {
      even = sharedMin.ordersPerSecond;
      first = sharedMin.hop;
      firstHop = sharedMin.hop;
      lift = sharedMin.lift;
    }
    const sum =
      sumRegional === undefined
        ? undefined
        : Math.min(sumRegional, sharedMin?.ordersPerSecond ?? Infinity);
    return { even, sum, first, lift, kind: firstHop ? hopKind(firstHop) : undefined };
  };
  const first = ceilingOf();
  const second = first.kind ? ceilingOf(first.kind) : undefined;
  const evenSplitCeiling = first.even;
  const sumOfRegionsCeiling = first.sum;
  const firstToSaturate = first.first;
  const lift = first.lift;
  return {
    stack: input.stack,
    regions,
    shared,
    evenSplitCeiling,
    sumOfRegionsCeiling,
    firstToSaturate,
    lift,
    ...(second
      ? { next: { ceiling: second.even, bottleneck: second.first, lift: second.lift } }
      : {}),
    unmeasured,
  };
}
