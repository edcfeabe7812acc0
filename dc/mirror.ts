/**
 * Mirror tables at the DC: one per relayed source table, created and evolved from the SCHEMA
 * records the relay sends — never from DDL written by hand at the DC.
 *
 * Layout of a mirror table (name = `--table-prefix` + source table):
 *   relay_region      VARCHAR(64) ASCII  NOT NULL   region of the source database
 *   <key columns>     source types       NOT NULL   the source's primary key
 *   <other columns>   source types       NULL       every relayed column (NULL when absent)
 *   relay_outbox_id   BIGINT UNSIGNED    NOT NULL   outboxId of the newest change applied (any op)
 *   relay_row_outbox_id BIGINT UNSIGNED  NULL       outboxId of the UPSERT the columns hold
 *   relay_changed_at  DATETIME(6)        NOT NULL   when the newest change was captured (UTC)
 *   relay_deleted_at  DATETIME(6)        NULL       tombstone: when the source row was deleted
 *   relay_applied_at  DATETIME(6)        NOT NULL   when the DC last wrote it (UTC)
 *   PRIMARY KEY (relay_region, <key columns>)
 * Every non-key column is nullable: a dropped source column stays and is NULL from then on, and
 * a tombstone of a row the DC never saw has only its key. Two versions, so that the result does
 * not depend on arrival order (the regional queues are standard queues and may reorder): the
 * columns hold the newest UPSERT (relay_row_outbox_id), the row is deleted iff the newest change
 * of all (relay_outbox_id) is a DELETE.
 *
 * The DC keeps what it learned in `relay_schemas` (one row per region and source table: the last
 * SCHEMA record applied, by outboxId), so a restart — or another consumer process — knows it;
 * the mirror table itself (information_schema) is the truth for what can be written. DDL is
 * serialised across processes with GET_LOCK and never runs inside a data transaction.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Pool, PoolConnection, RowDataPacket } from "mysql2/promise";
import type { RelayColumn, SchemaRecord } from "../contract/envelope";
import { joinTypes, parseColumnType, SchemaConflictError, typeSql, type ColumnType } from "./types";

/** Bookkeeping columns of every mirror table; a source column may not have these names. */
export const BOOKKEEPING_COLUMNS = [
  "relay_region",
  "relay_outbox_id",
  "relay_row_outbox_id",
  "relay_changed_at",
  "relay_deleted_at",
  "relay_applied_at",
] as const;

/** The DC's own tables (dc/schema.sql). */
export const DC_TABLES = ["relay_schemas", "relay_pending", "relay_deletes"] as const;

const SCHEMA_LOCK = "order_relay_dc_schema";

export function quoteId(name: string): string {
  return `\`${name.replace(/`/g, "``")}\``;
}

/** Creates the DC's bookkeeping tables (dc/schema.sql, idempotent). */
export async function ensureDcSchema(pool: Pool): Promise<void> {
  const sql = fs.readFileSync(path.join(__dirname, "schema.sql"), "utf8");
  for (const statement of sql
    .split(/;\s*$/m)
    .map((s) => s.replace(/^\s*--.*$/gm, "").trim())
    .filter(Boolean)) {
    await pool.query(statement);
  }
}

export interface MirrorColumn {
  readonly name: string;
  readonly type: ColumnType;
}

export interface MirrorTable {
  readonly dcTable: string;
  /** Source primary-key columns, in key order (after relay_region). */
  readonly primaryKey: readonly string[];
  /** Source columns (key columns included), by name. */
  readonly columns: ReadonlyMap<string, MirrorColumn>;
}

export interface SchemaApplied {
  readonly dcTable: string;
  readonly created: boolean;
  readonly added: string[];
  readonly widened: string[];
  /** An older SCHEMA than the one the DC holds for this region and table: nothing done. */
  readonly stale: boolean;
}

export interface MirrorCatalogOptions {
  readonly tablePrefix?: string;
}

/** The mirror tables of one DC database, cached; every process keeps its own cache. */
export class MirrorCatalog {
  readonly tablePrefix: string;
  private readonly cache = new Map<string, MirrorTable | null>();
  private ddlQueue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly pool: Pool,
    options: MirrorCatalogOptions = {},
  ) {
    this.tablePrefix = options.tablePrefix ?? "";
  }

  /** The DC table of a source table; throws SchemaConflictError if the name cannot be used. */
  dcTableName(sourceTable: string): string {
    const name = `${this.tablePrefix}${sourceTable}`;
    if (name.length > 64) {
      throw new SchemaConflictError(
        `table ${sourceTable}: the DC name ${name} is longer than 64 characters (shorten --table-prefix)`,
      );
    }
    if ((DC_TABLES as readonly string[]).includes(name.toLowerCase())) {
      throw new SchemaConflictError(
        `table ${sourceTable}: ${name} is one of the DC's bookkeeping tables; start the consumer with --table-prefix`,
      );
    }
    return name;
  }

  invalidate(dcTable?: string): void {
    if (dcTable === undefined) this.cache.clear();
    else this.cache.delete(dcTable);
  }

  /** The mirror table as it is (cached; `refresh` re-reads information_schema). */
  async get(dcTable: string, refresh = false): Promise<MirrorTable | undefined> {
    if (!refresh && this.cache.has(dcTable)) return this.cache.get(dcTable) ?? undefined;
    const table = await readMirrorTable(this.pool, dcTable);
    this.cache.set(dcTable, table ?? null);
    return table;
  }

  /**
   * Creates or evolves the mirror table of `record.table` for `region`: missing columns are
   * added, columns whose new source type the DC type does not hold are widened. What cannot be
   * followed safely (a type no DC type holds with the stored values, a changed primary key) is
   * a SchemaConflictError naming the columns — after the safe parts were applied, so rows that
   * only need those can flow.
   */
  applySchema(region: string, record: SchemaRecord): Promise<SchemaApplied> {
    const run = this.ddlQueue.then(() => this.applySchemaLocked(region, record));
    this.ddlQueue = run.catch(() => undefined);
    return run;
  }

  private async applySchemaLocked(region: string, record: SchemaRecord): Promise<SchemaApplied> {
    const dcTable = this.dcTableName(record.table);
    const wanted = checkSchemaRecord(record);
    const conn = await this.pool.getConnection();
    let locked = false;
    try {
      const [[lock]] = await conn.query<RowDataPacket[]>("SELECT GET_LOCK(?, 60) AS ok", [
        SCHEMA_LOCK,
      ]);
      if (Number(lock?.ok) !== 1) {
        // Another process holds the DDL lock for a minute: a lock wait, retried like one.
        throw Object.assign(new Error("DC schema lock not acquired within 60 s"), {
          code: "ER_LOCK_WAIT_TIMEOUT",
          errno: 1205,
        });
      }
      locked = true;
      const [known] = await conn.query<RowDataPacket[]>(
        "SELECT schema_outbox_id FROM relay_schemas WHERE relay_region = ? AND source_table = ?",
        [region, record.table],
      );
      const current = await readMirrorTable(conn, dcTable);
      if (current && known.length > 0 && Number(known[0]!.schema_outbox_id) >= record.outboxId) {
        this.cache.set(dcTable, current);
        return { dcTable, created: false, added: [], widened: [], stale: true };
      }
      let result: SchemaApplied;
      const conflicts: string[] = [];
      if (!current) {
        await conn.query(createTableSql(dcTable, record, wanted));
        result = { dcTable, created: true, added: [], widened: [], stale: false };
      } else {
        if (
          current.primaryKey.length !== record.schema.primaryKey.length ||
          current.primaryKey.some((c, i) => c !== record.schema.primaryKey[i])
        ) {
          conflicts.push(
            `primary key (${record.schema.primaryKey.join(", ")}) differs from the DC's (${current.primaryKey.join(", ")})`,
          );
        }
        const clauses: string[] = [];
        const added: string[] = [];
        const widened: string[] = [];
        for (const column of record.schema.columns) {
          const type = wanted.get(column.name)!;
          const existing = current.columns.get(column.name);
          const isKey = current.primaryKey.includes(column.name);
          if (!existing) {
            clauses.push(`ADD COLUMN ${quoteId(column.name)} ${typeSql(type)} NULL DEFAULT NULL`);
            added.push(column.name);
            continue;
          }
          const joined = joinTypes(existing.type, type);
          if (!joined) {
            conflicts.push(
              `column ${column.name}: ${typeSql(existing.type)} at the DC cannot hold ${typeSql(type)} (and ${typeSql(type)} cannot hold the stored values)`,
            );
          } else if (typeSql(joined) !== typeSql(existing.type)) {
            clauses.push(
              `MODIFY COLUMN ${quoteId(column.name)} ${isKey ? keyColumnSql(joined) : `${typeSql(joined)} NULL DEFAULT NULL`}`,
            );
            widened.push(`${column.name} ${typeSql(existing.type)} → ${typeSql(joined)}`);
          }
        }
        if (clauses.length > 0) {
          await conn.query(`ALTER TABLE ${quoteId(dcTable)} ${clauses.join(", ")}`);
        }
        result = { dcTable, created: false, added, widened, stale: false };
      }
      this.cache.set(dcTable, (await readMirrorTable(conn, dcTable)) ?? null);
      if (conflicts.length > 0) {
        throw new SchemaConflictError(
          `table ${record.table} (region ${region}, SCHEMA outboxId ${record.outboxId}): ${conflicts.join("; ")}`,
        );
      }
      await conn.query(
        `INSERT INTO relay_schemas (relay_region, source_table, dc_table, schema_outbox_id, columns_json, primary_key_json, occurred_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON DUPLICATE KEY UPDATE
           dc_table = IF(VALUES(schema_outbox_id) > schema_outbox_id, VALUES(dc_table), dc_table),
           columns_json = IF(VALUES(schema_outbox_id) > schema_outbox_id, VALUES(columns_json), columns_json),
           primary_key_json = IF(VALUES(schema_outbox_id) > schema_outbox_id, VALUES(primary_key_json), primary_key_json),
           occurred_at = IF(VALUES(schema_outbox_id) > schema_outbox_id, VALUES(occurred_at), occurred_at),
           applied_at = IF(VALUES(schema_outbox_id) > schema_outbox_id, CURRENT_TIMESTAMP(6), applied_at),
           schema_outbox_id = GREATEST(schema_outbox_id, VALUES(schema_outbox_id))`,
        [
          region,
          record.table,
          dcTable,
          record.outboxId,
          JSON.stringify(record.schema.columns),
          JSON.stringify(record.schema.primaryKey),
          record.occurredAt.replace("T", " ").replace(/Z$/, ""),
        ],
      );
      return result;
    } finally {
      if (locked) await conn.query("SELECT RELEASE_LOCK(?)", [SCHEMA_LOCK]).catch(() => undefined);
      conn.release();
    }
  }
}

/** Validates a SCHEMA record's names and types; returns each column's parsed type. */
function checkSchemaRecord(record: SchemaRecord): Map<string, ColumnType> {
  const problems: string[] = [];
  const types = new Map<string, ColumnType>();
  const seen = new Set<string>();
  for (const column of record.schema.columns) {
    const lower = column.name.toLowerCase();
    if (seen.has(lower)) problems.push(`column ${column.name} appears twice`);
    seen.add(lower);
    if ((BOOKKEEPING_COLUMNS as readonly string[]).includes(lower)) {
      problems.push(`column ${column.name} has the name of a DC bookkeeping column`);
    }
    try {
      types.set(column.name, parseColumnType(column.type));
    } catch (error) {
      problems.push(`column ${column.name}: ${(error as Error).message}`);
    }
  }
  for (const key of record.schema.primaryKey) {
    if (!record.schema.columns.some((c: RelayColumn) => c.name === key)) {
      problems.push(`primary-key column ${key} is not among the relayed columns`);
    }
  }
  if (problems.length > 0) {
    throw new SchemaConflictError(`table ${record.table}: ${problems.join("; ")}`);
  }
  return types;
}

/**
 * A key column's definition. A TIMESTAMP gets an explicit DEFAULT: without one, a server running
 * with explicit_defaults_for_timestamp=OFF (MariaDB before 10.10) would make the first
 * TIMESTAMP NOT NULL column ON UPDATE CURRENT_TIMESTAMP — and rewrite the key on every update.
 */
function keyColumnSql(type: ColumnType): string {
  return type.kind === "timestamp"
    ? `${typeSql(type)} NOT NULL DEFAULT '1970-01-01 00:00:01'`
    : `${typeSql(type)} NOT NULL`;
}

function createTableSql(
  dcTable: string,
  record: SchemaRecord,
  types: ReadonlyMap<string, ColumnType>,
): string {
  const key = record.schema.primaryKey;
  const columns = [
    "`relay_region` VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL",
    ...key.map((name) => `${quoteId(name)} ${keyColumnSql(types.get(name)!)}`),
    ...record.schema.columns
      .filter((c) => !key.includes(c.name))
      .map((c) => `${quoteId(c.name)} ${typeSql(types.get(c.name)!)} NULL DEFAULT NULL`),
    "`relay_outbox_id` BIGINT UNSIGNED NOT NULL",
    "`relay_row_outbox_id` BIGINT UNSIGNED NULL DEFAULT NULL",
    "`relay_changed_at` DATETIME(6) NOT NULL",
    "`relay_deleted_at` DATETIME(6) NULL DEFAULT NULL",
    "`relay_applied_at` DATETIME(6) NOT NULL",
    `PRIMARY KEY (\`relay_region\`, ${key.map(quoteId).join(", ")})`,
  ];
  const comment = `order-relay mirror of ${record.table}`
    .replace(/'/g, "''")
    .replace(/\\/g, "\\\\");
  return (
    `CREATE TABLE IF NOT EXISTS ${quoteId(dcTable)} (\n  ${columns.join(",\n  ")}\n)` +
    ` ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin COMMENT='${comment}'`
  );
}

/** Reads a mirror table from information_schema; undefined if it does not exist. */
async function readMirrorTable(
  db: Pool | PoolConnection,
  dcTable: string,
): Promise<MirrorTable | undefined> {
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
    [dcTable],
  );
  if (rows.length === 0) return undefined;
  const [keyRows] = await db.query<RowDataPacket[]>(
    `SELECT COLUMN_NAME AS name FROM information_schema.KEY_COLUMN_USAGE
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY'
      ORDER BY ORDINAL_POSITION`,
    [dcTable],
  );
  const names = rows.map((r) => String(r.name));
  const keys = keyRows.map((r) => String(r.name));
  if (!names.includes("relay_outbox_id") || keys[0] !== "relay_region") {
    throw new SchemaConflictError(
      `a table named ${dcTable} exists at the DC but is not a relay mirror table (no relay_outbox_id / relay_region key); rename it or use --table-prefix`,
    );
  }
  const columns = new Map<string, MirrorColumn>();
  for (const row of rows) {
    const name = String(row.name);
    if ((BOOKKEEPING_COLUMNS as readonly string[]).includes(name)) continue;
    columns.set(name, { name, type: parseColumnType(String(row.type)) });
  }
  return { dcTable, primaryKey: keys.slice(1), columns };
}
