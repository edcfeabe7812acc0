/**
 * Capacity piece 1: the notify and forwarder handlers' own time per invocation and per record,
 * and what they log, measured in-process on this machine: the real handlers
 * (`createNotifyHandler`, `createForwarderHandler`) with the real Powertools logger and metrics,
 * against the in-process SQS server (`emulators/sqs.ts`) holding the prod stack's queues
 * (`queueSpecs`), through the real `@aws-sdk/client-sqs`.
 *
 * The local SQS server answers in-process, so a handler's wall time here is its own work plus
 * the local server's work on its SendMessageBatch calls. A middleware on the handler's SQS client
 * times each call's HTTP exchange (request sent → response parsed), and that time is subtracted:
 * `ownMs` is the handler's own time (validation, SDK serialisation and signing, Powertools) without
 * the round trips. In AWS each call costs its network round trip instead, which the cost and
 * capacity models add per call (offline/cost.ts `sqsCallRttMs`).
 */
import type { SQSClient } from "@aws-sdk/client-sqs";
import { readStackFile, stackFilePath } from "../config/load";
import { queueSpecs } from "../config/names";
import { parseConfig } from "../config/schema";
import { toRelayMessage, type RelayEnvelope, type RelayRecord } from "../contract/envelope";
import { SERVICE } from "../contract/metrics";
import { createQueuesFromSpecs, pollEventSourceOnce, startLocalSqs } from "../emulators/sqs";
import { ackMessages } from "../contract/ack";
import { createAckHandler } from "../lambda/ack";
import { createForwarderHandler } from "../lambda/forwarder";
import { createNotifyHandler } from "../lambda/notify";
import { createLogger, createMetrics } from "../lambda/lib/observability";
import { relayEntry } from "../lambda/lib/relay";
import type { SqsBatchResponse, SqsEvent } from "../lambda/lib/sqs-event";
import { orderRow } from "./capacity-rows";
import { linearFit, median, round } from "./util";

export interface HandlerPoint {
  /** Records per invocation. */
  readonly records: number;
  readonly invocations: number;
  /** Median wall time of one invocation, SQS server time included (ms). */
  readonly wallMs: number;
  /** Median time of the same invocation's SQS calls made bare (ms). */
  readonly sqsMs: number;
  /** wallMs − sqsMs: the handler's own time (ms). */
  readonly ownMs: number;
  /** SendMessageBatch calls per invocation. */
  readonly sqsCalls: number;
  /** Bytes written to stdout per invocation (JSON logs + EMF metric documents). */
  readonly logBytes: number;
}

export interface HandlerFit {
  /** Own time per invocation = fixedMs + perRecordMs × records. */
  readonly fixedMs: number;
  readonly perRecordMs: number;
  readonly r2: number;
  /** Log bytes per invocation = logFixedBytes + logPerRecordBytes × records. */
  readonly logFixedBytes: number;
  readonly logPerRecordBytes: number;
  readonly points: readonly HandlerPoint[];
}

export interface HandlerFigures {
  readonly command: string;
  readonly rowBytes: number;
  /** Bytes of one relay message (body + attributes) carrying a row of rowBytes. */
  readonly messageBytes: number;
  readonly notify: HandlerFit;
  readonly forwarder: HandlerFit;
  /** A heartbeat invocation of notify: own time and log bytes. */
  readonly heartbeat: { readonly ownMs: number; readonly logBytes: number };
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

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number; bytes: number }> {
  const start = process.hrtime.bigint();
  const { value, bytes } = await captured(fn);
  return { value, ms: Number(process.hrtime.bigint() - start) / 1e6, bytes };
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
  const sqs = await startLocalSqs();
  const previousRegion = process.env.AWS_REGION;
  process.env.AWS_REGION = REGION;
  try {
    const client = sqs.client(REGION, { harness: true });
    const notifyClient = sqs.client(REGION);
    const forwarderClient = sqs.client(config.aggregator.region);
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
    const point = (
      records: number,
      samples: { wall: number; sqs: number; calls: number; bytes: number }[],
    ): HandlerPoint => {
      const wallMs = median(samples.map((x) => x.wall));
      const ownMs = median(samples.map((x) => x.wall - x.sqs));
      return {
        records,
        invocations: samples.length,
        wallMs: round(wallMs, 3),
        sqsMs: round(wallMs - ownMs, 3),
        ownMs: round(ownMs, 3),
        sqsCalls: median(samples.map((x) => x.calls)),
        logBytes: Math.round(median(samples.map((x) => x.bytes))),
      };
    };

    // notify: envelopes of 1, 10, 50 and 100 records (the prod plan's dispatchBatchSize is 100).
    const notifyPoints: HandlerPoint[] = [];
    for (const n of [1, 10, 50, 100]) {
      const samples = [];
      for (let r = 0; r < reps + 5; r++) {
        const env = envelope(n);
        notifyCalls.take();
        const run = await timed(() => notify(env));
        const calls = notifyCalls.take();
        if (r >= 5)
          samples.push({ wall: run.ms, sqs: calls.ms, calls: calls.calls, bytes: run.bytes });
      }
      notifyPoints.push(point(n, samples));
      log(`  notify ${n} records: ${JSON.stringify(notifyPoints.at(-1))}`);
    }

    // heartbeat: notify's once-a-minute status, metrics only.
    const beats: { wall: number; sqs: number; calls: number; bytes: number }[] = [];
    for (let r = 0; r < reps; r++) {
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
      beats.push({ wall: beat.ms, sqs: 0, calls: 0, bytes: beat.bytes });
    }
    const heartbeat = point(0, beats);

    // forwarder: event-source batches of 1, 5 and 10 from the regional queue (filled by notify).
    const forwarderPoints: HandlerPoint[] = [];
    for (const n of [1, 5, 10]) {
      const samples = [];
      for (let r = 0; r < reps + 5; r++) {
        let sample: { wall: number; sqs: number; calls: number; bytes: number } | undefined;
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
            sample = { wall: run.ms, sqs: calls.ms, calls: calls.calls, bytes: run.bytes };
            return run.value as SqsBatchResponse;
          },
        });
        if (result.received !== n || !sample) {
          // The regional queue ran low: refill it through notify and repeat this repetition.
          await captured(() => notify(envelope(100)));
          r--;
          continue;
        }
        if (r >= 5) samples.push(sample);
      }
      forwarderPoints.push(point(n, samples));
      log(`  forwarder ${n} records: ${JSON.stringify(forwarderPoints.at(-1))}`);
    }

    // ack: event-source batches of 1, 5 and 10 ack messages (each confirming 10 outbox ids).
    const calls: string[] = [];
    const ack = createAckHandler({
      connect: async () => ({
        query: async (sql: string) => {
          calls.push(sql);
          return [];
        },
        end: async () => {},
      }),
      logger: createLogger(SERVICE.ack),
      metrics: createMetrics(SERVICE.ack),
    });
    const ackPoints: HandlerPoint[] = [];
    let ackId = 1;
    for (const n of [1, 5, 10]) {
      const samples = [];
      for (let r = 0; r < reps + 5; r++) {
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
        if (r >= 5) samples.push({ wall: run.ms, sqs: 0, calls: 0, bytes: run.bytes });
      }
      ackPoints.push(point(n, samples));
      log(`  ack ${n} messages: ${JSON.stringify(ackPoints.at(-1))}`);
    }

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
    await sqs.close();
  }
}
