/**
 * Shared by the DC tests: hand-made relay messages that satisfy the contract's parsers, sending
 * them to the aggregator queue exactly as the forwarder does (FIFO dedup id per change, group per
 * row), a DC database user without SUPER, and small waiting helpers.
 */
import { SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import mysql, { type RowDataPacket } from "mysql2/promise";
import {
  toRelayMessage,
  type RelayColumn,
  type RelayMessage,
  type RelayRecord,
} from "../../contract/envelope";
import { relayEntry } from "../../lambda/lib/relay";
import { batchGroups, entryBytes } from "../../lambda/lib/sqs";

export const AT = "2026-11-23T01:02:03.456789Z";

export function schemaRecord(
  table: string,
  outboxId: number,
  columns: [name: string, type: string][],
  primaryKey: string[],
): RelayRecord {
  return {
    outboxId,
    table,
    op: "SCHEMA",
    occurredAt: AT,
    schema: {
      columns: columns.map(([name, type]): RelayColumn => ({
        name,
        type,
        nullable: !primaryKey.includes(name),
      })),
      primaryKey,
    },
  };
}

export function upsert(
  table: string,
  outboxId: number,
  key: Record<string, unknown>,
  row: Record<string, unknown>,
  occurredAt = AT,
): RelayRecord {
  return { outboxId, table, op: "UPSERT", key, occurredAt, row: { ...key, ...row } };
}

export function del(table: string, outboxId: number, key: Record<string, unknown>): RelayRecord {
  return { outboxId, table, op: "DELETE", key, occurredAt: AT };
}

/** Sends records as the forwarder puts them on the FIFO aggregator queue. */
export async function sendRecords(
  client: SQSClient,
  queueUrl: string,
  region: string,
  records: readonly RelayRecord[],
  options: { dedupSuffix?: string } = {},
): Promise<RelayMessage[]> {
  const messages = records.map((r) => toRelayMessage(region, r));
  const entries = messages.map((m) => {
    const entry = relayEntry(m, { fifo: true });
    return options.dedupSuffix
      ? {
          ...entry,
          MessageDeduplicationId: `${entry.MessageDeduplicationId}${options.dedupSuffix}`,
        }
      : entry;
  });
  for (const group of batchGroups(entries, entryBytes)) {
    const result = await client.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: group.map((e, i) => ({ ...e, Id: String(i) })),
      }),
    );
    if (result.Failed?.length) throw new Error(`send failed: ${JSON.stringify(result.Failed)}`);
  }
  return messages;
}

/** Sends raw bodies (poison messages) to a FIFO queue. */
export async function sendRaw(
  client: SQSClient,
  queueUrl: string,
  bodies: readonly string[],
): Promise<void> {
  await client.send(
    new SendMessageBatchCommand({
      QueueUrl: queueUrl,
      Entries: bodies.map((body, i) => ({
        Id: String(i),
        MessageBody: body,
        MessageGroupId: `raw-${i}-${Date.now()}`,
        MessageDeduplicationId: `raw-${i}-${Date.now()}-${Math.random()}`,
      })),
    }),
  );
}

export async function waitFor(
  check: () => Promise<boolean> | boolean,
  timeoutMs = 15_000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A DC user with every privilege on its database and none on the server (no SUPER, no
 * READ_ONLY ADMIN): `read_only` applies to it, as to a real DC service account.
 */
export async function createDcUser(
  adminUrl: string,
  database: string,
  user = `dc_${Math.random().toString(36).slice(2, 8)}`,
  password = `pw-${Math.random().toString(36).slice(2)}`,
): Promise<{ user: string; password: string; url: string }> {
  const admin = await mysql.createConnection({ uri: adminUrl });
  try {
    await admin.query(`CREATE USER ?@'%' IDENTIFIED BY ?`, [user, password]);
    await admin.query(`GRANT ALL PRIVILEGES ON \`${database}\`.* TO ?@'%'`, [user]);
  } finally {
    await admin.end();
  }
  const base = new URL(adminUrl);
  base.username = user;
  base.password = "";
  base.pathname = `/${database}`;
  return { user, password, url: base.toString() };
}

export async function count(
  pool: { query: mysql.Pool["query"] },
  sql: string,
  params: unknown[] = [],
): Promise<number> {
  const [rows] = await pool.query<RowDataPacket[]>(sql, params);
  return Number(Object.values(rows[0] ?? { n: 0 })[0]);
}
