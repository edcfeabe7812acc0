/**
 * In-process SQS-protocol server (local-aws-sqs, JSON protocol) for tests, benchmarks and the
 * local run, plus:
 *  - `createQueuesFromSpecs`: every queue of `queueSpecs(config)` created exactly as the program
 *    declares it (names, FIFO, attributes, redrive to the DLQ's ARN);
 *  - per-action call counts (the benchmark's "SQS calls per order");
 *  - fault injection (errors, dropped connections, per-entry batch failures) for failure tests;
 *  - `pollEventSourceOnce` / `startEventSource`: a stand-in for Lambda's SQS event source mapping.
 */
import { createHash } from "crypto";
import * as http from "http";
import type { AddressInfo } from "net";
import { Readable } from "stream";
import { createRequestHandler } from "local-aws-sqs";
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
  type Message,
} from "@aws-sdk/client-sqs";
import type { QueueSpec, RelayQueueSpecs } from "../config/names";
import type { SqsBatchResponse, SqsEvent, SqsRecord } from "../lambda/lib/sqs-event";

/** What a fault hook may do with one request. */
export type Fault =
  /** Answer with an SQS error (e.g. 400 RequestThrottled, 500 InternalError). */
  | {
      readonly kind: "error";
      readonly status: number;
      readonly code: string;
      readonly message?: string;
    }
  /** Drop the connection without answering (network outage / unreachable region). */
  | { readonly kind: "disconnect" }
  /** Batch actions only: fail the matching entries (the rest go to the real server). */
  | {
      readonly kind: "failEntries";
      readonly match: (entry: Record<string, unknown>) => boolean;
      readonly code?: string;
      readonly senderFault?: boolean;
    };

export interface SqsRequestInfo {
  readonly action: string;
  /** Queue name from the request's QueueUrl (undefined for e.g. ListQueues). */
  readonly queueName?: string;
  readonly body: Record<string, unknown>;
}

export type FaultHook = (request: SqsRequestInfo) => Fault | undefined;

export interface LocalSqs {
  /** http://127.0.0.1:<port> — set it as AWS_ENDPOINT_URL_SQS or pass as `endpoint`. */
  readonly endpoint: string;
  readonly port: number;
  /** Calls per action since start or the last `resetCalls()` (harness clients' calls excluded). */
  calls(): Record<string, number>;
  /** Calls per action made by harness clients (`client(region, { harness: true })`). */
  harnessCalls(): Record<string, number>;
  /** Long-poll ReceiveMessage calls (counted in `calls()`) that returned no message: idle polls. */
  emptyReceives(): number;
  /** Calls per queue name, then per action. */
  callsByQueue(): Record<string, Record<string, number>>;
  resetCalls(): void;
  /** Installs (or with undefined removes) a fault hook consulted for every request. */
  setFault(hook: FaultHook | undefined): void;
  /**
   * An SDK client pointed at this server with dummy credentials. `harness: true` marks its calls
   * (queue set-up, progress monitoring) so they are counted apart from the system under test.
   */
  client(region?: string, options?: { harness?: boolean }): SQSClient;
  close(): Promise<void>;
}

export interface StartLocalSqsOptions {
  /** Default 0: a free port chosen by the OS. */
  readonly port?: number;
  /** Cosmetic region in queue ARNs (default us-east-1). */
  readonly region?: string;
  /**
   * Emulate SQS FIFO's 5-minute deduplication window: local-aws-sqs forgets a
   * MessageDeduplicationId as soon as the message is deleted, AWS remembers it for 5 minutes.
   * When on, a send to a `.fifo` queue whose dedup id was accepted within the window is answered
   * as accepted (the original MessageId) and not enqueued. Keyed by queue + dedup id (exact for
   * DeduplicationScope=queue; for messageGroup scope exact when the group id is the dedup id, as
   * in this project). @default false
   */
  readonly emulateFifoDedupWindow?: boolean;
}

/** Request header that marks a harness client's call (not counted in `calls()`). */
const HARNESS_HEADER = "x-local-sqs-harness";

/** How often a waiting long poll re-checks its queue when no send woke it (ms). */
const LONG_POLL_RECHECK_MS = 100;

/** SQS FIFO deduplication interval. */
const FIFO_DEDUP_WINDOW_MS = 5 * 60 * 1000;

function queueNameOf(queueUrl: unknown): string | undefined {
  if (typeof queueUrl !== "string") return undefined;
  try {
    const parts = new URL(queueUrl).pathname.split("/").filter(Boolean);
    return parts[parts.length - 1];
  } catch {
    return queueUrl;
  }
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Runs the library's handler against a stand-in response and returns what it answered. */
function capture(
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>,
  req: http.IncomingMessage,
): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    const fake = {
      statusCode: 200,
      headersSent: false,
      setHeader(name: string, value: string) {
        headers[name.toLowerCase()] = String(value);
      },
      end(chunk?: unknown) {
        resolve({
          status: fake.statusCode,
          headers,
          body: chunk === undefined ? "" : String(chunk),
        });
      },
    };
    handler(req, fake as unknown as http.ServerResponse).catch(reject);
  });
}

/** Starts local-aws-sqs on 127.0.0.1 (free port). Queue creation is immediate (no AWS delays). */
export async function startLocalSqs(options: StartLocalSqsOptions = {}): Promise<LocalSqs> {
  const { service, requestHandler } = createRequestHandler({
    port: options.port ?? 0,
    hostname: "127.0.0.1",
    region: options.region ?? "us-east-1",
    // AWS makes you wait 60 s to re-create a deleted queue name and 1 s before a new queue is
    // usable; neither adds anything to our tests but time.
    emulateQueueCreationLifecycle: false,
    emulateLazyQueues: false,
  });
  const counts = new Map<string, number>();
  const harnessCounts = new Map<string, number>();
  let emptyReceives = 0;
  const byQueue = new Map<string, Map<string, number>>();
  let fault: FaultHook | undefined;
  const sockets = new Set<import("net").Socket>();
  /** `<queue>\0<dedup id>` → accepted MessageId and when (emulateFifoDedupWindow). */
  const dedupSeen = new Map<string, { messageId: string; at: number }>();
  const dedupKey = (queue: string, id: unknown) => `${queue}\0${String(id)}`;
  const seenRecently = (queue: string, id: unknown) => {
    if (typeof id !== "string" || id === "") return undefined;
    const hit = dedupSeen.get(dedupKey(queue, id));
    if (!hit) return undefined;
    if (Date.now() - hit.at > FIFO_DEDUP_WINDOW_MS) {
      dedupSeen.delete(dedupKey(queue, id));
      return undefined;
    }
    return hit;
  };
  // Long polls waiting on a queue: woken by a send to it (AWS answers a long poll as soon as a
  // message arrives), else re-checked every LONG_POLL_RECHECK_MS (visibility timeouts expiring).
  const waiters = new Map<string, Set<() => void>>();
  const wake = (queue: string | undefined) => {
    const set = queue ? waiters.get(queue) : undefined;
    if (!set) return;
    waiters.delete(queue!);
    for (const resolve of set) resolve();
  };
  const waitForSend = (queue: string | undefined, ms: number) =>
    new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined = undefined;
      const done = () => {
        clearTimeout(timer);
        waiters.get(queue ?? "")?.delete(done);
        resolve();
      };
      timer = setTimeout(done, ms);
      if (queue) {
        const set = waiters.get(queue) ?? new Set<() => void>();
        set.add(done);
        waiters.set(queue, set);
      }
    });
  const md5 = (text: unknown) =>
    createHash("md5")
      .update(String(text ?? ""))
      .digest("hex");

  const server = http.createServer(async (req, res) => {
    try {
      const raw = await readBody(req);
      const target = req.headers["x-amz-target"];
      let body: Record<string, unknown> = {};
      let action = "Unknown";
      if (typeof target === "string") {
        action = target.split(".").pop() ?? "Unknown";
        try {
          body = JSON.parse(raw.toString("utf8") || "{}") as Record<string, unknown>;
        } catch {
          body = {};
        }
      } else {
        const params = new URLSearchParams(raw.toString("utf8"));
        action = params.get("Action") ?? "Unknown";
        body = Object.fromEntries(params.entries());
      }
      const queueName = queueNameOf(body.QueueUrl);
      if (req.headers[HARNESS_HEADER] !== undefined) {
        harnessCounts.set(action, (harnessCounts.get(action) ?? 0) + 1);
      } else counts.set(action, (counts.get(action) ?? 0) + 1);
      if (queueName) {
        const perQueue = byQueue.get(queueName) ?? new Map<string, number>();
        perQueue.set(action, (perQueue.get(action) ?? 0) + 1);
        byQueue.set(queueName, perQueue);
      }

      const injected = fault?.({ action, queueName, body });
      if (injected?.kind === "disconnect") {
        req.socket.destroy();
        return;
      }
      if (injected?.kind === "error") {
        res.statusCode = injected.status;
        res.setHeader("content-type", "application/x-amz-json-1.0");
        res.setHeader(
          "x-amzn-query-error",
          `${injected.code};${injected.status < 500 ? "Sender" : "Receiver"}`,
        );
        res.end(
          JSON.stringify({ __type: injected.code, message: injected.message ?? injected.code }),
        );
        return;
      }
      let forwardRaw = raw;
      let injectedFailures: { Id: unknown; Code: string; Message: string; SenderFault: boolean }[] =
        [];
      if (injected?.kind === "failEntries" && Array.isArray(body.Entries)) {
        const entries = body.Entries as Record<string, unknown>[];
        const failing = entries.filter((e) => injected.match(e));
        injectedFailures = failing.map((e) => ({
          Id: e.Id,
          Code: injected.code ?? "InternalError",
          Message: "injected failure",
          SenderFault: injected.senderFault ?? false,
        }));
        const remaining = entries.filter((e) => !injected.match(e));
        if (remaining.length === 0) {
          res.setHeader("content-type", "application/x-amz-json-1.0");
          res.end(JSON.stringify({ Failed: injectedFailures, Successful: [] }));
          return;
        }
        forwardRaw = Buffer.from(JSON.stringify({ ...body, Entries: remaining }), "utf8");
      }

      // FIFO dedup window (opt-in): answer re-sends of recently accepted dedup ids ourselves.
      const dedupQueue =
        options.emulateFifoDedupWindow &&
        typeof target === "string" &&
        queueName?.endsWith(".fifo") &&
        (action === "SendMessage" || action === "SendMessageBatch")
          ? queueName
          : undefined;
      const dedupSuccessful: { Id: unknown; MessageId: string; MD5OfMessageBody: string }[] = [];
      let forwardedEntries: Record<string, unknown>[] = [];
      if (dedupQueue && action === "SendMessage") {
        const hit = seenRecently(dedupQueue, body.MessageDeduplicationId);
        if (hit) {
          res.setHeader("content-type", "application/x-amz-json-1.0");
          res.end(
            JSON.stringify({
              MessageId: hit.messageId,
              MD5OfMessageBody: md5(body.MessageBody),
              SequenceNumber: "0",
            }),
          );
          return;
        }
      }
      if (dedupQueue && action === "SendMessageBatch") {
        const current = JSON.parse(forwardRaw.toString("utf8") || "{}") as Record<string, unknown>;
        const entries = Array.isArray(current.Entries)
          ? (current.Entries as Record<string, unknown>[])
          : [];
        const fresh: Record<string, unknown>[] = [];
        for (const entry of entries) {
          const hit = seenRecently(dedupQueue, entry.MessageDeduplicationId);
          if (hit)
            dedupSuccessful.push({
              Id: entry.Id,
              MessageId: hit.messageId,
              MD5OfMessageBody: md5(entry.MessageBody),
            });
          else fresh.push(entry);
        }
        forwardedEntries = fresh;
        if (dedupSuccessful.length > 0) {
          if (fresh.length === 0) {
            res.setHeader("content-type", "application/x-amz-json-1.0");
            res.end(JSON.stringify({ Successful: dedupSuccessful, Failed: injectedFailures }));
            return;
          }
          forwardRaw = Buffer.from(JSON.stringify({ ...current, Entries: fresh }), "utf8");
        }
      }

      // Replay the (possibly rewritten) body into the real handler.
      const replayOf = (payload: Buffer) =>
        Object.assign(Readable.from(payload.length ? [payload] : []), {
          headers: req.headers,
          method: req.method,
          url: req.url,
          socket: req.socket,
        }) as unknown as http.IncomingMessage;
      const replay = replayOf(forwardRaw);

      const wait = Number(body.WaitTimeSeconds ?? 0);
      if (action === "ReceiveMessage" && typeof target === "string" && wait > 0) {
        // local-aws-sqs's long poll keeps collecting until MaxNumberOfMessages or the full wait,
        // and re-collects messages whose (short) visibility timeout expired meanwhile, returning
        // duplicates in one response. AWS answers as soon as messages are available: emulate that
        // with short polls until something arrives or the wait is over.
        const shortPoll = Buffer.from(JSON.stringify({ ...body, WaitTimeSeconds: 0 }), "utf8");
        const deadline = Date.now() + wait * 1000;
        for (;;) {
          const answer = await capture(requestHandler, replayOf(shortPoll));
          const hasMessages = answer.status === 200 && /"Messages"\s*:\s*\[\s*\{/.test(answer.body);
          if (
            hasMessages ||
            answer.status !== 200 ||
            Date.now() >= deadline ||
            req.socket.destroyed
          ) {
            if (!hasMessages && answer.status === 200 && req.headers[HARNESS_HEADER] === undefined)
              emptyReceives++;
            res.statusCode = answer.status;
            for (const [k, v] of Object.entries(answer.headers)) res.setHeader(k, v);
            res.end(answer.body);
            return;
          }
          await waitForSend(queueName, Math.min(LONG_POLL_RECHECK_MS, deadline - Date.now()));
        }
      }
      if (injectedFailures.length > 0 || dedupQueue) {
        const end = res.end.bind(res) as (chunk?: unknown) => http.ServerResponse;
        (res as { end: unknown }).end = (chunk?: unknown) => {
          let out = chunk;
          try {
            const parsed = JSON.parse(String(chunk)) as {
              Failed?: unknown[];
              Successful?: { Id?: unknown; MessageId?: string }[];
              MessageId?: string;
            };
            if (dedupQueue && res.statusCode === 200) {
              const now = Date.now();
              if (action === "SendMessage" && typeof parsed.MessageId === "string") {
                const id = body.MessageDeduplicationId;
                if (typeof id === "string" && id !== "")
                  dedupSeen.set(dedupKey(dedupQueue, id), { messageId: parsed.MessageId, at: now });
              }
              for (const ok of parsed.Successful ?? []) {
                const entry = forwardedEntries.find((e) => e.Id === ok.Id);
                const id = entry?.MessageDeduplicationId;
                if (typeof id === "string" && id !== "" && typeof ok.MessageId === "string")
                  dedupSeen.set(dedupKey(dedupQueue, id), { messageId: ok.MessageId, at: now });
              }
              if (action === "SendMessageBatch")
                parsed.Successful = [...(parsed.Successful ?? []), ...dedupSuccessful];
            }
            if (injectedFailures.length > 0)
              parsed.Failed = [...(parsed.Failed ?? []), ...injectedFailures];
            out = JSON.stringify(parsed);
          } catch {
            // not JSON: leave as is
          }
          return end(out);
        };
      }
      await requestHandler(replay, res);
      if (action.startsWith("SendMessage") || action.startsWith("ChangeMessageVisibility"))
        wake(queueName);
    } catch (error) {
      if (!res.headersSent) res.statusCode = 500;
      res.end(JSON.stringify({ __type: "InternalError", message: String(error) }));
    }
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  service.PORT = port;
  const endpoint = `http://127.0.0.1:${port}`;

  return {
    endpoint,
    port,
    calls: () => Object.fromEntries(counts),
    harnessCalls: () => Object.fromEntries(harnessCounts),
    emptyReceives: () => emptyReceives,
    callsByQueue: () =>
      Object.fromEntries([...byQueue].map(([name, m]) => [name, Object.fromEntries(m)])),
    resetCalls: () => {
      counts.clear();
      harnessCounts.clear();
      emptyReceives = 0;
      byQueue.clear();
    },
    setFault: (hook) => {
      fault = hook;
    },
    client: (region = "us-east-1", clientOptions = {}) => {
      const client = new SQSClient({
        region,
        endpoint,
        credentials: { accessKeyId: "local", secretAccessKey: "local" },
      });
      if (clientOptions.harness) {
        client.middlewareStack.add(
          (next) => async (args) => {
            const request = args.request as { headers?: Record<string, string> };
            if (request.headers) request.headers[HARNESS_HEADER] = "1";
            return next(args);
          },
          { step: "build", name: "localSqsHarnessHeader" },
        );
      }
      return client;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface CreatedQueue {
  readonly name: string;
  readonly url: string;
  readonly arn: string;
  readonly spec: QueueSpec;
}

export interface CreatedQueues {
  readonly regions: Record<string, { queue: CreatedQueue; dlq: CreatedQueue }>;
  readonly aggregator: { queue: CreatedQueue; dlq: CreatedQueue };
}

/**
 * Attribute overrides for tests, applied on top of a spec's attributes (e.g. a 1 s visibility
 * timeout so redelivery happens within a test). Return undefined to keep the spec as is.
 */
export type AttributeOverrides = (spec: QueueSpec) => Record<string, string> | undefined;

/** Creates one queue from its spec; `dlqArn` is needed when the spec has a redrive policy. */
async function createQueueFromSpec(
  client: SQSClient,
  spec: QueueSpec,
  dlqArn?: string,
  overrides?: AttributeOverrides,
): Promise<CreatedQueue> {
  const attributes: Record<string, string> = { ...spec.attributes, ...(overrides?.(spec) ?? {}) };
  if (spec.fifo) attributes.FifoQueue = "true";
  if (spec.redrive) {
    if (!dlqArn)
      throw new Error(
        `queue ${spec.name}: redrive needs the ARN of ${spec.redrive.deadLetterQueueName}`,
      );
    attributes.RedrivePolicy = JSON.stringify({
      deadLetterTargetArn: dlqArn,
      maxReceiveCount: spec.redrive.maxReceiveCount,
    });
  }
  const created = await client.send(
    new CreateQueueCommand({ QueueName: spec.name, Attributes: attributes }),
  );
  const url = created.QueueUrl;
  if (!url) throw new Error(`CreateQueue ${spec.name} returned no QueueUrl`);
  const attrs = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }),
  );
  const arn = attrs.Attributes?.QueueArn;
  if (!arn) throw new Error(`GetQueueAttributes ${spec.name} returned no QueueArn`);
  return { name: spec.name, url, arn, spec };
}

/** Creates every queue of `queueSpecs(config)`: each DLQ first, then its source queue. */
export async function createQueuesFromSpecs(
  client: SQSClient,
  specs: RelayQueueSpecs,
  overrides?: AttributeOverrides,
): Promise<CreatedQueues> {
  const pair = async (p: { queue: QueueSpec; dlq: QueueSpec }) => {
    const dlq = await createQueueFromSpec(client, p.dlq, undefined, overrides);
    if (p.queue.redrive && p.queue.redrive.deadLetterQueueName !== p.dlq.name) {
      throw new Error(
        `queue ${p.queue.name} redrives to ${p.queue.redrive.deadLetterQueueName}, not ${p.dlq.name}`,
      );
    }
    const queue = await createQueueFromSpec(client, p.queue, dlq.arn, overrides);
    return { queue, dlq };
  };
  const regions: Record<string, { queue: CreatedQueue; dlq: CreatedQueue }> = {};
  for (const [region, p] of Object.entries(specs.regions)) regions[region] = await pair(p);
  return { regions, aggregator: await pair(specs.aggregator) };
}

// ---------------------------------------------------------------------------------------------
// A stand-in for Lambda's SQS event source mapping (ReportBatchItemFailures enabled).

export interface EventSourceOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
  readonly queueArn: string;
  /** awsRegion on the records (the function's region). */
  readonly awsRegion: string;
  readonly handler: (event: SqsEvent) => Promise<SqsBatchResponse | void>;
  /** Default 10 (the program's batch size). */
  readonly batchSize?: number;
  /** Long-poll wait; default 1 s (tests). */
  readonly waitTimeSeconds?: number;
}

export interface PollResult {
  readonly received: number;
  readonly failed: string[];
  readonly deleted: number;
  /** The handler threw: nothing was deleted. */
  readonly handlerError?: unknown;
}

function toLambdaRecord(message: Message, options: EventSourceOptions): SqsRecord {
  const messageAttributes: SqsRecord["messageAttributes"] = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    messageAttributes[name] = {
      dataType: value.DataType ?? "String",
      ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
      ...(value.BinaryValue !== undefined
        ? { binaryValue: Buffer.from(value.BinaryValue).toString("base64") }
        : {}),
      stringListValues: [],
      binaryListValues: [],
    };
  }
  return {
    messageId: message.MessageId ?? "",
    receiptHandle: message.ReceiptHandle ?? "",
    body: message.Body ?? "",
    attributes: { ...(message.Attributes ?? {}) },
    messageAttributes,
    md5OfBody: message.MD5OfBody ?? "",
    eventSource: "aws:sqs",
    eventSourceARN: options.queueArn,
    awsRegion: options.awsRegion,
  };
}

/**
 * One poll of the event source mapping: receive up to batchSize messages, invoke the handler,
 * delete every message not named in batchItemFailures (none if the handler threw or returned a
 * malformed response — Lambda then retries the whole batch after the visibility timeout).
 */
export async function pollEventSourceOnce(options: EventSourceOptions): Promise<PollResult> {
  const received = await options.client.send(
    new ReceiveMessageCommand({
      QueueUrl: options.queueUrl,
      MaxNumberOfMessages: options.batchSize ?? 10,
      WaitTimeSeconds: options.waitTimeSeconds ?? 1,
      AttributeNames: ["All"],
      MessageAttributeNames: ["All"],
    }),
  );
  const messages = received.Messages ?? [];
  if (messages.length === 0) return { received: 0, failed: [], deleted: 0 };
  const records = messages.map((m) => toLambdaRecord(m, options));
  let failed: string[];
  try {
    const response = await options.handler({ Records: records });
    const list = response?.batchItemFailures;
    if (response !== undefined && !Array.isArray(list)) throw new Error("malformed batch response");
    failed = (list ?? []).map((f) => f.itemIdentifier);
    const known = new Set(records.map((r) => r.messageId));
    if (failed.some((id) => !known.has(id)))
      throw new Error("batchItemFailures names an unknown id");
  } catch (handlerError) {
    return {
      received: records.length,
      failed: records.map((r) => r.messageId),
      deleted: 0,
      handlerError,
    };
  }
  const failedSet = new Set(failed);
  const toDelete = records.filter((r) => !failedSet.has(r.messageId));
  if (toDelete.length > 0) {
    await options.client.send(
      new DeleteMessageBatchCommand({
        QueueUrl: options.queueUrl,
        Entries: toDelete.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
      }),
    );
  }
  return { received: records.length, failed, deleted: toDelete.length };
}

/** Polls continuously until `stop()`; errors are reported to `onError` and polling continues. */
export function startEventSource(
  options: EventSourceOptions & {
    onError?: (error: unknown) => void;
    onPoll?: (r: PollResult) => void;
  },
): { stop(): Promise<void> } {
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const result = await pollEventSourceOnce(options);
        options.onPoll?.(result);
      } catch (error) {
        options.onError?.(error);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
    },
  };
}
