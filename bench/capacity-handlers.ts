/**
 * Capacity piece 1: the notify and forwarder handlers' own time per invocation and per record,
 * and what they log, measured in-process on this machine: the real handlers
 * (`createNotifyHandler`, `createForwarderHandler`) with the real Powertools logger and metrics,
 * against the in-process SQS server (`emulators/sqs.ts`) holding the prod stack's queues
 * (`queueSpecs`), through the real `@aws-sdk/client-sqs`.
 *
 * The local SQS server runs in a process of its own (bench/capacity-sqs-server.ts), so the CPU
 * time this process spends in one invocation (`process.cpuUsage()`) is the handler's own work —
 * validation, SDK serialisation and signing, Powertools logs and metrics — without the server's:
 * that is `ownMs`, CPU milliseconds on one full core of this machine. Wall time and the time of
 * the SQS calls (a middleware on the handler's client times each HTTP exchange) are recorded too.
 * In AWS a handler gets a share of a vCPU in proportion to its memory and each SQS call costs a
 * network round trip; the cost and capacity models add both (offline/cost.ts `lambdaCpuScale`,
 * `sqsCallRttMs`). Sizes are measured interleaved, round after round, so a noisy neighbour on
 * this shared machine affects them alike; the figure per size is the median.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { SQSClient } from "@aws-sdk/client-sqs";
import { readStackFile, stackFilePath } from "../config/load";
import { queueSpecs } from "../config/names";
import { parseConfig } from "../config/schema";
import { toRelayMessage, type RelayEnvelope, type RelayRecord } from "../contract/envelope";
import { SERVICE } from "../contract/metrics";
import { createQueuesFromSpecs, pollEventSourceOnce } from "../emulators/sqs";
import { ackMessages } from "../contract/ack";
import { createAckHandler } from "../lambda/ack";
import { createForwarderHandler } from "../lambda/forwarder";
import { createNotifyHandler } from "../lambda/notify";
import { createLogger, createMetrics } from "../lambda/lib/observability";
import { relayEntry } from "../lambda/lib/relay";
import type { SqsBatchResponse, SqsEvent } from "../lambda/lib/sqs-event";
import type { HandlerFit as CostHandlerFit, MeasuredHandlers } from "../offline/cost";
import { orderRow } from "./capacity-rows";
import { linearFit, median, round } from "./util";

export interface HandlerPoint {
  /** Records per invocation. */
  readonly records: number;
  readonly invocations: number;
  /** Median wall time of one invocation, the local SQS round trips included (ms). */
  readonly wallMs: number;
  /** Median wall time of its SQS calls (HTTP exchanges with the local server, ms). */
  readonly sqsMs: number;
  /** Median CPU time of this process during one invocation: the handler's own work (ms). */
  readonly ownMs: number;
  /** SendMessageBatch calls per invocation. */
  readonly sqsCalls: number;
  /** Bytes written to stdout per invocation (JSON logs + EMF metric documents). */
  readonly logBytes: number;
}

/** What offline/cost.ts reads of a fit, plus how well it fits and the points it came from. */
export interface HandlerFit extends CostHandlerFit {
  readonly r2: number;
  readonly points: readonly HandlerPoint[];
}

/**
 * The figures offline/cost.ts reads back from bench/capacity-results.json (`MeasuredHandlers`),
 * with the fits in full.
 */
export interface HandlerFigures extends MeasuredHandlers {
  readonly notify: HandlerFit;
  readonly forwarder: HandlerFit;
  /**
   * The ack handler with a stand-in connection that answers relay_confirm at once: its own time
   * per ack message (each confirming one DC batch of 10 ids); the CALL's time in Aurora is not in it.
   */
  readonly ack?: HandlerFit;
}

export const HANDLERS_COMMAND = "npx tsx bench/capacity.ts --only handlers";

const REGION = "us-west-2";

function record(i: number, rowBytes: number): RelayRecord {
  return {
    outboxId: 1_000_000 + i,
    table: "order_data",
    op: "UPSERT",
    key: { id: i },
    occurredAt: new Date(Date.now() - 800).toISOString(),
    row: orderRow(i, rowBytes),
  };
}

/** Runs `fn` with stdout/stderr captured; returns its result and the bytes written. */
async function captured<T>(fn: () => Promise<T>): Promise<{ value: T; bytes: number }> {
  let bytes = 0;
  const out = process.stdout.write;
  const err = process.stderr.write;
  const grab = (chunk: unknown, ...rest: unknown[]) => {
    bytes += typeof chunk === "string" ? Buffer.byteLength(chunk) : (chunk as Uint8Array).length;
    (rest.find((r) => typeof r === "function") as (() => void) | undefined)?.();
    return true;
  };
  process.stdout.write = grab as typeof process.stdout.write;
  process.stderr.write = grab as typeof process.stderr.write;
  try {
    return { value: await fn(), bytes };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

async function timed<T>(
  fn: () => Promise<T>,
): Promise<{ value: T; ms: number; cpuMs: number; bytes: number }> {
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const { value, bytes } = await captured(fn);
  const used = process.cpuUsage(cpu);
  return {
    value,
    ms: Number(process.hrtime.bigint() - start) / 1e6,
    cpuMs: (used.user + used.system) / 1000,
    bytes,
  };
}

/** Starts bench/capacity-sqs-server.ts; resolves with its endpoint and a stop function. */
async function startSqsServer(): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const root = join(__dirname, "..");
  const child = spawn(
    process.execPath,
    [
      join(root, "node_modules", "tsx", "dist", "cli.mjs"),
      join(__dirname, "capacity-sqs-server.ts"),
    ],
    { cwd: root, stdio: ["pipe", "pipe", "inherit"] },
  );
  const endpoint = await new Promise<string>((resolve, reject) => {
    let text = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      const line = text.split("\n")[0];
      if (text.includes("\n")) resolve(line.trim());
    });
    child.on("exit", (code) => reject(new Error(`local SQS server exited (${code})`)));
  });
  return {
    endpoint,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.stdin!.end();
        setTimeout(() => child.kill("SIGTERM"), 3000).unref();
      }),
  };
}

/** Adds a middleware that sums the time of every HTTP exchange the client makes. */
function timeCalls(client: SQSClient): { take(): { ms: number; calls: number } } {
  let ms = 0;
  let calls = 0;
  client.middlewareStack.add(
    (next) => async (args) => {
      const start = process.hrtime.bigint();
      try {
        return await next(args);
      } finally {
        ms += Number(process.hrtime.bigint() - start) / 1e6;
        calls++;
      }
    },
    { step: "finalizeRequest", priority: "low", name: "capacityBenchTimer" },
  );
  return {
    take: () => {
      const taken = { ms, calls };
      ms = 0;
      calls = 0;
      return taken;
    },
  };
}

function fit(points: HandlerPoint[]): HandlerFit {
  const xs = points.map((p) => p.records);
  const own = linearFit(
    xs,
    points.map((p) => p.ownMs),
  );
  const logs = linearFit(
    xs,
    points.map((p) => p.logBytes),
  );
  return {
    fixedMs: round(Math.max(0, own.intercept), 3),
    perRecordMs: round(Math.max(0, own.slope), 4),
    r2: round(own.r2, 3),
    logFixedBytes: Math.round(Math.max(0, logs.intercept)),
    logPerRecordBytes: round(Math.max(0, logs.slope), 1),
    points,
  };
}

export async function measureHandlers(
  options: { reps?: number; rowBytes?: number; log?: (line: string) => void } = {},
): Promise<HandlerFigures> {
  const reps = options.reps ?? 40;
  const rowBytes = options.rowBytes ?? 500;
  const log = options.log ?? (() => {});
  const file = readStackFile(stackFilePath("prod"), "prod");
  const config = parseConfig({ ...file.relay, namePrefix: `cap-${process.pid % 10000}` }, "prod");
  const sqs = await startSqsServer();
  const sqsClient = (region: string) =>
    new SQSClient({
      region,
      endpoint: sqs.endpoint,
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    });
  const previousRegion = process.env.AWS_REGION;
  process.env.AWS_REGION = REGION;
  try {
    const client = sqsClient(REGION);
    const notifyClient = sqsClient(REGION);
    const forwarderClient = sqsClient(config.aggregator.region);
    const notifyCalls = timeCalls(notifyClient);
    const forwarderCalls = timeCalls(forwarderClient);
    const queues = await createQueuesFromSpecs(client, queueSpecs(config));
    const regional = queues.regions[REGION]!.queue;
    const aggregator = queues.aggregator.queue;
    const noRetryDelay = { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 };
    const notify = createNotifyHandler({
      client: notifyClient,
      queueUrl: regional.url,
      logger: createLogger(SERVICE.notify),
      metrics: createMetrics(SERVICE.notify),
      retry: noRetryDelay,
    });
    const forwarder = createForwarderHandler({
      client: forwarderClient,
      aggregatorQueueUrl: aggregator.url,
      fifo: config.aggregator.fifo,
      logger: createLogger(SERVICE.forwarder),
      metrics: createMetrics(SERVICE.forwarder),
      retry: noRetryDelay,
    });
    let next = 0;
    const envelope = (n: number): RelayEnvelope => ({
      region: REGION,
      records: Array.from({ length: n }, () => record(next++, rowBytes)),
    });
    const sampleEntry = relayEntry(toRelayMessage(REGION, record(0, rowBytes)), { fifo: false });
    const messageBytes =
      Buffer.byteLength(sampleEntry.MessageBody ?? "") +
      Object.entries(sampleEntry.MessageAttributes ?? {}).reduce(
        (sum, [name, v]) =>
          sum + name.length + (v.DataType ?? "").length + (v.StringValue ?? "").length,
        0,
      );
    type Sample = { wall: number; cpu: number; sqs: number; calls: number; bytes: number };
    const point = (records: number, samples: Sample[]): HandlerPoint => ({
      records,
      invocations: samples.length,
      wallMs: round(median(samples.map((x) => x.wall)), 3),
      sqsMs: round(median(samples.map((x) => x.sqs)), 3),
      ownMs: round(median(samples.map((x) => x.cpu)), 3),
      sqsCalls: median(samples.map((x) => x.calls)),
      logBytes: Math.round(median(samples.map((x) => x.bytes))),
    });
    /** Runs `measure(size)` for every size in every round (order rotated), warm-up discarded. */
    const interleaved = async (
      sizes: readonly number[],
      measure: (size: number, round: number) => Promise<Sample | undefined>,
    ): Promise<Map<number, Sample[]>> => {
      const out = new Map<number, Sample[]>(sizes.map((n) => [n, []]));
      for (let r = 0; r < reps + 5; r++) {
        const order = sizes.map((_, i) => sizes[(i + r) % sizes.length]);
        for (const n of order) {
          const sample = await measure(n, r);
          if (sample && r >= 5) out.get(n)!.push(sample);
        }
      }
      return out;
    };

    // notify: envelopes of 1, 10, 50 and 100 records (the prod plan's dispatchBatchSize is 100).
    const notifySamples = await interleaved([1, 10, 50, 100], async (n) => {
      const env = envelope(n);
      notifyCalls.take();
      const run = await timed(() => notify(env));
      const calls = notifyCalls.take();
      return { wall: run.ms, cpu: run.cpuMs, sqs: calls.ms, calls: calls.calls, bytes: run.bytes };
    });
    const notifyPoints = [...notifySamples].map(([n, samples]) => point(n, samples));
    for (const p of notifyPoints) log(`  notify ${p.records} records: ${JSON.stringify(p)}`);

    // heartbeat: notify's once-a-minute status, metrics only.
    const beatSamples = await interleaved([0], async () => {
      const beat = await timed(() =>
        notify({
          region: REGION,
          heartbeat: {
            at: new Date().toISOString(),
            pending: 3,
            oldestPendingSeconds: 1,
            overdue: 0,
            consecutiveFailures: 0,
            quarantined: 0,
            purgeFailures: 0,
            backfillIncomplete: 0,
          },
        }),
      );
      return { wall: beat.ms, cpu: beat.cpuMs, sqs: 0, calls: 0, bytes: beat.bytes };
    });
    const heartbeat = point(0, beatSamples.get(0)!);

    // forwarder: event-source batches of 1, 5 and 10 from the regional queue (filled by notify).
    const forwarderSamples = await interleaved([1, 5, 10], async (n) => {
      for (;;) {
        let sample: Sample | undefined;
        const result = await pollEventSourceOnce({
          client,
          queueUrl: regional.url,
          queueArn: regional.arn,
          awsRegion: REGION,
          batchSize: n,
          waitTimeSeconds: 0,
          handler: async (event: SqsEvent) => {
            forwarderCalls.take();
            const run = await timed(() => forwarder(event));
            const calls = forwarderCalls.take();
            sample = {
              wall: run.ms,
              cpu: run.cpuMs,
              sqs: calls.ms,
              calls: calls.calls,
              bytes: run.bytes,
            };
            return run.value as SqsBatchResponse;
          },
        });
        if (result.received === n && sample) return sample;
        // The regional queue ran low: refill it through notify (not timed) and poll again.
        await captured(() => notify(envelope(100)));
      }
    });
    const forwarderPoints = [...forwarderSamples].map(([n, samples]) => point(n, samples));
    for (const p of forwarderPoints) log(`  forwarder ${p.records} records: ${JSON.stringify(p)}`);

    // ack: event-source batches of 1, 5 and 10 ack messages (each confirming 10 outbox ids),
    // relay_confirm answered at once by a stand-in connection.
    const ack = createAckHandler({
      connect: async () => ({ query: async () => [], end: async () => {} }),
      logger: createLogger(SERVICE.ack),
      metrics: createMetrics(SERVICE.ack),
    });
    let ackId = 1;
    const ackSamples = await interleaved([1, 5, 10], async (n, r) => {
      const event: SqsEvent = {
        Records: Array.from({ length: n }, (_, k) => {
          const ids = Array.from({ length: 10 }, () => ackId++);
          return {
            messageId: `ack-${r}-${n}-${k}`,
            receiptHandle: `rh-${r}-${n}-${k}`,
            body: JSON.stringify(ackMessages(REGION, ids, new Date())[0]),
            attributes: { ApproximateReceiveCount: "1" },
            messageAttributes: {},
            md5OfBody: "",
            eventSource: "aws:sqs",
            eventSourceARN: `arn:aws:sqs:${REGION}:123456789012:capacity-acks`,
            awsRegion: REGION,
          };
        }),
      };
      const run = await timed(() => ack(event));
      return { wall: run.ms, cpu: run.cpuMs, sqs: 0, calls: 0, bytes: run.bytes };
    });
    const ackPoints = [...ackSamples].map(([n, samples]) => point(n, samples));
    for (const p of ackPoints) log(`  ack ${p.records} messages: ${JSON.stringify(p)}`);

    return {
      command: HANDLERS_COMMAND,
      rowBytes,
      messageBytes,
      notify: fit(notifyPoints),
      forwarder: fit(forwarderPoints),
      heartbeat: { ownMs: heartbeat.ownMs, logBytes: heartbeat.logBytes },
      ack: fit(ackPoints),
    };
  } finally {
    if (previousRegion === undefined) delete process.env.AWS_REGION;
    else process.env.AWS_REGION = previousRegion;
    await sqs.stop();
  }
}
