/**
 * What a stack costs per month, from its offline plan (`runStack` → every resource with its type,
 * region and inputs) and an order volume. Pure functions: `estimateCost(run, options)` prices the
 * relay, `estimateSeedCost(run, options)` prices the seed article's design on the same clusters
 * at the same volume, `compareWithSeed` puts them side by side and `formatCost` / `costJson`
 * render the result (`npm run plan -- --stack prod --cost --orders-per-day 100000`).
 *
 * Every line item is one priced thing in one region: a quantity per month (730 hours), its unit
 * price from offline/prices.json (with that price's region, source and date) and the basis the
 * quantity was derived from. Nothing is priced that the plan does not contain, and what is not
 * counted is listed (`NOT_COUNTED`).
 *
 * Traffic is derived from the design, not assumed per order: orders arrive evenly over the day
 * (Poisson, `ordersPerDay` split evenly over the stack's regions); the dispatch event runs every
 * second and hands each second's rows to notify in batches of `dispatchBatchSize`; notify sends
 * 10 per SendMessageBatch; the forwarder's event source delivers each second's burst in batches
 * of its `batchSize` (its batching window is ≥ 1 s); each forwarder call's ≤ 10 messages reach the
 * DC in one long-poll receive and one DeleteMessageBatch. At high volume this converges to the
 * 0.6 SQS calls and ~0.11 Lambda invocations per order that bench/RESULTS.md measured end to end
 * (0.622 and 0.123 at 500 orders/s per region); at low volume batches are not full and the
 * per-order figures are higher — the model says how much.
 *
 * Handler durations (→ GB-seconds) and log bytes are the ones measured on this machine by
 * `npx tsx bench/capacity.ts` (bench/capacity-results.json): CPU time on one core, scaled to the
 * function's CPU share (Lambda: one vCPU at 1,769 MB, in proportion below), plus one network
 * round trip per SQS call (`sqsCallRttMs`), which a local measurement cannot show.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { METRIC, SERVICE } from "../contract/metrics";
import type { OfflineRun, RecordedResource } from "./engine";
import {
  auroraInstancePrice,
  loadPrices,
  priceOf,
  type PriceTable,
  type UnitPrice,
} from "./prices";

export const HOURS_PER_MONTH = 730;
export const SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600;
export const DAYS_PER_MONTH = HOURS_PER_MONTH / 24;

/** The relay's figures measured end to end by `npm run bench` (bench/RESULTS.md, figure 2). */
export const BENCH_MEASURED = {
  sqsCallsPerOrder: 0.622,
  lambdaInvocationsPerOrder: 0.123,
  atOrdersPerSecondPerRegion: 500,
  seed: { sqsCallsPerOrder: 3, lambdaInvocationsPerOrder: 1 },
  source: "bench/RESULTS.md figure 2 (prod stack, 5000 orders at 500/s per design)",
} as const;

/** What the cost model assumes; each value is printed with the estimate. */
export interface CostAssumptions {
  /** JSON bytes of one captured order row (the envelope's `row`). */
  readonly rowBytes: number;
  /** On-disk bytes of one relay_outbox row: row_json + its other columns + InnoDB overhead. */
  readonly outboxRowBytes: number;
  /** Bytes of its two secondary-index entries. */
  readonly outboxIndexBytes: number;
  /** Redo bytes per row of dispatch's handed_off_at UPDATE (row + pending-index change). */
  readonly markRedoBytesPerRow: number;
  /** Redo bytes per order of the purge (its outbox row and its order_data row deleted). */
  readonly purgeRedoBytesPerRow: number;
  /** Aurora counts write I/Os in units of this many redo bytes. */
  readonly writeIoBytes: number;
  /** InnoDB page size: the purge reads retention-old pages back (one read I/O each). */
  readonly pageBytes: number;
  /** Serverless v2: average capacity above minCapacity, as a share of (max − min). */
  readonly serverlessUtilisation: number;
  /** Bytes of one record's frame in the lambda_async envelope (ids, table, key, op, time). */
  readonly recordOverheadBytes: number;
  readonly envelopeOverheadBytes: number;
  /** HTTP + TLS framing of one API call, request and response (headers, SigV4). */
  readonly httpOverheadBytesPerCall: number;
  /** Lambda's SQS event source: concurrent long polls when idle, and their wait. */
  readonly esmPollers: number;
  readonly esmWaitSeconds: number;
  /** DC consumer processes long-polling the aggregator queue, and their wait (dc/cli.ts: 20 s). */
  readonly dcConsumers: number;
  readonly dcWaitSeconds: number;
  /** Lambda's own log lines per invocation (START, END, REPORT in JSON log format). */
  readonly platformLogBytesPerInvocation: number;
  /** Stored log bytes per ingested byte (1 = no compression: an upper bound). */
  readonly logStorageRatio: number;
  /** Alarm notifications per alarm topic per month (state changes, both ways). */
  readonly alarmNotificationsPerMonth: number;
  /** ack: the relay_confirm call's time in Aurora per invocation (not measurable here). */
  readonly ackDbCallMs: number;
  /**
   * Lambda memory that gets one full vCPU; below it CPU is allocated in proportion, so the
   * handlers' CPU time measured on a full core here is scaled by this / memory.
   */
  readonly lambdaVcpuMemoryMb: number;
}

export const DEFAULT_ASSUMPTIONS: CostAssumptions = {
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

/** Why each assumption has its value (printed under the estimate). */
export const ASSUMPTION_NOTES: Readonly<Record<keyof CostAssumptions, string>> = {
  rowBytes: "a typical order row of 13 columns as JSON (bench/capacity-handlers.ts orderRow)",
  outboxRowBytes: "row_json + ~120 B of outbox columns, ×1.15 InnoDB row and page overhead",
  outboxIndexBytes: "relay_outbox_pending and relay_outbox_row entries",
  markRedoBytesPerRow: "handed_off_at/attempts change + the pending-index delete and insert",
  purgeRedoBytesPerRow: "delete of the outbox row and of its order_data row, with index entries",
  writeIoBytes: "Aurora write I/Os are counted in 4 KiB units of redo (commits batch)",
  pageBytes: "InnoDB default page",
  serverlessUtilisation: "the storefront's load decides this; 10 % of the min..max span stated",
  recordOverheadBytes: "measured: 64.6 KB per 100-row payload of 521-byte rows (capacity bench)",
  envelopeOverheadBytes: '{"region": …, "records": […]}',
  httpOverheadBytesPerCall: "request line, headers, SigV4, TLS records, response headers",
  esmPollers: "Lambda's SQS event source starts with 5 long-polling pollers (AWS docs)",
  esmWaitSeconds: "20 s long polls; empty receives counted as if always idle (upper bound)",
  dcConsumers: "one DC consumer process (npm run dc:consume)",
  dcWaitSeconds: "dc/cli.ts --wait-seconds default",
  platformLogBytesPerInvocation: "platform.start/runtimeDone/report records in JSON log format",
  logStorageRatio: "CloudWatch bills archived (compressed) bytes; 1 = uncompressed upper bound",
  alarmNotificationsPerMonth: "a quiet month; each notification is one SNS publish and email",
  ackDbCallMs: "one CALL relay_confirm over the VPC, in Aurora; assumed",
  lambdaVcpuMemoryMb:
    "Lambda allocates CPU in proportion to memory, one vCPU at 1,769 MB (AWS docs): measured CPU ms × 1769/memory",
};

/** How much longer CPU work takes in a function of `memoryMb` than on one full core. */
export function lambdaCpuScale(memoryMb: number, a: CostAssumptions): number {
  return Math.max(1, a.lambdaVcpuMemoryMb / memoryMb);
}

/** Handler figures measured by bench/capacity.ts (bench/capacity-results.json → handlers). */
export interface MeasuredHandlers {
  readonly command: string;
  readonly measuredAt?: string;
  readonly rowBytes: number;
  /** One relay message (body + attributes) for a row of rowBytes. */
  readonly messageBytes: number;
  readonly notify: HandlerFit;
  readonly forwarder: HandlerFit;
  readonly heartbeat: { readonly ownMs: number; readonly logBytes: number };
  /** Absent until the ack handler is measured: then `ownMs` defaults below apply. */
  readonly ack?: HandlerFit;
}

export interface HandlerFit {
  /** Own time per invocation = fixedMs + perRecordMs × records. */
  readonly fixedMs: number;
  readonly perRecordMs: number;
  /** Log bytes per invocation = logFixedBytes + logPerRecordBytes × records. */
  readonly logFixedBytes: number;
  readonly logPerRecordBytes: number;
}

export const CAPACITY_RESULTS_FILE = join(__dirname, "..", "bench", "capacity-results.json");

/** The measured handler figures checked in by `npx tsx bench/capacity.ts`. */
export function loadMeasuredHandlers(file: string = CAPACITY_RESULTS_FILE): MeasuredHandlers {
  let parsed: { handlers?: MeasuredHandlers; measuredAt?: string };
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new Error(
      `cost: cannot read the measured handler figures in ${file} (${(error as Error).message}); ` +
        "run `npx tsx bench/capacity.ts --only handlers`",
      { cause: error },
    );
  }
  if (!parsed.handlers?.notify || !parsed.handlers.forwarder) {
    throw new Error(`cost: ${file} has no handlers figures; run npx tsx bench/capacity.ts`);
  }
  return { ...parsed.handlers, measuredAt: parsed.measuredAt };
}

// ---------------------------------------------------------------------------------------------
// Network round trips of one SQS call from a Lambda in `from` to a queue in `to`.

/**
 * Median round trips between the regions the shipped stacks use, in ms: approximate public
 * inter-region figures (e.g. cloudping.co), NOT measured here (no AWS access). Same region: one
 * in-region HTTPS exchange on a reused connection.
 */
export const RTT_MS: Readonly<Record<string, number>> = {
  same: 6,
  "ap-northeast-1|us-west-2": 100,
  "ap-northeast-1|eu-west-1": 215,
  "ap-northeast-1|us-east-1": 150,
  "eu-west-1|us-east-1": 70,
  "eu-west-1|us-west-2": 130,
  "us-east-1|us-west-2": 65,
  fallback: 200,
};

export function sqsCallRttMs(from: string, to: string): number {
  if (from === to) return RTT_MS.same;
  const key = [from, to].sort().join("|");
  return RTT_MS[key] ?? RTT_MS.fallback;
}

// ---------------------------------------------------------------------------------------------
// The plan, read by role.

/** Which handler publishes which custom metric (contract/metrics.ts); every METRIC is listed. */
export const METRIC_PUBLISHER: Readonly<Record<string, string>> = {
  [METRIC.enqueued]: SERVICE.notify,
  [METRIC.heartbeat]: SERVICE.notify,
  [METRIC.outboxPending]: SERVICE.notify,
  [METRIC.outboxOldestPending]: SERVICE.notify,
  [METRIC.outboxOverdue]: SERVICE.notify,
  [METRIC.outboxQuarantined]: SERVICE.notify,
  [METRIC.purgeFailures]: SERVICE.notify,
  [METRIC.backfillIncomplete]: SERVICE.notify,
  [METRIC.forwarded]: SERVICE.forwarder,
  [METRIC.forwardFailed]: SERVICE.forwarder,
  [METRIC.relayLag]: SERVICE.forwarder,
  // Added with the acknowledgement path (issue 14); read by name so this file does not depend
  // on whether that change has landed.
  Confirmed: "order-relay-ack",
  ConfirmationLag: "order-relay-ack",
  UnconfirmedOverdue: SERVICE.notify,
};

/** Every metric carries one dimension set, {service, region} (contract/metrics.ts). */
export const METRIC_DIMENSION_SETS = 1;

const ACK_SERVICE = "order-relay-ack";

export type FunctionRole = "notify" | "forwarder" | "ack" | "unknown";

export interface PlannedFunction {
  readonly name: string;
  readonly role: FunctionRole;
  readonly memoryMb: number;
  readonly arch: "arm64" | "x86_64";
  readonly tracing: boolean;
  readonly logRetentionDays: number;
  /** The event source mapping feeding it, if any. */
  readonly source?: {
    readonly batchSize: number;
    readonly windowSeconds: number;
    readonly maxConcurrency?: number;
  };
  /** forwarder: where it sends. */
  readonly aggregatorRegion?: string;
  readonly aggregatorFifo?: boolean;
  readonly queueUrl?: string;
}

export interface PlannedCluster {
  readonly id: string;
  readonly serverless?: { readonly min: number; readonly max: number };
  readonly instanceClasses: readonly string[];
  readonly backupDays: number;
  readonly storageType: string;
  readonly managedMasterSecret: boolean;
  readonly settings?: {
    readonly dispatchBatchSize: number;
    readonly retentionHours: number;
    readonly purgeIntervalMinutes: number;
  };
}

export interface PlannedRegion {
  readonly region: string;
  /** Runs a relay (a notify function). */
  readonly relay: boolean;
  readonly clusters: readonly PlannedCluster[];
  readonly functions: readonly PlannedFunction[];
  readonly queues: readonly {
    readonly name: string;
    readonly fifo: boolean;
    /** FIFO high-throughput mode: throughput limit per message group, dedup per group. */
    readonly highThroughput: boolean;
  }[];
  /** Interface endpoints and the AZs (subnets) each spans. */
  readonly endpoints: readonly { name: string; service: string; azs: number }[];
  readonly lambdaAccess: "endpoint" | "nat";
  readonly alarms: readonly PlannedAlarm[];
  readonly kmsKeys: number;
  readonly topics: number;
  readonly emailSubscriptions: number;
  readonly dashboards: number;
}

export interface PlannedAlarm {
  readonly name: string;
  /** Alarm metrics it is billed for (a metric-math alarm: one per metric it reads). */
  readonly metrics: number;
  readonly highResolution: boolean;
  readonly percentile: boolean;
}

const ofType = (run: OfflineRun, type: string) => run.resources.filter((r) => r.type === type);

function functionRole(resource: RecordedResource): FunctionRole {
  const service = resource.inputs.environment?.variables?.POWERTOOLS_SERVICE_NAME;
  if (service === SERVICE.notify) return "notify";
  if (service === SERVICE.forwarder) return "forwarder";
  if (service === ACK_SERVICE) return "ack";
  return "unknown";
}

function alarmOf(resource: RecordedResource): PlannedAlarm {
  const i = resource.inputs;
  const queries: { metric?: { period?: number }; expression?: string }[] = i.metricQueries ?? [];
  const anomaly = queries.some((q) => /ANOMALY_DETECTION_BAND/.test(q.expression ?? ""));
  const metrics = queries.length > 0 ? queries.filter((q) => q.metric).length : 1;
  const periods = [i.period, ...queries.map((q) => q.metric?.period)].filter(
    (p): p is number => typeof p === "number",
  );
  return {
    name: i.name ?? resource.name,
    // CloudWatch bills an anomaly-detection alarm as 3 alarm metrics (the metric and its band).
    metrics: anomaly ? metrics * 3 : Math.max(1, metrics),
    highResolution: periods.some((p) => p < 60),
    percentile: typeof i.extendedStatistic === "string",
  };
}

/** Reads the plan by role: what each region runs, with the inputs that drive its cost. */
export function describePlan(run: OfflineRun): PlannedRegion[] {
  const regions = [
    ...new Set(run.resources.filter((r) => r.custom && r.region).map((r) => r.region!)),
  ];
  const logGroups = ofType(run, "aws:cloudwatch/logGroup:LogGroup");
  const mappings = ofType(run, "aws:lambda/eventSourceMapping:EventSourceMapping");
  const subnetsById = new Map(
    ofType(run, "aws:ec2/subnet:Subnet").map((s) => [s.id, s.inputs.availabilityZone as string]),
  );
  const settingsByRegion = new Map<string, PlannedCluster["settings"]>();
  for (const command of ofType(run, "command:local:Command")) {
    const text = command.inputs.environment?.RELAY_SETTINGS;
    if (typeof text !== "string") continue;
    const s = JSON.parse(text);
    settingsByRegion.set(s.region, {
      dispatchBatchSize: s.dispatchBatchSize,
      retentionHours: s.retentionHours,
      purgeIntervalMinutes: s.purgeIntervalMinutes,
    });
  }
  return regions.sort().map((region) => {
    const here = (type: string) => ofType(run, type).filter((r) => r.region === region);
    const functions = here("aws:lambda/function:Function").map((f): PlannedFunction => {
      const i = f.inputs;
      const arn = `:function:${i.name}`;
      const mapping = mappings.find(
        (m) => typeof m.inputs.functionName === "string" && m.inputs.functionName.endsWith(arn),
      );
      const group = logGroups.find((g) => g.inputs.name === `/aws/lambda/${i.name}`);
      const env = i.environment?.variables ?? {};
      return {
        name: i.name,
        role: functionRole(f),
        memoryMb: i.memorySize ?? 128,
        arch: (i.architectures ?? ["x86_64"])[0] === "arm64" ? "arm64" : "x86_64",
        tracing: i.tracingConfig?.mode === "Active",
        logRetentionDays: group?.inputs.retentionInDays ?? 0,
        ...(mapping
          ? {
              source: {
                batchSize: mapping.inputs.batchSize ?? 10,
                windowSeconds: mapping.inputs.maximumBatchingWindowInSeconds ?? 0,
                maxConcurrency: mapping.inputs.scalingConfig?.maximumConcurrency,
              },
            }
          : {}),
        ...(env.AGGREGATOR_REGION
          ? {
              aggregatorRegion: env.AGGREGATOR_REGION,
              aggregatorFifo: env.AGGREGATOR_FIFO === "true",
            }
          : {}),
        ...(env.QUEUE_URL ? { queueUrl: env.QUEUE_URL } : {}),
      };
    });
    const instances = here("aws:rds/clusterInstance:ClusterInstance");
    const clusters = here("aws:rds/cluster:Cluster").map((c): PlannedCluster => {
      const i = c.inputs;
      const scaling = i.serverlessv2ScalingConfiguration;
      return {
        id: i.clusterIdentifier,
        ...(scaling ? { serverless: { min: scaling.minCapacity, max: scaling.maxCapacity } } : {}),
        instanceClasses: instances
          .filter((x) => x.inputs.clusterIdentifier === i.clusterIdentifier)
          .map((x) => x.inputs.instanceClass as string),
        backupDays: i.backupRetentionPeriod ?? 1,
        storageType: i.storageType ?? "aurora",
        managedMasterSecret: i.manageMasterUserPassword === true,
        settings: settingsByRegion.get(region),
      };
    });
    const endpoints = here("aws:ec2/vpcEndpoint:VpcEndpoint")
      .filter((e) => (e.inputs.vpcEndpointType ?? "Gateway") === "Interface")
      .map((e) => ({
        name: e.name,
        service: String(e.inputs.serviceName ?? ""),
        azs: new Set(
          ((e.inputs.subnetIds as string[] | undefined) ?? []).map(
            (id) => subnetsById.get(id) ?? id,
          ),
        ).size,
      }));
    const relay = functions.some((f) => f.role === "notify");
    const lambdaEndpoint = endpoints.some((e) => /\.lambda$/.test(e.service));
    return {
      region,
      relay,
      clusters,
      functions,
      queues: here("aws:sqs/queue:Queue").map((q) => ({
        name: q.inputs.name,
        fifo: q.inputs.fifoQueue === true,
        highThroughput:
          q.inputs.fifoThroughputLimit === "perMessageGroupId" &&
          q.inputs.deduplicationScope === "messageGroup",
      })),
      endpoints,
      lambdaAccess: !relay || lambdaEndpoint ? "endpoint" : "nat",
      alarms: here("aws:cloudwatch/metricAlarm:MetricAlarm").map(alarmOf),
      kmsKeys: here("aws:kms/key:Key").length,
      topics: here("aws:sns/topic:Topic").length,
      emailSubscriptions: here("aws:sns/topicSubscription:TopicSubscription").filter(
        (s) => s.inputs.protocol === "email",
      ).length,
      dashboards: here("aws:cloudwatch/dashboard:Dashboard").length,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Traffic: expected calls per second at a Poisson arrival rate.

/** ln Γ(x) (Lanczos, g = 7): enough for Poisson weights. */
function lnGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
    -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
    1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** E[f(N)] for N ~ Poisson(mean), summed where the weights matter (±12 σ). */
export function poissonExpectation(mean: number, f: (n: number) => number): number {
  if (mean <= 0) return f(0);
  const spread = 12 * Math.sqrt(mean) + 20;
  const lo = Math.max(0, Math.floor(mean - spread));
  const hi = Math.ceil(mean + spread);
  let sum = 0;
  let weight = 0;
  for (let n = lo; n <= hi; n++) {
    const p = Math.exp(n * Math.log(mean) - mean - lnGamma(n + 1));
    sum += p * f(n);
    weight += p;
  }
  return sum / weight;
}

/** Σ f(chunk) over n split into chunks of at most `size` (full chunks, then the rest). */
export function sumChunks(n: number, size: number, f: (chunk: number) => number): number {
  const full = Math.floor(n / size);
  const rest = n - full * size;
  return (full > 0 ? full * f(size) : 0) + (rest > 0 ? f(rest) : 0);
}

const one = () => 1;

/** SQS bills each 64 KiB of a call's payload as one request. */
export function billedRequests(messages: number, messageBytes: number): number {
  return Math.max(1, Math.ceil((messages * messageBytes) / 65536));
}

/** Per-second expectations for one relay region. */
export interface RegionTraffic {
  readonly ordersPerSecond: number;
  /** Records per notify invocation capped by the payload byte cap too. */
  readonly effectiveBatchSize: number;
  readonly notifyInvocations: number;
  readonly notifyBilledMs: number;
  readonly notifyLogBytes: number;
  readonly endpointBytes: number;
  /** SendMessageBatch calls on the regional queue, and their billed requests. */
  readonly regionalSendCalls: number;
  readonly regionalSendRequests: number;
  readonly regionalReceiveRequests: number;
  readonly regionalEmptyReceives: number;
  readonly regionalDeleteRequests: number;
  readonly forwarderInvocations: number;
  readonly forwarderBilledMs: number;
  readonly forwarderLogBytes: number;
  /** Forwarder → aggregator SendMessageBatch calls, and their billed requests. */
  readonly aggregatorSendCalls: number;
  readonly aggregatorSendRequests: number;
  readonly crossRegionBytes: number;
  /** Aurora write I/Os and the outbox rows written. */
  readonly writeIos: number;
  readonly readIos: number;
  /** ack path (when planned). */
  readonly ack?: {
    readonly messages: number;
    readonly sendRequests: number;
    readonly receiveRequests: number;
    readonly emptyReceives: number;
    readonly deleteRequests: number;
    readonly invocations: number;
    readonly billedMs: number;
    readonly logBytes: number;
    readonly writeIos: number;
  };
}

/** The payload byte cap relay_dispatch applies (relay_settings.max_payload_bytes default). */
export const DISPATCH_MAX_PAYLOAD_BYTES = 200_000;

export function messageBytesFor(measured: MeasuredHandlers, a: CostAssumptions): number {
  return measured.messageBytes - measured.rowBytes + a.rowBytes;
}

/** Expected traffic per second in one relay region at `ordersPerSecond`. */
export function regionTraffic(
  region: PlannedRegion,
  ordersPerSecond: number,
  measured: MeasuredHandlers,
  a: CostAssumptions,
): RegionTraffic {
  const cluster = region.clusters[0];
  const forwarder = region.functions.find((f) => f.role === "forwarder");
  const ack = region.functions.find((f) => f.role === "ack");
  const configured = cluster?.settings?.dispatchBatchSize ?? 100;
  const recordBytes = a.rowBytes + a.recordOverheadBytes;
  // relay_dispatch also caps a batch by bytes (200 per record estimated in SQL + the row).
  const byBytes = Math.max(1, Math.floor((DISPATCH_MAX_PAYLOAD_BYTES - 256) / (a.rowBytes + 200)));
  const batch = Math.min(configured, byBytes);
  const msgBytes = messageBytesFor(measured, a);
  const aggRegion = forwarder?.aggregatorRegion ?? region.region;
  const rttLocal = sqsCallRttMs(region.region, region.region);
  const rttAgg = sqsCallRttMs(region.region, aggRegion);
  const esmBatch = forwarder?.source?.batchSize ?? 10;
  const notifyFn = region.functions.find((f) => f.role === "notify");
  const notifyScale = lambdaCpuScale(notifyFn?.memoryMb ?? 256, a);
  const forwarderScale = lambdaCpuScale(forwarder?.memoryMb ?? 256, a);
  // Billed ms: the measured CPU time at the function's CPU share + one round trip per SQS call.
  const notifyMs = (n: number) =>
    Math.ceil(
      notifyScale * (measured.notify.fixedMs + measured.notify.perRecordMs * n) +
        Math.ceil(n / 10) * rttLocal,
    );
  const forwarderMs = (k: number) =>
    Math.ceil(
      forwarderScale * (measured.forwarder.fixedMs + measured.forwarder.perRecordMs * k) +
        Math.ceil(k / 10) * rttAgg,
    );
  /** Σ over a call's SendMessageBatch calls (10 per call) of their billed requests. */
  const sendRequests = (k: number) => sumChunks(k, 10, (m) => billedRequests(m, msgBytes));
  // One second of orders: N ~ Poisson(ordersPerSecond), handed off by one dispatch run.
  const perTick = (f: (n: number) => number) => poissonExpectation(ordersPerSecond, f);
  const batches = (n: number, f: (b: number) => number) => sumChunks(n, batch, f);
  const notifyInvocations = perTick((n) => batches(n, one));
  const regionalSendCalls = perTick((n) => batches(n, (b) => sumChunks(b, 10, one)));
  const regionalSendRequests = perTick((n) => batches(n, sendRequests));
  const notifyBilledMs = perTick((n) => batches(n, notifyMs));
  const notifyLogBytes = perTick((n) =>
    batches(
      n,
      (b) =>
        a.platformLogBytesPerInvocation +
        measured.notify.logFixedBytes +
        measured.notify.logPerRecordBytes * b,
    ),
  );
  const endpointBytes = perTick((n) =>
    batches(n, (b) => a.envelopeOverheadBytes + recordBytes * b + a.httpOverheadBytesPerCall),
  );
  // The regional queue: the second's burst, received 10 per call, one invocation per esmBatch.
  const invocations = (n: number, f: (k: number) => number) => sumChunks(n, esmBatch, f);
  const forwarderInvocations = forwarder ? perTick((n) => invocations(n, one)) : 0;
  const regionalReceiveRequests = forwarder ? perTick(sendRequests) : 0;
  const regionalDeleteRequests = forwarder
    ? perTick((n) => invocations(n, (k) => Math.ceil(k / 10)))
    : 0;
  const aggregatorSendCalls = regionalDeleteRequests;
  const aggregatorSendRequests = forwarder ? perTick((n) => invocations(n, sendRequests)) : 0;
  const forwarderBilledMs = forwarder ? perTick((n) => invocations(n, forwarderMs)) : 0;
  const forwarderLogBytes = forwarder
    ? perTick((n) =>
        invocations(
          n,
          (k) =>
            a.platformLogBytesPerInvocation +
            measured.forwarder.logFixedBytes +
            measured.forwarder.logPerRecordBytes * k,
        ),
      )
    : 0;
  const crossRegionBytes =
    forwarder && aggRegion !== region.region
      ? ordersPerSecond * msgBytes + aggregatorSendCalls * a.httpOverheadBytesPerCall
      : 0;
  // Aurora write I/Os per second: the outbox INSERT (in the order's own commit), dispatch's
  // UPDATE per batch (its own commit), relay_state once per dispatch run (every second, rows or
  // not), the heartbeat once a minute, the purge (two DELETE commits per 1000-row chunk plus
  // its state update per run) and the purge's read of retention-old pages.
  const purgeEvery = (cluster?.settings?.purgeIntervalMinutes ?? 5) * 60;
  const outboxBytes = a.outboxRowBytes + a.outboxIndexBytes;
  const writeIos =
    (ordersPerSecond * outboxBytes) / a.writeIoBytes +
    notifyInvocations +
    (ordersPerSecond * a.markRedoBytesPerRow) / a.writeIoBytes +
    1 +
    1 / 60 +
    (2 * Math.ceil((ordersPerSecond * purgeEvery) / 1000) + 1) / purgeEvery +
    (ordersPerSecond * a.purgeRedoBytesPerRow) / a.writeIoBytes;
  const rowsPerPage = Math.max(1, Math.floor(a.pageBytes / a.outboxRowBytes));
  const readIos = (2 * ordersPerSecond) / rowsPerPage;
  let ackTraffic: RegionTraffic["ack"];
  if (ack) {
    // The DC acknowledges each committed batch to its region: one ack message per DC batch of
    // this region's messages (≈ one per forwarder call: a call's ≤ 10 messages arrive together).
    const ackBatch = ack.source?.batchSize ?? 10;
    const messages = aggregatorSendCalls;
    const window = Math.max(1, ack.source?.windowSeconds ?? 1);
    const perWindow = (f: (n: number) => number) =>
      poissonExpectation(messages * window, f) / window;
    const ackScale = lambdaCpuScale(ack.memoryMb, a);
    const ackMs = (k: number) =>
      Math.ceil(
        ackScale *
          ((measured.ack?.fixedMs ?? measured.forwarder.fixedMs) +
            (measured.ack?.perRecordMs ?? measured.forwarder.perRecordMs) * k) +
          a.ackDbCallMs,
      );
    const ackInvocations = (n: number, f: (k: number) => number) => sumChunks(n, ackBatch, f);
    const ackCalls = perWindow((n) => ackInvocations(n, one));
    ackTraffic = {
      messages,
      sendRequests: messages,
      receiveRequests: perWindow((n) => sumChunks(n, 10, one)),
      emptyReceives: a.esmPollers / a.esmWaitSeconds,
      deleteRequests: perWindow((n) => ackInvocations(n, (k) => Math.ceil(k / 10))),
      invocations: ackCalls,
      billedMs: perWindow((n) => ackInvocations(n, ackMs)),
      logBytes: perWindow((n) =>
        ackInvocations(
          n,
          (k) =>
            a.platformLogBytesPerInvocation +
            (measured.ack?.logFixedBytes ?? measured.forwarder.logFixedBytes) +
            (measured.ack?.logPerRecordBytes ?? 0) * k,
        ),
      ),
      // relay_confirm: one commit per invocation plus each confirmed row's change.
      writeIos: ackCalls + (ordersPerSecond * a.markRedoBytesPerRow) / a.writeIoBytes,
    };
  }
  return {
    ordersPerSecond,
    effectiveBatchSize: batch,
    notifyInvocations,
    notifyBilledMs,
    notifyLogBytes,
    endpointBytes,
    regionalSendCalls,
    regionalSendRequests,
    regionalReceiveRequests,
    regionalEmptyReceives: forwarder ? a.esmPollers / a.esmWaitSeconds : 0,
    regionalDeleteRequests,
    forwarderInvocations,
    forwarderBilledMs,
    forwarderLogBytes,
    aggregatorSendCalls,
    aggregatorSendRequests,
    crossRegionBytes,
    writeIos: writeIos + (ackTraffic?.writeIos ?? 0),
    readIos,
    ...(ackTraffic ? { ack: ackTraffic } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Line items.

export type CostCategory =
  | "Aurora"
  | "VPC"
  | "SQS"
  | "Lambda"
  | "X-Ray"
  | "CloudWatch"
  | "Logs"
  | "KMS"
  | "Secrets Manager"
  | "SNS"
  | "Data transfer";

export interface LineItem {
  readonly region: string;
  readonly category: CostCategory;
  readonly item: string;
  /** Units per month. */
  readonly quantity: number;
  readonly unit: string;
  readonly price: {
    readonly key: string;
    readonly usd: number;
    readonly per: number;
    readonly region: string;
    readonly fallback: boolean;
    readonly source: string;
    readonly taken: string;
    readonly verified: boolean;
    readonly derivedFrom?: string;
  };
  /** USD per month. */
  readonly usd: number;
  /** How the quantity follows from the plan and the volume. */
  readonly basis: string;
  /** Line exists in the seed design on the same clusters too (same figure). */
  readonly sharedWithSeed?: boolean;
}

export interface RegionCost {
  readonly region: string;
  readonly role: string;
  readonly ordersPerDay: number;
  readonly items: readonly LineItem[];
  readonly usd: number;
}

export interface CostEstimate {
  readonly design: "relay" | "seed";
  readonly stack: string;
  readonly ordersPerDay: number;
  readonly regions: readonly RegionCost[];
  readonly usd: number;
  /** Per order, the calls the model derived at this volume (compare BENCH_MEASURED). */
  readonly perOrder: { readonly sqsCalls: number; readonly lambdaInvocations: number };
  readonly assumptions: CostAssumptions;
  readonly measured: MeasuredHandlers;
  readonly prices: {
    readonly provenance: string;
    readonly unverified: number;
    readonly fallbacks: readonly string[];
  };
  readonly notCounted: readonly string[];
  readonly notes: readonly string[];
}

export interface CostOptions {
  readonly ordersPerDay: number;
  readonly prices?: PriceTable;
  readonly measured?: MeasuredHandlers;
  readonly assumptions?: Partial<CostAssumptions>;
}

/** What the estimate does not count (printed with it). */
export const NOT_COUNTED: readonly string[] = [
  "the storefront's own load on Aurora beyond the stated Serverless v2 utilisation, its order_data storage and its own I/O (same with or without the relay)",
  "Aurora log exports to CloudWatch (audit CONNECT events, error, slowquery): they depend on the storefront's connection rate",
  "free tiers and account-wide discounts (they belong to the account, not the stack), Savings Plans, reserved instances, taxes",
  "Lambda cold-start (INIT) time, retries and DLQ traffic (zero in steady state; redrive is an operator action)",
  "a NAT gateway's hours with lambdaAccess: nat (the VPC's existing gateway, not this stack's); its per-GB processing of lambda_async is counted",
  "the DC side (on premises): its servers, and Direct Connect or VPN charges; the DC reading the aggregator is priced as internet egress",
  "snapshots beyond automated backups (the final snapshot exists only after deletion)",
  "Pulumi state, CI, and the deploy host",
];

type Price = UnitPrice & { derivedFrom?: string };

function line(
  region: string,
  category: CostCategory,
  item: string,
  quantity: number,
  price: Price,
  basis: string,
  sharedWithSeed = false,
): LineItem {
  return {
    region,
    category,
    item,
    quantity,
    unit: price.unit,
    price: {
      key: price.key,
      usd: price.usd,
      per: price.per,
      region: price.priceRegion,
      fallback: price.fallback,
      source: price.item.source,
      taken: price.item.taken,
      verified: price.item.verified,
      ...(price.derivedFrom ? { derivedFrom: price.derivedFrom } : {}),
    },
    usd: quantity * price.usdPerUnit,
    basis,
    ...(sharedWithSeed ? { sharedWithSeed } : {}),
  };
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });

/** Lines every design on these clusters pays the same: compute, secret, endpoint hours. */
function baseLines(
  region: PlannedRegion,
  prices: PriceTable,
  a: CostAssumptions,
  notes: string[],
): LineItem[] {
  const r = region.region;
  const items: LineItem[] = [];
  for (const cluster of region.clusters) {
    if (cluster.storageType !== "aurora") {
      notes.push(
        `${cluster.id}: storageType ${cluster.storageType} is priced with Aurora Standard figures (I/O-Optimized has higher compute and storage prices and no I/O charge)`,
      );
    }
    const classes = new Map<string, number>();
    for (const c of cluster.instanceClasses) classes.set(c, (classes.get(c) ?? 0) + 1);
    for (const [instanceClass, count] of classes) {
      if (instanceClass === "db.serverless") {
        const sv = cluster.serverless ?? { min: 0.5, max: 4 };
        const acu = priceOf(prices, "aurora.serverlessV2.acu", r);
        items.push(
          line(
            r,
            "Aurora",
            `Serverless v2 at min capacity (${count} instance${count > 1 ? "s" : ""})`,
            count * sv.min * HOURS_PER_MONTH,
            acu,
            `${count} × ${sv.min} ACU × ${HOURS_PER_MONTH} h` +
              (sv.min === 0 ? " (auto-pause: 0 when idle)" : ""),
            true,
          ),
        );
        const above = a.serverlessUtilisation * (sv.max - sv.min);
        items.push(
          line(
            r,
            "Aurora",
            `Serverless v2 above min (stated utilisation ${a.serverlessUtilisation * 100} %)`,
            count * above * HOURS_PER_MONTH,
            acu,
            `${count} × ${a.serverlessUtilisation} × (${sv.max} − ${sv.min}) ACU × ${HOURS_PER_MONTH} h`,
            true,
          ),
        );
        if (sv.min === 0) {
          notes.push(
            `${cluster.id}: minCapacity 0 is priced as paused when idle; the dispatch event runs every second, which may keep the instance from pausing (not verified)`,
          );
        }
      } else {
        const price = auroraInstancePrice(prices, instanceClass, r);
        if (!price) {
          notes.push(
            `${cluster.id}: instance class ${instanceClass} is not in prices.json — not priced`,
          );
          continue;
        }
        items.push(
          line(
            r,
            "Aurora",
            `instance ${instanceClass} × ${count}`,
            count * HOURS_PER_MONTH,
            price,
            `${count} × ${HOURS_PER_MONTH} h on demand`,
            true,
          ),
        );
      }
    }
    if (cluster.managedMasterSecret) {
      items.push(
        line(
          r,
          "Secrets Manager",
          `RDS-managed master secret (${cluster.id})`,
          1,
          priceOf(prices, "secretsmanager.secret", r),
          "manageMasterUserPassword: 1 secret; rotation calls negligible",
          true,
        ),
      );
    }
  }
  for (const endpoint of region.endpoints) {
    items.push(
      line(
        r,
        "VPC",
        `interface endpoint ${endpoint.service} (${endpoint.azs} AZs)`,
        endpoint.azs * HOURS_PER_MONTH,
        priceOf(prices, "vpc.endpoint.interface.hour", r),
        `${endpoint.azs} AZs (its subnets) × ${HOURS_PER_MONTH} h`,
        true,
      ),
    );
  }
  return items;
}

function lambdaLines(
  r: string,
  fn: PlannedFunction,
  invocationsPerSecond: number,
  billedMsPerSecond: number,
  logBytesPerSecond: number,
  prices: PriceTable,
  a: CostAssumptions,
  what: string,
): LineItem[] {
  const invocations = invocationsPerSecond * SECONDS_PER_MONTH;
  const gbSeconds = (billedMsPerSecond / 1000) * (fn.memoryMb / 1024) * SECONDS_PER_MONTH;
  const logGb = (logBytesPerSecond * SECONDS_PER_MONTH) / 1e9;
  const items = [
    line(
      r,
      "Lambda",
      `${fn.role} requests`,
      invocations,
      priceOf(prices, "lambda.request", r),
      what,
    ),
    line(
      r,
      "Lambda",
      `${fn.role} duration (${fn.memoryMb} MB, ${fn.arch})`,
      gbSeconds,
      priceOf(prices, `lambda.duration.${fn.arch}`, r),
      `${fmt(billedMsPerSecond / Math.max(invocationsPerSecond, 1e-12), 1)} ms billed per invocation × ${fn.memoryMb / 1024} GB`,
    ),
    line(
      r,
      "Logs",
      `${fn.role} log ingestion`,
      logGb,
      priceOf(prices, "logs.ingest", r),
      `${fmt(logBytesPerSecond / Math.max(invocationsPerSecond, 1e-12))} B per invocation (measured app logs + EMF, ${a.platformLogBytesPerInvocation} B platform)`,
    ),
    line(
      r,
      "Logs",
      `${fn.role} log storage (${fn.logRetentionDays} d)`,
      (logBytesPerSecond * 86400 * fn.logRetentionDays * a.logStorageRatio) / 1e9,
      priceOf(prices, "logs.storage", r),
      `${fn.logRetentionDays} days of logs kept (steady state)`,
    ),
  ];
  return items;
}

/**
 * X-Ray traces of a region's traced functions: the account's default sampling rule records the
 * first request each second and 5 % of the rest, its reservoir shared by every traced function
 * of the region (centralized sampling).
 */
function xrayLine(
  r: string,
  traced: readonly { role: string; invocationsPerSecond: number }[],
  prices: PriceTable,
): LineItem[] {
  if (traced.length === 0) return [];
  const rate = traced.reduce((s, t) => s + t.invocationsPerSecond, 0);
  const traces = (Math.min(rate, 1) + 0.05 * Math.max(0, rate - 1)) * SECONDS_PER_MONTH;
  return [
    line(
      r,
      "X-Ray",
      `traces (tracing Active: ${traced.map((t) => t.role).join(", ")})`,
      traces,
      priceOf(prices, "xray.trace", r),
      `default sampling of ${fmt(rate, 2)} invocations/s: 1 trace/s + 5 % of the rest (reservoir shared in the region)`,
    ),
  ];
}

function resolveOptions(options: CostOptions) {
  return {
    prices: options.prices ?? loadPrices(),
    measured: options.measured ?? loadMeasuredHandlers(),
    a: { ...DEFAULT_ASSUMPTIONS, ...(options.assumptions ?? {}) },
  };
}

function summary(
  design: CostEstimate["design"],
  run: OfflineRun,
  options: CostOptions,
  regions: RegionCost[],
  perOrder: CostEstimate["perOrder"],
  a: CostAssumptions,
  measured: MeasuredHandlers,
  prices: PriceTable,
  notes: string[],
): CostEstimate {
  const all = regions.flatMap((r) => r.items);
  const fallbacks = [
    ...new Set(all.filter((i) => i.price.fallback).map((i) => `${i.price.key} in ${i.region}`)),
  ];
  return {
    design,
    stack: run.stack,
    ordersPerDay: options.ordersPerDay,
    regions,
    usd: regions.reduce((s, r) => s + r.usd, 0),
    perOrder,
    assumptions: a,
    measured,
    prices: {
      provenance: prices.provenance,
      unverified: new Set(all.filter((i) => !i.price.verified).map((i) => i.price.key)).size,
      fallbacks,
    },
    notCounted: NOT_COUNTED,
    notes,
  };
}

/** Orders per second in each relay region: the stack's volume split evenly. */
function ratesByRegion(plan: PlannedRegion[], ordersPerDay: number): Map<string, number> {
  const relays = plan.filter((r) => r.relay);
  return new Map(relays.map((r) => [r.region, ordersPerDay / relays.length / 86400]));
}

/** The relay as planned, at `ordersPerDay` orders over the whole stack. */
export function estimateCost(run: OfflineRun, options: CostOptions): CostEstimate {
  const { prices, measured, a } = resolveOptions(options);
  const plan = describePlan(run);
  const rates = ratesByRegion(plan, options.ordersPerDay);
  const traffic = new Map(
    plan
      .filter((r) => r.relay)
      .map((r) => [r.region, regionTraffic(r, rates.get(r.region)!, measured, a)]),
  );
  const notes: string[] = [];
  const msgBytes = messageBytesFor(measured, a);
  let sqsPerSecond = 0;
  let invocationsPerSecond = 0;
  const regions = plan.map((region): RegionCost => {
    const r = region.region;
    const items = baseLines(region, prices, a, notes);
    const t = traffic.get(r);
    const traced: { role: string; invocationsPerSecond: number }[] = [];
    const trace = (fn: PlannedFunction, invocationsPerSecond: number) => {
      if (fn.tracing) traced.push({ role: fn.role, invocationsPerSecond });
    };
    if (t) {
      const cluster = region.clusters[0];
      const retention = cluster?.settings?.retentionHours ?? 24;
      const purgeMinutes = cluster?.settings?.purgeIntervalMinutes ?? 5;
      const residentRows = t.ordersPerSecond * 3600 * (retention + purgeMinutes / 60);
      const outboxGb = (residentRows * (a.outboxRowBytes + a.outboxIndexBytes)) / 1e9;
      items.push(
        line(
          r,
          "Aurora",
          "outbox storage",
          outboxGb,
          priceOf(prices, "aurora.storage", r),
          `${fmt(residentRows)} rows kept ${retention} h + one purge interval × ${a.outboxRowBytes + a.outboxIndexBytes} B`,
        ),
        line(
          r,
          "Aurora",
          "I/O requests (outbox, dispatch, purge, heartbeat)",
          (t.writeIos + t.readIos) * SECONDS_PER_MONTH,
          priceOf(prices, "aurora.io", r),
          `${fmt(t.writeIos * 86400)} write + ${fmt(t.readIos * 86400)} read I/Os a day` +
            (t.ack ? " (relay_confirm included)" : ""),
        ),
      );
      const backupDays = cluster?.backupDays ?? 1;
      const changedGbPerDay =
        (t.ordersPerSecond *
          86400 *
          (a.outboxRowBytes +
            a.outboxIndexBytes +
            a.markRedoBytesPerRow +
            a.purgeRedoBytesPerRow)) /
        1e9;
      items.push(
        line(
          r,
          "Aurora",
          `backup storage beyond the free amount (${backupDays} d retention)`,
          Math.max(0, backupDays - 1) * changedGbPerDay,
          priceOf(prices, "aurora.backup", r),
          backupDays <= 1
            ? "1 day of backups fits the free amount (= cluster volume)"
            : `(${backupDays} − 1) days × ${fmt(changedGbPerDay, 3)} GB of changes a day`,
        ),
      );
      // Aurora → Lambda: the endpoint, or the VPC's NAT gateway.
      const heartbeatBytes = (a.httpOverheadBytesPerCall + 500) / 60;
      const lambdaBytesGb = ((t.endpointBytes + heartbeatBytes) * SECONDS_PER_MONTH) / 1e9;
      items.push(
        line(
          r,
          "VPC",
          region.lambdaAccess === "endpoint"
            ? "Lambda endpoint data processed (lambda_async)"
            : "NAT gateway data processed (lambda_async; gateway hours not this stack's)",
          lambdaBytesGb,
          priceOf(
            prices,
            region.lambdaAccess === "endpoint" ? "vpc.endpoint.interface.gb" : "nat.gb",
            r,
          ),
          `${fmt(t.notifyInvocations * 86400)} calls a day of ≤ ${t.effectiveBatchSize} records × ${a.rowBytes + a.recordOverheadBytes} B + ${a.httpOverheadBytesPerCall} B per call`,
        ),
      );
      const notify = region.functions.find((f) => f.role === "notify")!;
      const heartbeatMs =
        Math.ceil(lambdaCpuScale(notify.memoryMb, a) * measured.heartbeat.ownMs) / 60;
      const heartbeatLog = (a.platformLogBytesPerInvocation + measured.heartbeat.logBytes) / 60;
      items.push(
        ...lambdaLines(
          r,
          notify,
          t.notifyInvocations + 1 / 60,
          t.notifyBilledMs + heartbeatMs,
          t.notifyLogBytes + heartbeatLog,
          prices,
          a,
          `${fmt(t.notifyInvocations * 86400)} dispatch calls + 1,440 heartbeats a day`,
        ),
      );
      trace(notify, t.notifyInvocations + 1 / 60);
      const regionalRequests =
        t.regionalSendRequests +
        t.regionalReceiveRequests +
        t.regionalEmptyReceives +
        t.regionalDeleteRequests;
      items.push(
        line(
          r,
          "SQS",
          "regional queue requests (standard)",
          regionalRequests * SECONDS_PER_MONTH,
          priceOf(prices, "sqs.standard.request", r),
          `a day: ${fmt(t.regionalSendRequests * 86400)} sends, ${fmt(t.regionalReceiveRequests * 86400)} receives, ${fmt(t.regionalEmptyReceives * 86400)} empty polls, ${fmt(t.regionalDeleteRequests * 86400)} deletes`,
        ),
      );
      sqsPerSecond += regionalRequests + t.aggregatorSendRequests;
      invocationsPerSecond += t.notifyInvocations + t.forwarderInvocations;
      const forwarder = region.functions.find((f) => f.role === "forwarder");
      if (forwarder) {
        items.push(
          ...lambdaLines(
            r,
            forwarder,
            t.forwarderInvocations,
            t.forwarderBilledMs,
            t.forwarderLogBytes,
            prices,
            a,
            `${fmt(t.forwarderInvocations * 86400)} event-source batches a day`,
          ),
        );
        trace(forwarder, t.forwarderInvocations);
        if (t.crossRegionBytes > 0) {
          items.push(
            line(
              r,
              "Data transfer",
              `forwarder → aggregator (${forwarder.aggregatorRegion})`,
              (t.crossRegionBytes * SECONDS_PER_MONTH) / 1e9,
              priceOf(prices, "transfer.interRegion", r),
              `${msgBytes} B per order + ${a.httpOverheadBytesPerCall} B per call, inter-region`,
            ),
          );
        }
      }
      if (t.ack) {
        const ackFn = region.functions.find((f) => f.role === "ack")!;
        const ackRequests =
          t.ack.sendRequests + t.ack.receiveRequests + t.ack.emptyReceives + t.ack.deleteRequests;
        items.push(
          line(
            r,
            "SQS",
            "ack queue requests (standard)",
            ackRequests * SECONDS_PER_MONTH,
            priceOf(prices, "sqs.standard.request", r),
            `a day: ${fmt(t.ack.messages * 86400)} acks sent by the DC (one per DC batch), received, deleted; ${fmt(t.ack.emptyReceives * 86400)} empty polls`,
          ),
          ...lambdaLines(
            r,
            ackFn,
            t.ack.invocations,
            t.ack.billedMs,
            t.ack.logBytes,
            prices,
            a,
            `${fmt(t.ack.invocations * 86400)} event-source batches a day (window ${ackFn.source?.windowSeconds ?? 0} s)`,
          ),
        );
        sqsPerSecond += ackRequests;
        invocationsPerSecond += t.ack.invocations;
        trace(ackFn, t.ack.invocations);
        if (!measured.ack) {
          notes.push(
            `${r}: the ack handler's own time is taken as the forwarder's (not measured yet) + ${a.ackDbCallMs} ms for relay_confirm`,
          );
        }
      }
    }
    // The aggregator's region: its FIFO queue, read by the DC.
    const aggregatorQueue = region.queues.find((q) => /-aggregator(\.fifo)?$/.test(q.name));
    if (aggregatorQueue) {
      const sends = [...traffic.values()].reduce((s, x) => s + x.aggregatorSendRequests, 0);
      const calls = [...traffic.values()].reduce((s, x) => s + x.aggregatorSendCalls, 0);
      const orders = [...traffic.values()].reduce((s, x) => s + x.ordersPerSecond, 0);
      const idle = a.dcConsumers / a.dcWaitSeconds;
      const receives = [...traffic.values()].reduce((s, x) => s + x.aggregatorSendRequests, 0);
      const requests = sends + receives + idle + calls;
      sqsPerSecond += receives + idle + calls;
      items.push(
        line(
          r,
          "SQS",
          `aggregator queue requests (${aggregatorQueue.fifo ? "FIFO" : "standard"})`,
          requests * SECONDS_PER_MONTH,
          priceOf(prices, aggregatorQueue.fifo ? "sqs.fifo.request" : "sqs.standard.request", r),
          `a day: ${fmt(sends * 86400)} forwarder sends, ${fmt(receives * 86400)} DC receives, ${fmt(idle * 86400)} empty polls (${a.dcConsumers} DC consumer), ${fmt(calls * 86400)} deletes`,
        ),
        line(
          r,
          "Data transfer",
          "aggregator → DC (internet egress)",
          ((orders * msgBytes + (receives + idle) * a.httpOverheadBytesPerCall) *
            SECONDS_PER_MONTH) /
            1e9,
          priceOf(prices, "transfer.internet", r),
          `${msgBytes} B per order + ${a.httpOverheadBytesPerCall} B per receive; Direct Connect would be cheaper`,
        ),
      );
    }
    items.push(...xrayLine(r, traced, prices));
    items.push(...observabilityLines(region, prices, a));
    const role = [region.relay ? "relay" : "", aggregatorQueue ? "aggregator" : ""]
      .filter(Boolean)
      .join(" + ");
    return {
      region: r,
      role: role || "other",
      ordersPerDay: (rates.get(r) ?? 0) * 86400,
      items,
      usd: items.reduce((s, i) => s + i.usd, 0),
    };
  });
  for (const region of plan) {
    for (const fn of region.functions.filter((f) => f.role === "unknown")) {
      notes.push(
        `${region.region}: function ${fn.name} has no role the cost model knows — its traffic is not counted`,
      );
    }
  }
  const orders = options.ordersPerDay / 86400;
  return summary(
    "relay",
    run,
    options,
    regions,
    {
      sqsCalls: orders > 0 ? sqsPerSecond / orders : 0,
      lambdaInvocations: orders > 0 ? invocationsPerSecond / orders : 0,
    },
    a,
    measured,
    prices,
    notes,
  );
}

/** Alarms, custom metrics, dashboards, KMS keys and SNS of one region (relay design only). */
function observabilityLines(
  region: PlannedRegion,
  prices: PriceTable,
  a: CostAssumptions,
): LineItem[] {
  const r = region.region;
  const items: LineItem[] = [];
  const standard = region.alarms.filter((x) => !x.highResolution);
  const high = region.alarms.filter((x) => x.highResolution);
  if (standard.length > 0) {
    const metrics = standard.reduce((s, x) => s + x.metrics, 0);
    const percentiles = standard.filter((x) => x.percentile).length;
    items.push(
      line(
        r,
        "CloudWatch",
        `alarms, standard resolution (${standard.length})`,
        metrics,
        priceOf(prices, "cloudwatch.alarm.standard", r),
        `${metrics} alarm metrics (period ≥ 60 s)` +
          (percentiles ? `; ${percentiles} on a percentile, priced like any standard alarm` : ""),
      ),
    );
  }
  if (high.length > 0) {
    const metrics = high.reduce((s, x) => s + x.metrics, 0);
    items.push(
      line(
        r,
        "CloudWatch",
        `alarms, high resolution (${high.length})`,
        metrics,
        priceOf(prices, "cloudwatch.alarm.highResolution", r),
        `${metrics} alarm metrics (period < 60 s)`,
      ),
    );
  }
  const services = new Set<string | undefined>(
    region.functions
      .map((f) =>
        f.role === "notify"
          ? SERVICE.notify
          : f.role === "forwarder"
            ? SERVICE.forwarder
            : f.role === "ack"
              ? ACK_SERVICE
              : undefined,
      )
      .filter(Boolean),
  );
  const published = Object.values(METRIC).filter((m) => services.has(METRIC_PUBLISHER[m]));
  if (published.length > 0) {
    items.push(
      line(
        r,
        "CloudWatch",
        `custom metrics (${published.length} names × ${METRIC_DIMENSION_SETS} dimension set)`,
        published.length * METRIC_DIMENSION_SETS,
        priceOf(prices, "cloudwatch.metric", r),
        `EMF from ${[...services].join(", ")}: ${published.join(", ")}`,
      ),
    );
  }
  if (region.dashboards > 0) {
    items.push(
      line(
        r,
        "CloudWatch",
        `dashboards (${region.dashboards})`,
        region.dashboards,
        priceOf(prices, "cloudwatch.dashboard", r),
        "per dashboard-month (the account's 3 free not applied)",
      ),
    );
  }
  if (region.kmsKeys > 0) {
    items.push(
      line(
        r,
        "KMS",
        `customer managed keys (${region.kmsKeys})`,
        region.kmsKeys,
        priceOf(prices, "kms.key", r),
        "aws:kms/key:Key in the plan (alarm topic encryption)",
      ),
      line(
        r,
        "KMS",
        "key requests (alarm notifications)",
        region.topics * a.alarmNotificationsPerMonth * 2,
        priceOf(prices, "kms.request", r),
        `${a.alarmNotificationsPerMonth} notifications per topic × 2 (GenerateDataKey, Decrypt)`,
      ),
    );
  }
  if (region.topics > 0) {
    items.push(
      line(
        r,
        "SNS",
        `alarm topic publishes (${region.topics} topics)`,
        region.topics * a.alarmNotificationsPerMonth,
        priceOf(prices, "sns.publish", r),
        `${a.alarmNotificationsPerMonth} alarm notifications per topic per month`,
      ),
    );
    if (region.emailSubscriptions > 0) {
      items.push(
        line(
          r,
          "SNS",
          `email deliveries (${region.emailSubscriptions} subscriptions)`,
          region.emailSubscriptions * a.alarmNotificationsPerMonth,
          priceOf(prices, "sns.email", r),
          "alarms.email: one email per notification",
        ),
      );
    }
  }
  return items;
}

/**
 * The seed article's design (seeds/000) on the same clusters at the same volume: the trigger
 * calls lambda_async once per order inside the INSERT (no outbox, no dispatch, no purge), the
 * function sends one SendMessage per order straight to a standard queue in the aggregator's
 * region, the DC receives one message per call and deletes it: 1 invocation and 3 SQS calls per
 * order (bench measured 3.001). No alarms, metrics, tracing, DLQs or regional queues — as built.
 */
export function estimateSeedCost(run: OfflineRun, options: CostOptions): CostEstimate {
  const { prices, measured, a } = resolveOptions(options);
  const plan = describePlan(run);
  const rates = ratesByRegion(plan, options.ordersPerDay);
  const notes: string[] = [];
  const msgBytes = messageBytesFor(measured, a);
  const aggregatorRegion =
    plan.find((p) => p.queues.some((q) => /-aggregator(\.fifo)?$/.test(q.name)))?.region ??
    plan[0]?.region;
  const regions = plan.map((region): RegionCost => {
    const r = region.region;
    const items = baseLines(region, prices, a, notes);
    const rate = rates.get(r) ?? 0;
    if (region.relay) {
      const notify = region.functions.find((f) => f.role === "notify")!;
      const rtt = sqsCallRttMs(r, aggregatorRegion);
      const billedMs = Math.ceil(
        lambdaCpuScale(notify.memoryMb, a) *
          (measured.notify.fixedMs + measured.notify.perRecordMs) +
          rtt,
      );
      const seedFn: PlannedFunction = { ...notify, tracing: false };
      items.push(
        line(
          r,
          "VPC",
          region.lambdaAccess === "endpoint"
            ? "Lambda endpoint data processed (lambda_async per order)"
            : "NAT gateway data processed (lambda_async per order)",
          (rate *
            (a.rowBytes + a.recordOverheadBytes + a.httpOverheadBytesPerCall) *
            SECONDS_PER_MONTH) /
            1e9,
          priceOf(
            prices,
            region.lambdaAccess === "endpoint" ? "vpc.endpoint.interface.gb" : "nat.gb",
            r,
          ),
          `1 call per order × ${a.rowBytes + a.recordOverheadBytes + a.httpOverheadBytesPerCall} B`,
        ),
        ...lambdaLines(
          r,
          seedFn,
          rate,
          rate * billedMs,
          rate *
            (a.platformLogBytesPerInvocation +
              measured.notify.logFixedBytes +
              measured.notify.logPerRecordBytes),
          prices,
          a,
          "1 invocation per order",
        ),
      );
      if (r !== aggregatorRegion) {
        items.push(
          line(
            r,
            "Data transfer",
            `function → DC queue (${aggregatorRegion})`,
            (rate * (msgBytes + a.httpOverheadBytesPerCall) * SECONDS_PER_MONTH) / 1e9,
            priceOf(prices, "transfer.interRegion", r),
            `${msgBytes} B + ${a.httpOverheadBytesPerCall} B per order (one SendMessage each), inter-region`,
          ),
        );
      }
    }
    if (r === aggregatorRegion) {
      const orders = options.ordersPerDay / 86400;
      const idle = a.dcConsumers / a.dcWaitSeconds;
      items.push(
        line(
          r,
          "SQS",
          "DC queue requests (standard, as the seed)",
          (3 * orders + idle) * SECONDS_PER_MONTH,
          priceOf(prices, "sqs.standard.request", r),
          "per order: SendMessage, ReceiveMessage (1 message), DeleteMessage; + empty polls",
        ),
        line(
          r,
          "Data transfer",
          "DC queue → DC (internet egress)",
          ((orders * (msgBytes + a.httpOverheadBytesPerCall) + idle * a.httpOverheadBytesPerCall) *
            SECONDS_PER_MONTH) /
            1e9,
          priceOf(prices, "transfer.internet", r),
          `${msgBytes} B + ${a.httpOverheadBytesPerCall} B per order (one receive each)`,
        ),
      );
    }
    return {
      region: r,
      role: region.relay ? "seed trigger + function" : "DC queue",
      ordersPerDay: rate * 86400,
      items,
      usd: items.reduce((s, i) => s + i.usd, 0),
    };
  });
  notes.push(
    "seed: no outbox (the call happens inside the INSERT: a rolled-back order is still sent and a Lambda outage fails the storefront's INSERT), no purge (order_data grows without bound), no DLQs, alarms, metrics or tracing",
  );
  return summary(
    "seed",
    run,
    options,
    regions,
    { sqsCalls: 3, lambdaInvocations: 1 },
    a,
    measured,
    prices,
    notes,
  );
}

export interface SeedComparison {
  readonly relay: CostEstimate;
  readonly seed: CostEstimate;
  /** seed − relay per month (positive: the relay is cheaper). */
  readonly savingUsd: number;
  /** The same, counting only lines that differ (not the clusters, secret and endpoint hours). */
  readonly variable: { readonly relayUsd: number; readonly seedUsd: number };
  /** Per category: relay vs seed. */
  readonly byCategory: readonly { category: CostCategory; relayUsd: number; seedUsd: number }[];
  /**
   * The volume (orders/day) above which the relay costs less than the seed, when there is one
   * between 1,000 and 100,000,000 a day (`costOfRun` finds it).
   */
  readonly breakEvenOrdersPerDay?: number;
}

export function compareWithSeed(relay: CostEstimate, seed: CostEstimate): SeedComparison {
  const items = (e: CostEstimate) => e.regions.flatMap((r) => r.items);
  const categories = [...new Set([...items(relay), ...items(seed)].map((i) => i.category))];
  const sum = (list: readonly LineItem[]) => list.reduce((s, i) => s + i.usd, 0);
  return {
    relay,
    seed,
    savingUsd: seed.usd - relay.usd,
    variable: {
      relayUsd: sum(items(relay).filter((i) => !i.sharedWithSeed)),
      seedUsd: sum(items(seed).filter((i) => !i.sharedWithSeed)),
    },
    byCategory: categories.map((category) => ({
      category,
      relayUsd: sum(items(relay).filter((i) => i.category === category)),
      seedUsd: sum(items(seed).filter((i) => i.category === category)),
    })),
  };
}

// ---------------------------------------------------------------------------------------------
// Rendering.

const usd = (n: number) =>
  n >= 100
    ? `$${fmt(n, 0)}`
    : n >= 1
      ? `$${n.toFixed(2)}`
      : n >= 0.01
        ? `$${n.toFixed(3)}`
        : n > 0
          ? `$${n.toFixed(4)}`
          : "$0";

function quantityText(q: number): string {
  if (q === 0) return "0";
  if (q >= 1e6) return `${fmt(q / 1e6, 2)} M`;
  if (q >= 100) return fmt(q, 0);
  if (q >= 1) return fmt(q, 2);
  return q.toPrecision(2);
}

function priceText(p: LineItem["price"], unit: string): string {
  const per = p.per === 1 ? unit : `${fmt(p.per)} ${unit}s`;
  const figure = p.usd < 0.01 ? p.usd.toPrecision(3) : p.usd.toFixed(p.usd < 1 ? 3 : 2);
  return `$${figure}/${per}${p.fallback ? ` (${p.region} price: fallback)` : ""}${p.derivedFrom ? ` (${p.derivedFrom})` : ""}`;
}

/** The estimate as a readable text table: per region, total, the seed beside it. */
export function formatCost(comparison: SeedComparison): string {
  const { relay, seed } = comparison;
  const lines: string[] = [
    `Monthly cost of stack ${relay.stack} at ${fmt(relay.ordersPerDay)} orders/day (${HOURS_PER_MONTH} h month, on-demand list prices, USD)`,
  ];
  for (const region of relay.regions) {
    lines.push(
      "",
      `Region ${region.region} (${region.role}${region.ordersPerDay ? `, ${fmt(region.ordersPerDay)} orders/day` : ""}): ${usd(region.usd)}`,
    );
    const width = Math.max(...region.items.map((i) => i.item.length), 10);
    for (const item of [...region.items].sort((x, y) => y.usd - x.usd)) {
      lines.push(
        `  ${usd(item.usd).padStart(9)}  ${item.category.padEnd(15)} ${item.item.padEnd(width)}  ${quantityText(item.quantity).padStart(9)} ${item.unit.padEnd(18)} @ ${priceText(item.price, item.unit)}`,
        `  ${"".padStart(9)}  ${"".padEnd(15)} ${"".padEnd(width)}  ↳ ${item.basis}`,
      );
    }
  }
  lines.push("", `Total: ${usd(relay.usd)} a month  (${usd(relay.usd / DAYS_PER_MONTH)} a day)`);
  const perOrder = relay.ordersPerDay > 0 ? relay.usd / (relay.ordersPerDay * DAYS_PER_MONTH) : 0;
  if (relay.ordersPerDay > 0) lines.push(`       ${usd(perOrder * 1000)} per 1,000 orders, all in`);
  lines.push(
    `Traffic the model derives at this volume: ${relay.perOrder.sqsCalls.toFixed(3)} SQS calls and ${relay.perOrder.lambdaInvocations.toFixed(3)} Lambda invocations per order`,
    `  (bench measured ${BENCH_MEASURED.sqsCallsPerOrder} and ${BENCH_MEASURED.lambdaInvocationsPerOrder} at ${BENCH_MEASURED.atOrdersPerSecondPerRegion} orders/s per region, where batches are full; seed: ${BENCH_MEASURED.seed.sqsCallsPerOrder} and ${BENCH_MEASURED.seed.lambdaInvocationsPerOrder})`,
    "",
    `The seed design at the same volume (1 invocation + 3 SQS calls per order, no outbox): ${usd(seed.usd)} a month`,
  );
  const catWidth = Math.max(...comparison.byCategory.map((c) => c.category.length));
  lines.push(`  ${"".padEnd(catWidth)}  ${"relay".padStart(9)}  ${"seed".padStart(9)}`);
  for (const c of comparison.byCategory) {
    lines.push(
      `  ${c.category.padEnd(catWidth)}  ${usd(c.relayUsd).padStart(9)}  ${usd(c.seedUsd).padStart(9)}`,
    );
  }
  lines.push(
    `  ${"total".padEnd(catWidth)}  ${usd(relay.usd).padStart(9)}  ${usd(seed.usd).padStart(9)}`,
    `  without the lines both pay alike (clusters, master secret, endpoint hours): relay ${usd(comparison.variable.relayUsd)}, seed ${usd(comparison.variable.seedUsd)}`,
    comparison.savingUsd >= 0
      ? `  saving of the relay over the seed: ${usd(comparison.savingUsd)} a month`
      : `  the relay costs ${usd(-comparison.savingUsd)} a month more than the seed at this volume, mostly ${comparison.byCategory
          .map((c) => ({ ...c, more: c.relayUsd - c.seedUsd }))
          .filter((c) => c.more > 0)
          .sort((a, b) => b.more - a.more)
          .slice(0, 3)
          .map((c) => `${c.category} (+${usd(c.more)})`)
          .join(", ")}`,
  );
  if (comparison.breakEvenOrdersPerDay !== undefined) {
    lines.push(
      `  break-even: above ~${fmt(comparison.breakEvenOrdersPerDay, 0)} orders/day the relay costs less than the seed`,
    );
  }
  lines.push("", "Assumptions:");
  for (const [key, value] of Object.entries(relay.assumptions)) {
    lines.push(`  ${key} = ${value}  — ${ASSUMPTION_NOTES[key as keyof CostAssumptions]}`);
  }
  const m = relay.measured;
  lines.push(
    `  measured on this machine (${m.command}${m.measuredAt ? `, ${m.measuredAt}` : ""}): CPU ms on one core, notify ${m.notify.fixedMs} + ${m.notify.perRecordMs}/record, forwarder ${m.forwarder.fixedMs} + ${m.forwarder.perRecordMs}/record (× ${relay.assumptions.lambdaVcpuMemoryMb}/memory in Lambda), + ${RTT_MS.same} ms per SQS call in region, ${RTT_MS["ap-northeast-1|us-west-2"]}/${RTT_MS["ap-northeast-1|eu-west-1"]} ms to ap-northeast-1 from us-west-2/eu-west-1 (stated round trips)`,
    "",
    `Prices: ${relay.prices.provenance}`,
    `  ${relay.prices.unverified} of the prices used are unverified (offline/prices.json, verified: false).`,
  );
  if (relay.prices.fallbacks.length) {
    lines.push(`  Fallback (highest listed price) for: ${relay.prices.fallbacks.join(", ")}`);
  }
  lines.push("", "Not counted:");
  for (const item of relay.notCounted) lines.push(`  - ${item}`);
  const notes = [...new Set([...relay.notes, ...seed.notes])];
  if (notes.length) {
    lines.push("", "Notes:");
    for (const note of notes) lines.push(`  - ${note}`);
  }
  return lines.join("\n");
}

const round = (n: number, digits = 4) => Math.round(n * 10 ** digits) / 10 ** digits;

/** The estimate as a plain object for `--json` (`cost` key of the plan's JSON). */
export function costJson(comparison: SeedComparison): Record<string, unknown> {
  const regions = (e: CostEstimate) =>
    e.regions.map((r) => ({
      region: r.region,
      role: r.role,
      ordersPerDay: round(r.ordersPerDay, 2),
      usd: round(r.usd),
      items: r.items.map((i) => ({
        category: i.category,
        item: i.item,
        quantity: round(i.quantity, 6),
        unit: i.unit,
        usd: round(i.usd, 6),
        price: i.price,
        basis: i.basis,
        ...(i.sharedWithSeed ? { sharedWithSeed: true } : {}),
      })),
    }));
  const { relay, seed } = comparison;
  return {
    currency: "USD",
    period: `month (${HOURS_PER_MONTH} h)`,
    ordersPerDay: relay.ordersPerDay,
    usd: round(relay.usd),
    regions: regions(relay),
    perOrder: {
      sqsCalls: round(relay.perOrder.sqsCalls),
      lambdaInvocations: round(relay.perOrder.lambdaInvocations),
    },
    benchMeasured: BENCH_MEASURED,
    seed: {
      usd: round(seed.usd),
      regions: regions(seed),
      perOrder: seed.perOrder,
    },
    savingUsd: round(comparison.savingUsd),
    ...(comparison.breakEvenOrdersPerDay !== undefined
      ? { breakEvenOrdersPerDay: comparison.breakEvenOrdersPerDay }
      : {}),
    variable: {
      relayUsd: round(comparison.variable.relayUsd),
      seedUsd: round(comparison.variable.seedUsd),
    },
    byCategory: comparison.byCategory.map((c) => ({
      category: c.category,
      relayUsd: round(c.relayUsd),
      seedUsd: round(c.seedUsd),
    })),
    assumptions: relay.assumptions,
    measured: relay.measured,
    rttMs: RTT_MS,
    prices: relay.prices,
    notCounted: relay.notCounted,
    notes: [...new Set([...relay.notes, ...seed.notes])],
  };
}

/** Relay and seed at one volume, compared: what `plan --cost` prints. */
export function costOfRun(
  run: OfflineRun,
  options: CostOptions & { readonly breakEven?: boolean },
): SeedComparison {
  const resolved = resolveOptions(options);
  const fixed = { ...options, prices: resolved.prices, measured: resolved.measured };
  const comparison = compareWithSeed(estimateCost(run, fixed), estimateSeedCost(run, fixed));
  if (options.breakEven === false) return comparison;
  const breakEven = breakEvenOrdersPerDay(run, fixed);
  return breakEven === undefined ? comparison : { ...comparison, breakEvenOrdersPerDay: breakEven };
}

/**
 * The daily volume at which the seed starts to cost more than the relay (bisection on a log
 * scale between 10^3 and 10^8 orders/day), or undefined when the sign does not change there.
 */
export function breakEvenOrdersPerDay(run: OfflineRun, options: CostOptions): number | undefined {
  const saving = (ordersPerDay: number) => {
    const o = { ...options, ordersPerDay };
    return estimateSeedCost(run, o).usd - estimateCost(run, o).usd;
  };
  let lo = 3;
  let hi = 8;
  const atLo = saving(10 ** lo);
  const atHi = saving(10 ** hi);
  if (atLo >= 0 || atHi <= 0) return undefined;
  for (let i = 0; i < 20; i++) {
    const mid = (lo + hi) / 2;
    if (saving(10 ** mid) > 0) hi = mid;
    else lo = mid;
  }
  // Three significant figures: the model is not more precise than that.
  return Number((10 ** hi).toPrecision(3));
}
