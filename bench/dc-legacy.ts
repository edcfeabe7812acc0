/**
 * The DC consumer as it was before issue 13 — one receive loop, every relayed row written with
 * its own `INSERT … ON DUPLICATE KEY UPDATE` into the generic `relay_rows` table (a JSON blob per
 * row), one transaction per receive batch, DeleteMessageBatch after commit — kept here only so
 * the benchmark (bench/dc-throughput.ts) can measure the new sink against it in the same run. It
 * is not a supported DC mode. Adapted to envelope v2 only where it must be (the row id is the
 * key's `id`, the row is `row` or `{}`).
 *
 * Runs as its own process like the real consumer: `tsx bench/dc-legacy.ts` with DC_QUEUE_URL,
 * AWS_REGION, DC_MYSQL_URL (no password) and MYSQL_PASSWORD; stops on SIGTERM after the
 * in-flight batch.
 */
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { Pool, PoolConnection, ResultSetHeader } from "mysql2/promise";
import mysql from "mysql2/promise";
import { parseRelayMessage, type RelayMessage } from "../contract/envelope";
import { createSqsClient } from "../lambda/lib/sqs";

export const LEGACY_TABLE_SQL = `CREATE TABLE IF NOT EXISTS relay_rows (
  region            VARCHAR(32)     NOT NULL,
  table_name        VARCHAR(64)     NOT NULL,
  row_id            BIGINT UNSIGNED NOT NULL,
  outbox_id         BIGINT UNSIGNED NOT NULL,
  occurred_at       DATETIME(6)     NOT NULL,
  dedup_key         VARCHAR(255)    NOT NULL,
  row_json          JSON            NOT NULL,
  message_id        VARCHAR(128)    NOT NULL,
  deliveries        INT UNSIGNED    NOT NULL DEFAULT 1,
  received_at       DATETIME(6)     NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  last_delivered_at DATETIME(6)     NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (region, table_name, row_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin`;

const UPSERT_SQL =
  "INSERT INTO relay_rows (region, table_name, row_id, outbox_id, occurred_at, dedup_key, row_json, message_id)" +
  " VALUES (?, ?, ?, ?, ?, ?, ?, ?)" +
  " ON DUPLICATE KEY UPDATE deliveries = deliveries + 1, last_delivered_at = CURRENT_TIMESTAMP(6)";

/** The old write: one prepared single-row upsert per message (exported for the write-path figure). */
export async function legacyUpsertAll(
  conn: PoolConnection,
  items: readonly { sqs: Pick<Message, "MessageId">; message: RelayMessage }[],
): Promise<void> {
  for (const { sqs, message } of items) {
    if (message.op === "SCHEMA") continue;
    await conn.execute<ResultSetHeader>(UPSERT_SQL, [
      message.region,
      message.table,
      Number(message.key.id),
      message.outboxId,
      message.occurredAt.replace("T", " ").replace(/Z$/, ""),
      message.dedupKey,
      JSON.stringify(message.op === "UPSERT" ? message.row : {}),
      sqs.MessageId ?? "",
    ]);
  }
}

/** The old loop: receive 10, one transaction of single-row upserts, delete; until stopped. */
export async function runLegacyConsumer(options: {
  client: SQSClient;
  queueUrl: string;
  pool: Pool;
  signal: AbortSignal;
}): Promise<number> {
  const { client, queueUrl, pool, signal } = options;
  await pool.query(LEGACY_TABLE_SQL);
  let written = 0;
  while (!signal.aborted) {
    let messages: Message[];
    try {
      const received = await client.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          AttributeNames: ["All"],
          MessageAttributeNames: ["All"],
        }),
        { abortSignal: signal },
      );
      messages = received.Messages ?? [];
    } catch {
      if (signal.aborted) break;
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    if (messages.length === 0) continue;
    const valid = messages.map((sqs) => ({ sqs, message: parseRelayMessage(sqs.Body ?? "") }));
    const conn = await pool.getConnection();
    try {
      await conn.beginTransaction();
      await legacyUpsertAll(conn, valid);
      await conn.commit();
    } finally {
      conn.release();
    }
    written += valid.length;
    await client.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
      }),
    );
  }
  return written;
}

if (require.main === module) {
  const stop = new AbortController();
  process.once("SIGTERM", () => stop.abort());
  process.once("SIGINT", () => stop.abort());
  const url = new URL(process.env.DC_MYSQL_URL ?? "");
  const pool = mysql.createPool({
    host: url.hostname,
    port: Number(url.port || 3306),
    user: decodeURIComponent(url.username),
    password: process.env.MYSQL_PASSWORD,
    database: url.pathname.slice(1),
    charset: "utf8mb4",
    connectionLimit: 2,
    timezone: "Z",
  });
  runLegacyConsumer({
    client: createSqsClient(process.env.AWS_REGION),
    queueUrl: process.env.DC_QUEUE_URL ?? "",
    pool,
    signal: stop.signal,
  })
    .then(
      () => 0,
      (error: unknown) => {
        process.stderr.write(`dc-legacy: ${(error as Error).message}\n`);
        return 1;
      },
    )
    .then(async (code) => {
      await pool.end().catch(() => undefined);
      process.exit(code);
    });
}
