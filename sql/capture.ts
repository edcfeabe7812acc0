/**
 * Capture: the generated triggers on every listed storefront table — their one definition — and
 * the per-table bookkeeping the migration runner keeps in `relay_tables`. No .sql file creates a
 * capture trigger: the runner calls `syncCapture` after the routines, with the settings' `tables`.
 *
 * For each listed table, three AFTER triggers (INSERT, UPDATE, DELETE) each insert one row into
 * relay_outbox, in the storefront's own transaction: `(table_name, op, key_json, occurred_at)`,
 * where key_json is `JSON_OBJECT` of the primary-key columns encoded like the envelope
 * (`relay_key_expr` in sql/routines/relay_columns.sql: integers as numbers, BIGINT/DECIMAL as
 * exact strings, binary as `{"$base64"}`, TIMESTAMP as UTC ISO-8601 — never a cast to an integer,
 * so '000123' and '0123' stay two keys). No other column is named: adding, dropping or renaming a
 * non-key column never touches the trigger, and no value of any size or type is copied (a BLOB
 * with non-UTF-8 bytes, a 16 MiB row: nothing to fail on). relay_dispatch() reads the row's
 * current state when it hands the change off. An UPDATE that changes the key records a DELETE of
 * the old key and an UPSERT of the new one; the AFTER DELETE trigger skips the relay's own purge
 * (`@relay_purging`, set by relay_purge()). (Rows deleted by ON DELETE CASCADE or TRUNCATE fire no
 * trigger in MySQL: see the README's limitations.)
 *
 * Triggers are named `relay_<ins|upd|del>_<table>_<hash of the body>`. A changed body (the key
 * columns changed, or this generator) is installed by creating the new trigger first and dropping
 * the old one after, so there is no instant without capture (both run for a moment: a duplicate
 * change is harmless). A table dropped from the list loses its triggers; the first release's
 * `relay_order_data_after_insert` is replaced the same way.
 *
 * Before anything is changed, `checkTables` refuses — one line naming the table and the fix — an
 * unknown table, a view, a table without a primary key, a key over a column prefix or an
 * approximate number, a key column in excludeColumns, a parent.column that does not exist and a
 * parent with a composite key.
 *
 * Then, per listed table: relay_tables row (list position, excluded columns, parent, purge rank,
 * the key the triggers capture), relay_table_refresh() (cached statements for dispatch, purge and
 * backfill), a pending SCHEMA record when the relayed columns differ from the last one sent (so
 * the DC learns the table's shape on install and after every change), and — for a new table, a
 * re-listed one, a changed key or an interrupted run — relay_backfill_table(), resumable and
 * verified; a table whose backfill stays incomplete fails the migration.
 */
import { createHash } from "node:crypto";
import type mysql from "mysql2/promise";
import type { RelayTable } from "../contract/databaseSettings";

/** The first release's trigger (AFTER INSERT on order_data, copying every column). */
export const LEGACY_TRIGGER = "relay_order_data_after_insert";
/** Names of the generated triggers: relay_<ins|upd|del>_<table (≤ 45)>_<8 hex>. */
export const CAPTURE_TRIGGER_PATTERN = /^relay_(ins|upd|del)_[A-Za-z0-9_$]*_[0-9a-f]{8}$/;
/** Session variable relay_purge() sets while it deletes; the DELETE trigger skips then. */
export const PURGE_SESSION_VARIABLE = "@relay_purging";

type Event = "INSERT" | "UPDATE" | "DELETE";
const EVENTS: readonly Event[] = ["INSERT", "UPDATE", "DELETE"];
const SHORT: Record<Event, string> = { INSERT: "ins", UPDATE: "upd", DELETE: "del" };

/** A SQL string literal (no backslash escapes needed: table names are plain identifiers). */
function sqlString(value: string): string {
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}

/** A quoted identifier. */
export function sqlIdentifier(value: string): string {
  return `\`${value.replace(/`/g, "``")}\``;
}

/** What a trigger needs to know about its table. */
export interface CaptureKey {
  readonly table: string;
  /** Primary-key columns in key order. */
  readonly keyColumns: readonly string[];
  /** JSON_OBJECT of the key through NEW (relay_key_expr(table, 'NEW')). */
  readonly keyNew: string;
  /** The same through OLD. */
  readonly keyOld: string;
}

function outboxInsert(table: string, op: "UPSERT" | "DELETE", key: string): string {
  return (
    "INSERT INTO relay_outbox (table_name, op, key_json, occurred_at) " +
    `VALUES (${sqlString(table)}, '${op}', ${key}, UTC_TIMESTAMP(3))`
  );
}

/** The three trigger bodies for a table (the text after FOR EACH ROW). */
export function triggerBodies(key: CaptureKey): Record<Event, string> {
  // Byte comparison: a key changed only in case or trailing spaces is still a new key for the DC.
  const sameKey = key.keyColumns
    .map((c) => `CAST(OLD.${sqlIdentifier(c)} AS BINARY) = CAST(NEW.${sqlIdentifier(c)} AS BINARY)`)
    .join(" AND ");
  return {
    INSERT: outboxInsert(key.table, "UPSERT", key.keyNew),
    UPDATE:
      "BEGIN\n" +
      `  IF NOT (${sameKey}) THEN\n` +
      `    ${outboxInsert(key.table, "DELETE", key.keyOld)};\n` +
      "  END IF;\n" +
      `  ${outboxInsert(key.table, "UPSERT", key.keyNew)};\n` +
      "END",
    DELETE:
      "BEGIN\n" +
      `  IF ${PURGE_SESSION_VARIABLE} IS NULL THEN\n` +
      `    ${outboxInsert(key.table, "DELETE", key.keyOld)};\n` +
      "  END IF;\n" +
      "END",
  };
}

/** relay_<ins|upd|del>_<table>_<hash>: at most 64 characters, unique per table, event and body. */
export function triggerName(table: string, event: Event, body: string): string {
  const hash = createHash("sha256").update(`${table}\n${event}\n${body}`).digest("hex").slice(0, 8);
  return `relay_${SHORT[event]}_${table.slice(0, 45)}_${hash}`;
}

export function createTriggerSql(table: string, event: Event, body: string): string {
  return (
    `CREATE TRIGGER ${sqlIdentifier(triggerName(table, event, body))} AFTER ${event} ` +
    `ON ${sqlIdentifier(table)} FOR EACH ROW ${body}`
  );
}

/**
 * A fingerprint of this generator's output (for `sqlChecksum`, so `pulumi up` re-runs the
 * migration when the trigger text would change).
 */
export function captureFingerprint(): string {
  const sample: CaptureKey = {
    table: "t",
    keyColumns: ["a", "b"],
    keyNew: "JSON_OBJECT('a', NEW.`a`, 'b', NEW.`b`)",
    keyOld: "JSON_OBJECT('a', OLD.`a`, 'b', OLD.`b`)",
  };
  const bodies = triggerBodies(sample);
  return createHash("sha256")
    .update(EVENTS.map((e) => createTriggerSql(sample.table, e, bodies[e])).join("\n"))
    .digest("hex");
}

/** A listed table the database cannot capture; `message` is one line naming it and the fix. */
export class CaptureConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CaptureConfigError";
  }
}

/** A backfill that is not verified complete (rows without an outbox entry remain). */
export class BackfillIncompleteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BackfillIncompleteError";
  }
}

type Rows = mysql.RowDataPacket[];

interface TableInfo {
  type: string;
  columns: Map<string, string>; // name → DATA_TYPE
  key: { column: string; subPart: number | null }[];
}

async function tableInfo(
  connection: mysql.Connection,
  names: readonly string[],
): Promise<Map<string, TableInfo>> {
  const info = new Map<string, TableInfo>();
  if (names.length === 0) return info;
  const [tables] = await connection.query<Rows>(
    `SELECT TABLE_NAME AS name, TABLE_TYPE AS type FROM information_schema.TABLES
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?)`,
    [names],
  );
  for (const t of tables) {
    info.set(String(t.name), { type: String(t.type), columns: new Map(), key: [] });
  }
  const [columns] = await connection.query<Rows>(
    `SELECT TABLE_NAME AS t, COLUMN_NAME AS name, DATA_TYPE AS type FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?) ORDER BY TABLE_NAME, ORDINAL_POSITION`,
    [names],
  );
  for (const c of columns) info.get(String(c.t))?.columns.set(String(c.name), String(c.type));
  const [keys] = await connection.query<Rows>(
    `SELECT TABLE_NAME AS t, COLUMN_NAME AS name, SUB_PART AS sub FROM information_schema.STATISTICS
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?) AND INDEX_NAME = 'PRIMARY'
      ORDER BY TABLE_NAME, SEQ_IN_INDEX`,
    [names],
  );
  for (const k of keys) {
    info.get(String(k.t))?.key.push({
      column: String(k.name),
      subPart: k.sub === null ? null : Number(k.sub),
    });
  }
  return info;
}

/**
 * Refuses a list the database cannot capture, before anything is changed: one line naming every
 * bad table and the fix. Read-only. Returns warnings (excluded columns that do not exist).
 */
export async function checkTables(
  connection: mysql.Connection,
  tables: readonly RelayTable[],
  where: string,
): Promise<string[]> {
  const info = await tableInfo(
    connection,
    tables.map((t) => t.name),
  );
  const problems: string[] = [];
  const warnings: string[] = [];
  for (const table of tables) {
    const t = info.get(table.name);
    const name = `"${table.name}"`;
    if (!t) {
      problems.push(
        `${name} is not a table in ${where} — create the storefront's schema first, or fix the name in order-relay:tables`,
      );
      continue;
    }
    if (t.type !== "BASE TABLE") {
      problems.push(`${name} is a ${t.type.toLowerCase()} — list the base table it reads`);
      continue;
    }
    if (t.key.length === 0) {
      problems.push(
        `${name} has no primary key — the relay keys every change by it: add one (ALTER TABLE ${table.name} ADD PRIMARY KEY (…)) or remove the table from order-relay:tables`,
      );
      continue;
    }
    for (const k of t.key) {
      const type = t.columns.get(k.column) ?? "";
      if (k.subPart !== null) {
        problems.push(
          `${name}: primary-key column "${k.column}" is indexed by a prefix (${k.column}(${k.subPart})) — the relay needs a key over whole columns`,
        );
      } else if (["float", "double", "real"].includes(type)) {
        problems.push(
          `${name}: primary-key column "${k.column}" is ${type.toUpperCase()}, an approximate number that cannot identify a row exactly — give the table an exact key`,
        );
      }
      if (table.excludeColumns.includes(k.column)) {
        problems.push(
          `${name}: excludeColumns lists primary-key column "${k.column}" — key columns are always relayed; remove it from excludeColumns`,
        );
      }
    }
    for (const column of table.excludeColumns) {
      if (!t.columns.has(column)) {
        warnings.push(
          `${table.name}: excluded column ${column} does not exist (nothing to exclude)`,
        );
      }
    }
    if (table.parent) {
      if (!t.columns.has(table.parent.column)) {
        problems.push(
          `${name}: parent.column "${table.parent.column}" is not a column of ${table.name} — name the column that holds the ${table.parent.table} key`,
        );
      }
      const parent = info.get(table.parent.table);
      if (parent && parent.key.length > 1) {
        problems.push(
          `${name}: parent "${table.parent.table}" has a composite primary key (${parent.key.map((k) => k.column).join(", ")}) — parent.column can refer to a single-column key only; drop parent (the child is then purged on its own retention)`,
        );
      }
    }
  }
  if (problems.length > 0) {
    throw new CaptureConfigError(`order-relay:tables: ${problems.join("; ")}`);
  }
  return warnings;
}

/** Depth below the root of each table (children are purged before their parents). */
function purgeRanks(tables: readonly RelayTable[]): Map<string, number> {
  const byName = new Map(tables.map((t) => [t.name, t]));
  const ranks = new Map<string, number>();
  for (const table of tables) {
    let depth = 0;
    for (let p = table.parent?.table; p !== undefined && depth < tables.length; depth++) {
      p = byName.get(p)?.parent?.table;
    }
    ranks.set(table.name, depth);
  }
  return ranks;
}

export type CaptureOutcome = "created" | "regenerated" | "unchanged";

export interface CaptureReport {
  readonly table: string;
  readonly triggers: CaptureOutcome;
  readonly keyColumns: readonly string[];
  /** Rows enqueued by a backfill that ran now (undefined: none was needed). */
  readonly backfilled?: number;
}

async function outVariable(connection: mysql.Connection, call: string, params: unknown[]) {
  await connection.query(call, params);
  const [[row]] = await connection.query<Rows>("SELECT @relay_capture_out AS v");
  return row.v === null ? null : String(row.v);
}

/**
 * Makes the database capture exactly `tables` (see the file header). Expects `checkTables` to
 * have passed and the routines to be installed.
 */
export async function syncCapture(
  connection: mysql.Connection,
  tables: readonly RelayTable[],
  log: (line: string) => void,
): Promise<CaptureReport[]> {
  const ranks = purgeRanks(tables);
  await connection.query("SET SESSION group_concat_max_len = 1048576");
  // DDL waits for the table's metadata lock (open storefront transactions): bounded.
  await connection.query("SET SESSION lock_wait_timeout = 60");

  // 1. The list, in relay_tables (a re-listed table is re-verified: it was not captured meanwhile).
  for (const [position, table] of tables.entries()) {
    await connection.query(
      `INSERT INTO relay_tables
         (table_name, listed, list_position, exclude_columns, parent_table, parent_column,
          purge_rank, backfill_state, updated_at)
       VALUES (?, TRUE, ?, ?, ?, ?, ?, 'pending', UTC_TIMESTAMP(6))
       ON DUPLICATE KEY UPDATE
         backfill_state = IF(listed, backfill_state, 'pending'),
         schema_sent_sig = IF(listed, schema_sent_sig, NULL),
         listed = TRUE, list_position = VALUES(list_position),
         exclude_columns = VALUES(exclude_columns), parent_table = VALUES(parent_table),
         parent_column = VALUES(parent_column), purge_rank = VALUES(purge_rank),
         updated_at = VALUES(updated_at)`,
      [
        table.name,
        position,
        JSON.stringify(table.excludeColumns),
        table.parent?.table ?? null,
        table.parent?.column ?? null,
        ranks.get(table.name) ?? 0,
      ],
    );
    // The key the triggers capture; a new key re-enqueues every row under it.
    await connection.query(
      `UPDATE relay_tables t
          JOIN (SELECT CONCAT('[', GROUP_CONCAT(JSON_QUOTE(COLUMN_NAME) ORDER BY SEQ_IN_INDEX), ']')
                       AS k
                  FROM information_schema.STATISTICS
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY') s
          SET t.backfill_state = IF(t.key_columns <=> s.k, t.backfill_state, 'pending'),
              t.key_columns = s.k
        WHERE t.table_name = ?`,
      [table.name, table.name],
    );
  }
  await connection.query(
    "UPDATE relay_tables SET listed = FALSE, updated_at = UTC_TIMESTAMP(6) WHERE listed AND table_name NOT IN (?)",
    [tables.map((t) => t.name)],
  );

  // 2. Cached statements, and the triggers.
  const [live] = await connection.query<Rows>(
    `SELECT TRIGGER_NAME AS name, EVENT_OBJECT_TABLE AS t, EVENT_MANIPULATION AS event
       FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()`,
  );
  const ours = live
    .map((row) => ({ name: String(row.name), table: String(row.t), event: String(row.event) }))
    .filter((t) => CAPTURE_TRIGGER_PATTERN.test(t.name) || t.name === LEGACY_TRIGGER);
  const reports: CaptureReport[] = [];
  for (const table of tables) {
    await connection.query("CALL relay_table_refresh(?)", [table.name]);
    const [[state]] = await connection.query<Rows>(
      "SELECT stale_reason, key_columns FROM relay_tables WHERE table_name = ?",
      [table.name],
    );
    if (state.stale_reason !== null) {
      throw new CaptureConfigError(`order-relay:tables: "${table.name}": ${state.stale_reason}`);
    }
    const keyColumns = JSON.parse(String(state.key_columns)) as string[];
    const keyNew = await outVariable(
      connection,
      "CALL relay_key_expr(?, 'NEW', @relay_capture_out)",
      [table.name],
    );
    const keyOld = await outVariable(
      connection,
      "CALL relay_key_expr(?, 'OLD', @relay_capture_out)",
      [table.name],
    );
    const bodies = triggerBodies({
      table: table.name,
      keyColumns,
      keyNew: keyNew!,
      keyOld: keyOld!,
    });
    let created = 0;
    let replaced = 0;
    for (const event of EVENTS) {
      const wanted = triggerName(table.name, event, bodies[event]);
      const existing = ours.filter((t) => t.table === table.name && t.event === event);
      if (!existing.some((t) => t.name === wanted)) {
        // New first, old after: no instant without capture.
        await connection.query(createTriggerSql(table.name, event, bodies[event]));
        created++;
      }
      for (const old of existing.filter((t) => t.name !== wanted)) {
        await connection.query(`DROP TRIGGER IF EXISTS ${sqlIdentifier(old.name)}`);
        replaced++;
      }
    }
    const outcome: CaptureOutcome =
      created === 0 ? "unchanged" : replaced > 0 ? "regenerated" : "created";
    if (outcome !== "unchanged") {
      log(`capture triggers ${outcome} for ${table.name} (key ${keyColumns.join(", ")})`);
    }
    reports.push({ table: table.name, triggers: outcome, keyColumns });
  }
  // Tables no longer listed lose their triggers (and the first release's trigger goes).
  const listed = new Set(tables.map((t) => t.name));
  for (const old of ours.filter((t) => !listed.has(t.table))) {
    await connection.query(`DROP TRIGGER IF EXISTS ${sqlIdentifier(old.name)}`);
    log(`capture trigger ${old.name} dropped (${old.table} is not listed)`);
  }

  // 3. The DC learns each table's shape before its rows (and again after every change).
  await connection.query(
    `INSERT INTO relay_outbox (table_name, op, key_json, occurred_at)
     SELECT t.table_name, 'SCHEMA', NULL, UTC_TIMESTAMP(3) FROM relay_tables t
      WHERE t.listed AND t.stale_reason IS NULL AND NOT (t.columns_sig <=> t.schema_sent_sig)
        AND NOT EXISTS (SELECT 1 FROM relay_outbox o
                         WHERE o.table_name = t.table_name AND o.op = 'SCHEMA'
                           AND o.handed_off_at IS NULL AND o.quarantined_at IS NULL)
      ORDER BY t.list_position`,
  );

  // 4. Existing rows: backfill what is not verified complete (resumes an interrupted one).
  for (const [index, report] of reports.entries()) {
    const [[before]] = await connection.query<Rows>(
      "SELECT backfill_state, backfill_rows FROM relay_tables WHERE table_name = ?",
      [report.table],
    );
    if (before.backfill_state === "complete") continue;
    log(
      `backfilling ${report.table}${before.backfill_state === "running" ? ` (resuming after ${before.backfill_rows} rows)` : ""}`,
    );
    await connection.query("CALL relay_backfill_table(?, NULL)", [report.table]);
    const [[after]] = await connection.query<Rows>(
      "SELECT backfill_state, backfill_rows, backfill_missing FROM relay_tables WHERE table_name = ?",
      [report.table],
    );
    if (after.backfill_state !== "complete") {
      throw new BackfillIncompleteError(
        `backfill of ${report.table} is not complete: ${after.backfill_missing ?? "?"} row(s) still have no outbox entry — run the migration again; relay_status shows it meanwhile`,
      );
    }
    log(`backfill of ${report.table} verified complete (${after.backfill_rows} row(s) enqueued)`);
    reports[index] = { ...report, backfilled: Number(after.backfill_rows) };
  }
  return reports;
}

/** Re-sends the current state of every row of `table` (relay_resync); returns the rows enqueued. */
export async function resyncTable(connection: mysql.Connection, table: string): Promise<number> {
  await connection.query("CALL relay_resync(?)", [table]);
  const [[row]] = await connection.query<Rows>(
    "SELECT backfill_rows FROM relay_tables WHERE table_name = ?",
    [table],
  );
  return Number(row.backfill_rows);
}
