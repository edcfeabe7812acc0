/**
 * Writing a batch of changes into the mirror tables: one multi-row statement per table and kind
 * per batch, inside the caller's transaction, versioned by outboxId.
 *
 * UPSERT → `INSERT … ON DUPLICATE KEY UPDATE col = IF(VALUES(relay_outbox_id) >
 * relay_row_outbox_id, VALUES(col), col), …, relay_row_outbox_id = GREATEST(…), relay_outbox_id =
 * GREATEST(…)`. MySQL and MariaDB evaluate the assignments left to right and a column assigned
 * earlier reads its new value, so the versions are assigned last and every IF compares with the
 * version the DC held. An older or duplicate change therefore changes nothing (affected rows 0),
 * whatever order the batch, the queue or a redrive delivers it in. A column the row does not
 * carry is written as NULL (a column dropped at the source is NULL from then on).
 *
 * DELETE → a tombstone: a versioned upsert of the key that sets `relay_deleted_at` when it is
 * the newest change of the row; the columns keep the newest UPSERT's values (so the final state
 * is the same whether the DELETE or an older UPSERT arrives first); a newer UPSERT clears it.
 * With `--deletes apply` the row is really deleted (only if older than the DELETE) and the
 * DELETE's version is kept in `relay_deletes`, so a late older UPSERT of that row is skipped
 * instead of resurrecting it.
 */
import { createHash } from "node:crypto";
import type { PoolConnection, ResultSetHeader, RowDataPacket } from "mysql2/promise";
import { canonicalKey, type RelayMessage } from "../contract/envelope";
import { BOOKKEEPING_COLUMNS, quoteId, type MirrorTable } from "./mirror";
import { toSqlValue, ValueError } from "./types";

export type DeleteMode = "tombstone" | "apply";

export type ChangeMessage = Extract<RelayMessage, { op: "UPSERT" | "DELETE" }>;

/** A change ready to write: its values converted for the mirror table's current columns. */
export interface PreparedChange {
  readonly message: ChangeMessage;
  readonly table: MirrorTable;
  readonly keyValues: readonly unknown[];
  /** UPSERT only: the values of `dataColumns(table)`, in that order. */
  readonly values?: readonly unknown[];
  /** Approximate statement bytes (for splitting very large batches). */
  readonly bytes: number;
  readonly sortKey: string;
}

export type Preparation =
  | { readonly kind: "ready"; readonly change: PreparedChange }
  /** The DC does not know the table or a column yet: keep the change until its SCHEMA arrives. */
  | { readonly kind: "park"; readonly reason: string }
  /** The message itself cannot be applied (goes to the DLQ after maxReceiveCount). */
  | { readonly kind: "reject"; readonly error: Error };

const dataColumnCache = new WeakMap<MirrorTable, string[]>();

/** The mirror table's non-key source columns, in a fixed order. */
export function dataColumns(table: MirrorTable): string[] {
  let columns = dataColumnCache.get(table);
  if (!columns) {
    columns = [...table.columns.keys()].filter((c) => !table.primaryKey.includes(c));
    dataColumnCache.set(table, columns);
  }
  return columns;
}

/** "2026-11-23T01:02:03.456Z" → "2026-11-23 01:02:03.456" (DATETIME(6), UTC). */
export function toMysqlDatetime(iso: string): string {
  return iso.replace("T", " ").replace(/Z$/, "");
}

/** Checks a change against the mirror table and converts its values. */
export function prepareChange(
  message: ChangeMessage,
  table: MirrorTable | undefined,
  bodyBytes: number,
): Preparation {
  if (!table) return { kind: "park", reason: `table ${message.table} not yet known at the DC` };
  const keyColumns = Object.keys(message.key);
  if (
    keyColumns.length !== table.primaryKey.length ||
    !table.primaryKey.every((c) => keyColumns.includes(c))
  ) {
    return {
      kind: "reject",
      error: new ValueError(
        `key columns (${keyColumns.join(", ")}) do not match the primary key of ${table.dcTable} (${table.primaryKey.join(", ")})`,
      ),
    };
  }
  try {
    const keyValues = table.primaryKey.map((c) =>
      toSqlValue(table.columns.get(c)!.type, message.key[c], c),
    );
    if (keyValues.some((v) => v === null)) throw new ValueError("a primary-key value is null");
    const sortKey = canonicalKey(message.key);
    if (message.op === "DELETE") {
      return { kind: "ready", change: { message, table, keyValues, bytes: bodyBytes, sortKey } };
    }
    const unknown = Object.keys(message.row).filter((c) => !table.columns.has(c));
    if (unknown.length > 0) {
      const reserved = unknown.filter((c) =>
        (BOOKKEEPING_COLUMNS as readonly string[]).includes(c.toLowerCase()),
      );
      if (reserved.length > 0) {
        throw new ValueError(`row carries DC bookkeeping column names (${reserved.join(", ")})`);
      }
      return {
        kind: "park",
        reason: `columns ${unknown.join(", ")} of ${message.table} not yet known at the DC`.slice(
          0,
          255,
        ),
      };
    }
    const values = dataColumns(table).map((c) =>
      c in message.row ? toSqlValue(table.columns.get(c)!.type, message.row[c], c) : null,
    );
    return {
      kind: "ready",
      change: { message, table, keyValues, values, bytes: bodyBytes, sortKey },
    };
  } catch (error) {
    if (error instanceof ValueError) return { kind: "reject", error };
    throw error;
  }
}

export interface WriteCounts {
  /** Rows inserted or updated with a newer change. */
  applied: number;
  /** Changes older than (or equal to) what the DC holds: no-ops. */
  stale: number;
  tombstones: number;
  /** Rows really deleted (--deletes apply). */
  deleted: number;
}

export function emptyCounts(): WriteCounts {
  return { applied: 0, stale: 0, tombstones: 0, deleted: 0 };
}

/** Statements stay well below max_allowed_packet (16 MiB MariaDB, 64 MiB MySQL default). */
const STATEMENT_BYTES = 4 * 1024 * 1024;

function chunkByBytes(changes: readonly PreparedChange[]): PreparedChange[][] {
  const out: PreparedChange[][] = [];
  let current: PreparedChange[] = [];
  let bytes = 0;
  for (const change of changes) {
    if (current.length > 0 && bytes + change.bytes > STATEMENT_BYTES) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(change);
    bytes += change.bytes;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** "Records: 10  Duplicates: 3  Warnings: 0" → 3 (0 for a single-row statement). */
function duplicatesOf(result: ResultSetHeader): number {
  const m = /Duplicates:\s*(\d+)/.exec(result.info ?? "");
  return m ? Number(m[1]) : 0;
}

/**
 * Counts of a versioned upsert of `n` rows. The pool connects without CLIENT_FOUND_ROWS, so
 * affected rows = 1 per insert + 2 per real update (0 for a row left unchanged), and the
 * server's info line counts as "Duplicates" the rows it really updated.
 */
function upsertCounts(result: ResultSetHeader, n: number): { applied: number; stale: number } {
  if (n === 1) {
    return result.affectedRows > 0 ? { applied: 1, stale: 0 } : { applied: 0, stale: 1 };
  }
  const updated = duplicatesOf(result);
  const inserted = Math.max(0, result.affectedRows - 2 * updated);
  return { applied: inserted + updated, stale: Math.max(0, n - inserted - updated) };
}

/** The change is newer than every change the DC applied to the row (any op). */
const NEWEST = "VALUES(`relay_outbox_id`) > `relay_outbox_id`";
/** The UPSERT is newer than the one whose values the row holds. */
const NEWER_DATA = "VALUES(`relay_outbox_id`) > COALESCE(`relay_row_outbox_id`, 0)";
const setIf = (condition: string, column: string, value = `VALUES(${quoteId(column)})`) =>
  `${quoteId(column)} = IF(${condition}, ${value}, ${quoteId(column)})`;
const ROW_VERSION =
  "`relay_row_outbox_id` = GREATEST(COALESCE(`relay_row_outbox_id`, 0), VALUES(`relay_row_outbox_id`))";
const VERSION_LAST = "`relay_outbox_id` = GREATEST(`relay_outbox_id`, VALUES(`relay_outbox_id`))";

export function keyHash(key: Readonly<Record<string, unknown>>): Buffer {
  return createHash("sha256").update(canonicalKey(key), "utf8").digest();
}

async function upsertRows(
  conn: PoolConnection,
  table: MirrorTable,
  changes: readonly PreparedChange[],
): Promise<{ applied: number; stale: number }> {
  const data = dataColumns(table);
  const columns = [
    "relay_region",
    ...table.primaryKey,
    ...data,
    "relay_changed_at",
    "relay_deleted_at",
    "relay_applied_at",
    "relay_row_outbox_id",
    "relay_outbox_id",
  ];
  const placeholders = `(?${", ?".repeat(1 + table.primaryKey.length + data.length)}, NULL, UTC_TIMESTAMP(6), ?, ?)`;
  const params: unknown[] = [];
  for (const c of changes) {
    params.push(
      c.message.region,
      ...c.keyValues,
      ...c.values!,
      toMysqlDatetime(c.message.occurredAt),
      c.message.outboxId,
      c.message.outboxId,
    );
  }
  const updates = [
    ...data.map((c) => setIf(NEWER_DATA, c)),
    setIf(`${NEWER_DATA} OR ${NEWEST}`, "relay_applied_at"),
    setIf(NEWEST, "relay_changed_at"),
    setIf(NEWEST, "relay_deleted_at", "NULL"),
    ROW_VERSION,
    VERSION_LAST,
  ];
  const sql =
    `INSERT INTO ${quoteId(table.dcTable)} (${columns.map(quoteId).join(", ")}) VALUES ` +
    Array(changes.length).fill(placeholders).join(", ") +
    ` ON DUPLICATE KEY UPDATE ${updates.join(", ")}`;
  const [result] = await conn.query<ResultSetHeader>(sql, params);
  return upsertCounts(result, changes.length);
}

async function tombstoneRows(
  conn: PoolConnection,
  table: MirrorTable,
  changes: readonly PreparedChange[],
): Promise<{ applied: number; stale: number }> {
  const columns = [
    "relay_region",
    ...table.primaryKey,
    "relay_changed_at",
    "relay_deleted_at",
    "relay_applied_at",
    "relay_outbox_id",
  ];
  const placeholders = `(?${", ?".repeat(table.primaryKey.length)}, ?, ?, UTC_TIMESTAMP(6), ?)`;
  const params: unknown[] = [];
  for (const c of changes) {
    const at = toMysqlDatetime(c.message.occurredAt);
    params.push(c.message.region, ...c.keyValues, at, at, c.message.outboxId);
  }
  const sql =
    `INSERT INTO ${quoteId(table.dcTable)} (${columns.map(quoteId).join(", ")}) VALUES ` +
    Array(changes.length).fill(placeholders).join(", ") +
    ` ON DUPLICATE KEY UPDATE ${["relay_changed_at", "relay_deleted_at", "relay_applied_at"].map((c) => setIf(NEWEST, c)).join(", ")}, ${VERSION_LAST}`;
  const [result] = await conn.query<ResultSetHeader>(sql, params);
  return upsertCounts(result, changes.length);
}

function keyMatch(table: MirrorTable): string {
  return ["`relay_region` = ?", ...table.primaryKey.map((c) => `${quoteId(c)} = ?`)].join(" AND ");
}

async function deleteRows(
  conn: PoolConnection,
  table: MirrorTable,
  changes: readonly PreparedChange[],
): Promise<number> {
  const params: unknown[] = [];
  const clauses = changes.map((c) => {
    params.push(c.message.region, ...c.keyValues, c.message.outboxId);
    return `(${keyMatch(table)} AND \`relay_outbox_id\` < ?)`;
  });
  const [result] = await conn.query<ResultSetHeader>(
    `DELETE FROM ${quoteId(table.dcTable)} WHERE ${clauses.join(" OR ")}`,
    params,
  );
  const versions: unknown[] = [];
  for (const c of changes) {
    versions.push(
      table.dcTable,
      c.message.region,
      keyHash(c.message.key),
      c.message.outboxId,
      toMysqlDatetime(c.message.occurredAt),
    );
  }
  await conn.query(
    `INSERT INTO relay_deletes (dc_table, relay_region, key_hash, relay_outbox_id, deleted_at) VALUES ` +
      Array(changes.length).fill("(?, ?, ?, ?, ?)").join(", ") +
      ` ON DUPLICATE KEY UPDATE ${setIf(NEWEST, "deleted_at")}, ${VERSION_LAST}`,
    versions,
  );
  return result.affectedRows;
}

/** With --deletes apply: upserts not newer than a DELETE the DC applied are skipped. */
async function withoutDeleted(
  conn: PoolConnection,
  table: MirrorTable,
  upserts: readonly PreparedChange[],
): Promise<{ keep: PreparedChange[]; skipped: number }> {
  if (upserts.length === 0) return { keep: [], skipped: 0 };
  const params: unknown[] = [table.dcTable];
  const pairs = upserts.map((c) => {
    params.push(c.message.region, keyHash(c.message.key));
    return "(?, ?)";
  });
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT relay_region, key_hash, relay_outbox_id FROM relay_deletes
      WHERE dc_table = ? AND (relay_region, key_hash) IN (${pairs.join(", ")})`,
    params,
  );
  if (rows.length === 0) return { keep: [...upserts], skipped: 0 };
  const deleted = new Map<string, number>();
  for (const row of rows) {
    deleted.set(
      `${row.relay_region}\0${(row.key_hash as Buffer).toString("hex")}`,
      Number(row.relay_outbox_id),
    );
  }
  const keep = upserts.filter((c) => {
    const version = deleted.get(`${c.message.region}\0${keyHash(c.message.key).toString("hex")}`);
    return version === undefined || c.message.outboxId > version;
  });
  return { keep, skipped: upserts.length - keep.length };
}

/** How many statements `writeChanges` sends for these changes (1: no explicit transaction needed). */
export function statementCount(changes: readonly PreparedChange[], deletes: DeleteMode): number {
  if (deletes === "apply" && changes.length > 0) return 2; // a lookup, then the writes
  const kinds = new Set(changes.map((c) => `${c.table.dcTable}\0${c.message.op}`));
  const bytes = changes.reduce((n, c) => n + c.bytes, 0);
  return kinds.size === 1 && bytes <= STATEMENT_BYTES ? 1 : kinds.size + 1;
}

/**
 * Writes prepared changes inside the caller's transaction: per mirror table one multi-row
 * upsert and one tombstone statement (or delete + relay_deletes with `--deletes apply`), rows in
 * key order so concurrent transactions lock in the same order.
 */
export async function writeChanges(
  conn: PoolConnection,
  changes: readonly PreparedChange[],
  deletes: DeleteMode,
): Promise<WriteCounts> {
  const counts = emptyCounts();
  const byTable = new Map<string, PreparedChange[]>();
  for (const change of changes) {
    const list = byTable.get(change.table.dcTable) ?? [];
    list.push(change);
    byTable.set(change.table.dcTable, list);
  }
  for (const list of byTable.values()) {
    const table = list[0]!.table;
    list.sort((a, b) =>
      a.message.region === b.message.region
        ? a.sortKey < b.sortKey
          ? -1
          : a.sortKey > b.sortKey
            ? 1
            : a.message.outboxId - b.message.outboxId
        : a.message.region < b.message.region
          ? -1
          : 1,
    );
    // Two changes of one row in one batch: only the newest of each kind can win, the other is
    // stale already (the versioned statement would get the same result, with more work).
    const newest = (op: "UPSERT" | "DELETE") => {
      const out: PreparedChange[] = [];
      for (const c of list) {
        if (c.message.op !== op) continue;
        const last = out[out.length - 1];
        if (last && last.sortKey === c.sortKey && last.message.region === c.message.region) {
          counts.stale++;
          out[out.length - 1] = c; // sorted by outboxId within a key: c is newer
        } else out.push(c);
      }
      return out;
    };
    let upserts = newest("UPSERT");
    const removals = newest("DELETE");
    if (deletes === "apply") {
      const filtered = await withoutDeleted(conn, table, upserts);
      upserts = filtered.keep;
      counts.stale += filtered.skipped;
    }
    for (const chunk of chunkByBytes(upserts)) {
      const r = await upsertRows(conn, table, chunk);
      counts.applied += r.applied;
      counts.stale += r.stale;
    }
    for (const chunk of chunkByBytes(removals)) {
      if (deletes === "apply") {
        counts.deleted += await deleteRows(conn, table, chunk);
      } else {
        const r = await tombstoneRows(conn, table, chunk);
        counts.tombstones += r.applied;
        counts.stale += r.stale;
      }
    }
  }
  return counts;
}

/** Keeps changes whose schema the DC does not know yet (deduplicated by region + outboxId). */
export async function parkChanges(
  conn: PoolConnection,
  parked: readonly { message: ChangeMessage; body: string; reason: string }[],
): Promise<void> {
  if (parked.length === 0) return;
  const params: unknown[] = [];
  for (const p of parked) {
    params.push(p.message.region, p.message.table, p.message.outboxId, p.reason, p.body);
  }
  await conn.query(
    `INSERT INTO relay_pending (relay_region, source_table, relay_outbox_id, reason, body) VALUES ` +
      Array(parked.length).fill("(?, ?, ?, ?, ?)").join(", ") +
      " ON DUPLICATE KEY UPDATE reason = VALUES(reason)",
    params,
  );
}
