/**
 * The DC consumer: long-polls the aggregator queue and writes every relayed row into the DC's
 * MySQL, idempotently (upsert on region, table, rowId).
 *
 * Delivery rules:
 *  - A message is deleted only after the transaction holding its row committed (DeleteMessageBatch).
 *  - A batch that runs long keeps its messages invisible (ChangeMessageVisibilityBatch heartbeat).
 *  - An unparseable/invalid message is logged (message id, receive count, issue paths — never the
 *    body) and left alone: the queue's redrive policy moves it to the DLQ after maxReceiveCount.
 *    A row the database rejects (data error) is isolated by retrying the batch row by row and is
 *    treated the same way. No crash loop: the consumer keeps serving the other messages.
 *  - If the database is unreachable nothing is received until it answers again (exponential
 *    backoff), so a DC outage does not burn receive counts and push good messages to the DLQ.
 *  - stop(): finishes the in-flight batch, then resolves; an idle long poll is aborted at once.
 */
import * as fs from "fs";
import * as path from "path";
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { Logger } from "@aws-lambda-powertools/logger";
import type { Pool, PoolConnection, ResultSetHeader } from "mysql2/promise";
import { InvalidEnvelopeError, parseRelayMessage, type RelayMessage } from "../contract/envelope";
import { SERVICE } from "../contract/metrics";
import { chunk, SQS_BATCH_LIMIT } from "../lambda/lib/sqs";

export const DC_TABLE = "relay_rows";
export const DC_SERVICE = SERVICE.dcConsumer;

/** The logger methods the consumer uses (a Powertools Logger, or a test double). */
export type DcLogger = Pick<Logger, "info" | "warn" | "error">;

export interface DcConsumerOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
  readonly pool: Pool;
  /** Long-poll wait, 0..20 s (default 20). */
  readonly waitTimeSeconds?: number;
  /** Visibility per receive (default: the queue's VisibilityTimeout, else 60 s). */
  readonly visibilityTimeoutSeconds?: number;
  /** Heartbeat period (default: a third of the visibility timeout). */
  readonly heartbeatMs?: number;
  /** Messages per receive, 1..10 (default 10). */
  readonly maxMessages?: number;
  /** Create the DC table if missing (default true). */
  readonly ensureSchema?: boolean;
  readonly logger?: DcLogger;
  /** Test hook: runs inside the transaction before commit (e.g. to simulate a slow write). */
  readonly beforeCommit?: (messages: RelayMessage[]) => Promise<void>;
}

export interface DcConsumerStats {
  batches: number;
  received: number;
  /** Rows newly inserted. */
  inserted: number;
  /** Deliveries of a row already present (upsert hit). */
  duplicates: number;
  deleted: number;
  invalid: number;
  writeFailures: number;
  heartbeats: number;
  errors: number;
}

export interface DcConsumer {
  readonly stats: Readonly<DcConsumerStats>;
  /** Finishes the in-flight batch, then resolves. */
  stop(): Promise<void>;
  /** Resolves when the loop has ended (after stop()). */
  readonly done: Promise<void>;
}

export function createDcLogger(): Logger {
  return new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? DC_SERVICE });
}

/** Applies dc/schema.sql (idempotent). */
export async function ensureDcSchema(pool: Pool): Promise<void> {
  const sql = fs.readFileSync(path.join(__dirname, "schema.sql"), "utf8");
  await pool.query(sql);
}

/** "2026-11-23T01:02:03.456Z" → "2026-11-23 01:02:03.456" (DATETIME(6), UTC). */
export function toMysqlDatetime(iso: string): string {
  return iso.replace("T", " ").replace(/Z$/, "");
}

const CONNECTION_ERRORS = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "PROTOCOL_CONNECTION_LOST",
  "ER_CON_COUNT_ERROR",
  "ER_SERVER_SHUTDOWN",
  "ER_LOCK_WAIT_TIMEOUT",
  "ER_LOCK_DEADLOCK",
  "ER_ACCESS_DENIED_ERROR",
  "ER_BAD_DB_ERROR",
  "ER_NO_SUCH_TABLE",
]);

/** True for errors that say the database (not the row) is the problem. */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const e = error as { code?: string; fatal?: boolean };
  return e.fatal === true || (e.code !== undefined && CONNECTION_ERRORS.has(e.code));
}

function errorInfo(error: unknown): { code?: string; name: string; message: string } {
  if (typeof error === "object" && error !== null) {
    const e = error as { code?: string; name?: string; message?: string; sqlMessage?: string };
    // mysql2 messages for data errors can quote the value ("Data too long for column"...
    // does not, but "Incorrect ... value: '<value>'" does): log the code, not the text.
    return {
      code: e.code,
      name: e.name ?? "Error",
      message: e.code ? `mysql error ${e.code}` : (e.message ?? ""),
    };
  }
  return { name: "Error", message: String(error) };
}

const UPSERT_SQL =
  `INSERT INTO ${DC_TABLE} (region, table_name, row_id, outbox_id, occurred_at, dedup_key, row_json, message_id)` +
  ` VALUES (?, ?, ?, ?, ?, ?, ?, ?)` +
  ` ON DUPLICATE KEY UPDATE deliveries = deliveries + 1, last_delivered_at = CURRENT_TIMESTAMP(6)`;

interface Parsed {
  readonly sqs: Message;
  readonly message: RelayMessage;
}

async function upsertAll(
  conn: PoolConnection,
  items: readonly Parsed[],
): Promise<{ inserted: number; duplicates: number }> {
  let inserted = 0;
  let duplicates = 0;
  for (const { sqs, message } of items) {
    const [result] = await conn.execute<ResultSetHeader>(UPSERT_SQL, [
      message.region,
      message.table,
      message.rowId,
      message.outboxId,
      toMysqlDatetime(message.occurredAt),
      message.dedupKey,
      JSON.stringify(message.row),
      sqs.MessageId ?? "",
    ]);
    // affectedRows: 1 = inserted, 2 = existing row updated (duplicate delivery).
    if (result.affectedRows === 1) inserted++;
    else duplicates++;
  }
  return { inserted, duplicates };
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });

/** Starts the consume loop; returns at once. */
export function startDcConsumer(options: DcConsumerOptions): DcConsumer {
  const { client, queueUrl, pool } = options;
  const logger: DcLogger = options.logger ?? createDcLogger();
  const waitTimeSeconds = options.waitTimeSeconds ?? 20;
  const maxMessages = options.maxMessages ?? SQS_BATCH_LIMIT;
  if (!Number.isInteger(waitTimeSeconds) || waitTimeSeconds < 0 || waitTimeSeconds > 20) {
    throw new Error(`waitTimeSeconds must be an integer 0..20, got ${waitTimeSeconds}`);
  }
  if (!Number.isInteger(maxMessages) || maxMessages < 1 || maxMessages > 10) {
    throw new Error(`maxMessages must be an integer 1..10, got ${maxMessages}`);
  }
  const stats: DcConsumerStats = {
    batches: 0,
    received: 0,
    inserted: 0,
    duplicates: 0,
    deleted: 0,
    invalid: 0,
    writeFailures: 0,
    heartbeats: 0,
    errors: 0,
  };
  let running = true;
  const idle = new AbortController(); // aborts a long poll / backoff sleep on stop()

  async function resolveVisibility(): Promise<number> {
    if (options.visibilityTimeoutSeconds !== undefined) return options.visibilityTimeoutSeconds;
    try {
      const attrs = await client.send(
        new GetQueueAttributesCommand({
          QueueUrl: queueUrl,
          AttributeNames: ["VisibilityTimeout"],
        }),
      );
      const value = Number(attrs.Attributes?.VisibilityTimeout);
      if (Number.isInteger(value) && value > 0) return value;
    } catch (error) {
      logger.warn("could not read the queue's VisibilityTimeout; using 60 s", {
        error: errorInfo(error),
      });
    }
    return 60;
  }

  async function waitForDatabase(): Promise<void> {
    let delay = 500;
    for (;;) {
      try {
        await pool.query("SELECT 1");
        return;
      } catch (error) {
        stats.errors++;
        logger.error("DC database unavailable; not receiving until it answers", {
          error: errorInfo(error),
          retryInMs: delay,
        });
        if (!running) return;
        await sleep(delay, idle.signal);
        if (!running) return;
        delay = Math.min(delay * 2, 30_000);
      }
    }
  }

  async function deleteMessages(items: readonly Message[]): Promise<void> {
    for (const group of chunk(items, SQS_BATCH_LIMIT)) {
      const result = await client.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: group.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
        }),
      );
      stats.deleted += result.Successful?.length ?? 0;
      if (result.Failed?.length) {
        // Committed but not deleted: it comes back and the upsert absorbs it.
        logger.warn("some deletes failed; the rows are committed and redelivery is harmless", {
          failed: result.Failed.map((f) => ({
            messageId: group[Number(f.Id)]?.MessageId,
            code: f.Code,
          })),
        });
      }
    }
  }

  /** Commits `items` in one transaction; on a data error, row by row. Returns committed items. */
  async function write(items: readonly Parsed[]): Promise<Parsed[]> {
    const attempt = async (subset: readonly Parsed[]) => {
      const conn = await pool.getConnection();
      try {
        await conn.beginTransaction();
        const counts = await upsertAll(conn, subset);
        await options.beforeCommit?.(subset.map((p) => p.message));
        await conn.commit();
        stats.inserted += counts.inserted;
        stats.duplicates += counts.duplicates;
      } catch (error) {
        await conn.rollback().catch(() => undefined);
        throw error;
      } finally {
        conn.release();
      }
    };
    try {
      await attempt(items);
      return [...items];
    } catch (error) {
      if (isDatabaseUnavailable(error) || items.length === 1) {
        if (items.length === 1 && !isDatabaseUnavailable(error))
          return isolateFailure(items[0], error);
        throw error;
      }
    }
    const committed: Parsed[] = [];
    for (const item of items) {
      try {
        await attempt([item]);
        committed.push(item);
      } catch (error) {
        if (isDatabaseUnavailable(error)) throw error;
        isolateFailure(item, error);
      }
    }
    return committed;
  }

  function isolateFailure(item: Parsed, error: unknown): Parsed[] {
    stats.writeFailures++;
    logger.error("DC database rejected a row; leaving the message for redrive to the DLQ", {
      messageId: item.sqs.MessageId,
      dedupKey: item.message.dedupKey,
      outboxId: item.message.outboxId,
      receiveCount: item.sqs.Attributes?.ApproximateReceiveCount,
      error: errorInfo(error),
    });
    return [];
  }

  async function handleBatch(messages: Message[], visibility: number): Promise<void> {
    stats.batches++;
    stats.received += messages.length;
    const started = Date.now();
    const heartbeatMs = options.heartbeatMs ?? Math.max(200, (visibility * 1000) / 3);
    let inFlight = messages;
    const heartbeat = setInterval(() => {
      if (inFlight.length === 0) return;
      client
        .send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: queueUrl,
            Entries: inFlight.map((m, i) => ({
              Id: String(i),
              ReceiptHandle: m.ReceiptHandle,
              VisibilityTimeout: visibility,
            })),
          }),
        )
        .then(() => {
          stats.heartbeats++;
        })
        .catch((error) => logger.warn("visibility heartbeat failed", { error: errorInfo(error) }));
    }, heartbeatMs);
    try {
      const valid: Parsed[] = [];
      for (const sqs of messages) {
        try {
          valid.push({ sqs, message: parseRelayMessage(sqs.Body ?? "") });
        } catch (error) {
          stats.invalid++;
          logger.warn(
            "invalid relay message; not deleting it, redrive moves it to the DLQ after maxReceiveCount",
            {
              messageId: sqs.MessageId,
              receiveCount: sqs.Attributes?.ApproximateReceiveCount,
              issues:
                error instanceof InvalidEnvelopeError ? error.issues : [errorInfo(error).name],
            },
          );
        }
      }
      inFlight = valid.map((p) => p.sqs);
      if (valid.length === 0) return;
      const committed = await write(valid);
      inFlight = [];
      await deleteMessages(committed.map((p) => p.sqs));
      logger.info("batch committed", {
        received: messages.length,
        committed: committed.length,
        durationMs: Date.now() - started,
      });
    } finally {
      clearInterval(heartbeat);
    }
  }

  const done = (async () => {
    if (options.ensureSchema ?? true) {
      await waitForDatabase();
      if (running) await ensureDcSchema(pool);
    }
    const visibility = await resolveVisibility();
    logger.info("DC consumer started", {
      waitTimeSeconds,
      visibilityTimeoutSeconds: visibility,
      maxMessages,
    });
    while (running) {
      let messages: Message[];
      try {
        const received = await client.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: maxMessages,
            WaitTimeSeconds: waitTimeSeconds,
            VisibilityTimeout: visibility,
            // Both spellings: local-aws-sqs reads the legacy one, AWS prefers the new one.
            AttributeNames: ["All"],
            MessageSystemAttributeNames: ["ApproximateReceiveCount", "SentTimestamp"],
            MessageAttributeNames: ["All"],
          }),
          { abortSignal: idle.signal },
        );
        messages = received.Messages ?? [];
      } catch (error) {
        if (!running) break;
        stats.errors++;
        logger.error("ReceiveMessage failed; retrying", { error: errorInfo(error) });
        await sleep(1000, idle.signal);
        continue;
      }
      if (messages.length === 0) continue;
      try {
        await handleBatch(messages, visibility);
      } catch (error) {
        stats.errors++;
        logger.error("batch not committed; its messages return after the visibility timeout", {
          messages: messages.length,
          error: errorInfo(error),
        });
        if (isDatabaseUnavailable(error)) await waitForDatabase();
        else await sleep(1000, idle.signal);
      }
    }
    logger.info("DC consumer stopped", { ...stats });
  })();

  return {
    stats,
    done,
    stop: async () => {
      running = false;
      idle.abort();
      await done;
    },
  };
}
