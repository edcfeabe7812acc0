/**
 * Shared set-up for the SQL suites: a migrated scratch database with the local lambda stand-in,
 * the envelope records dispatch produced (validated with the Lambda side's parsers), a model of
 * the DC (applies each change only if it is newer for its row, as the contract says) and an
 * independent oracle: the source tables' current rows read by mysql2 and encoded in TypeScript
 * the way contract/envelope.ts describes (`RelayValue`), to compare the DC with.
 */
import assert from "node:assert/strict";
import mysql from "mysql2/promise";
import type { DatabaseSettingsInput, RelayTable } from "../../contract/databaseSettings";
import {
  canonicalKey,
  parseEnvelope,
  type RelayEnvelope,
  type RelayRecord,
  type SchemaRecord,
} from "../../contract/envelope";
import { migrate, type MigrateOptions } from "../../sql/migrate";
import { createScratchDatabase, type ScratchDatabase } from "../support/mysql";

export type Rows = mysql.RowDataPacket[];

export const REGION = "ap-northeast-1";
export const ARN = "arn:aws:lambda:ap-northeast-1:123456789012:function:relay-notify";
/** The settings every SQL suite migrates with unless a test overrides some. */
export const SETTINGS = {
  region: REGION,
  functionArn: ARN,
  retentionHours: 24,
  dispatchBatchSize: 100,
  purgeIntervalMinutes: 5,
  // The suites written before confirmation (issue 14) test the hand-off rule; confirm.test.ts
  // migrates with purgeRequires "confirmed" (the product default).
  purgeRequires: "handedOff",
} satisfies DatabaseSettingsInput;

/** Options for `RelayDb.migrate`: any `MigrateOptions`, with `settings` merged over SETTINGS. */
export type MigrateOverrides = Partial<Omit<MigrateOptions, "settings">> & {
  settings?: Partial<DatabaseSettingsInput>;
};

export interface RelayDb {
  db: ScratchDatabase;
  sql: mysql.Connection;
  connect(): Promise<mysql.Connection>;
  migrate(extra?: MigrateOverrides): ReturnType<typeof migrate>;
  /** CALL relay_dispatch(). */
  dispatch(): Promise<void>;
  /** Every lambda_async call so far, validated with the Lambda side's parseEnvelope. */
  invocations(): Promise<{ functionArn: string; payload: string; envelope: RelayEnvelope }[]>;
  /** The records of every relay envelope so far (heartbeats left out), in call order. */
  records(): Promise<RelayRecord[]>;
  count(table: string, where?: string): Promise<number>;
  /**
   * Back to a freshly migrated state, much faster than a new database: the given storefront
   * tables, the outbox and the recorded calls emptied (TRUNCATE: no trigger fires), relay_state
   * and every relay_settings column back to their defaults, the settings written again.
   * `schema: true` also forgets the SCHEMA records sent (the next rows are announced again).
   */
  reset(tables?: readonly string[], options?: { schema?: boolean }): Promise<void>;
  close(): Promise<void>;
}

/** Creates and migrates a scratch database; the relay's events are disabled (tests CALL). */
export async function relayDb(
  prefix: string,
  options: { migrate?: boolean; tables?: RelayTable[]; schema?: string } = {},
): Promise<RelayDb> {
  const db = await createScratchDatabase(prefix);
  const connections: mysql.Connection[] = [];
  const connect = async () => {
    const connection = await mysql.createConnection({
      uri: db.url,
      multipleStatements: true,
      charset: "utf8mb4_general_ci",
      supportBigNumbers: true,
    });
    connections.push(connection);
    return connection;
  };
  const doMigrate = async ({ settings, ...extra }: MigrateOverrides = {}) => {
    const result = await migrate({
      url: db.url,
      localLambda: true,
      ...extra,
      settings: {
        ...SETTINGS,
        ...(options.tables ? { tables: options.tables } : {}),
        ...settings,
      },
    });
    // Deterministic tests even on a MYSQL_URL server with event_scheduler=ON.
    const c = await mysql.createConnection({ uri: db.url });
    await c.query("ALTER EVENT relay_dispatch_event DISABLE");
    await c.query("ALTER EVENT relay_dispatch_helper_event DISABLE");
    await c.query("ALTER EVENT relay_purge_event DISABLE");
    await c.query("ALTER EVENT relay_heartbeat_event DISABLE");
    await c.end();
    return result;
  };
  const sql = await connect();
  if (options.schema) await sql.query(options.schema);
  if (options.migrate !== false) await doMigrate();
  const invocations = async () => {
    const [rows] = await sql.query<Rows>(
      "SELECT function_arn, payload FROM lambda_invocations ORDER BY id",
    );
    return rows
      .filter((row) => !String(row.payload).includes('"heartbeat"'))
      .map((row) => ({
        functionArn: String(row.function_arn),
        payload: String(row.payload),
        envelope: parseEnvelope(JSON.parse(String(row.payload))),
      }));
  };
  return {
    db,
    sql,
    connect,
    migrate: doMigrate,
    async dispatch() {
      await sql.query("CALL relay_dispatch()");
    },
    invocations,
    async records() {
      return (await invocations()).flatMap((i) => i.envelope.records);
    },
    async reset(tables = ["order_data"], { schema = false } = {}) {
      await sql.query(
        [
          "SET FOREIGN_KEY_CHECKS = 0",
          ...tables.map((t) => `TRUNCATE TABLE \`${t}\``),
          "SET FOREIGN_KEY_CHECKS = 1",
          "TRUNCATE TABLE relay_outbox",
          "TRUNCATE TABLE lambda_invocations",
          "DELETE FROM relay_state",
          "INSERT INTO relay_state (id) VALUES (1)",
          "UPDATE local_lambda_state SET fail = FALSE",
          ...(schema ? ["UPDATE relay_tables SET schema_sent_sig = NULL"] : []),
          `UPDATE relay_settings SET ${[
            "max_payload_bytes",
            "dispatch_max_batches",
            "dispatch_max_ms",
            "purge_batch_size",
            "purge_max_ms",
            "backfill_chunk_rows",
          ]
            .map((c) => `${c} = DEFAULT(${c})`)
            .join(", ")}`,
        ].join("; "),
      );
      await doMigrate();
    },
    async count(table, where = "1 = 1") {
      const [rows] = await sql.query<Rows>(`SELECT COUNT(*) AS n FROM ${table} WHERE ${where}`);
      return Number(rows[0].n);
    },
    async close() {
      await Promise.all(connections.map((c) => c.end().catch(() => {})));
      await db.drop();
    },
  };
}

/** Dispatch until nothing is pending and no backfill or resync is running. */
export async function drain(r: RelayDb): Promise<void> {
  await r.sql.query("UPDATE relay_settings SET dispatch_max_ms = 60000");
  for (let i = 0; i < 20; i++) {
    await r.dispatch();
    const [[s]] = await r.sql.query<Rows>("SELECT pending, backfill_incomplete FROM relay_status");
    if (Number(s.pending) === 0 && Number(s.backfill_incomplete) === 0) return;
  }
  throw new Error("the relay did not drain");
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Records of one kind. */
export const upserts = (records: RelayRecord[]) =>
  records.filter((r): r is Extract<RelayRecord, { op: "UPSERT" }> => r.op === "UPSERT");

/** What the DC holds after applying `records` as the contract says (newer outboxId wins). */
export interface DcModel {
  /** table → canonical key → the row's latest state (null: deleted). */
  rows: Map<string, Map<string, { outboxId: number; row: Record<string, unknown> | null }>>;
  /** table → the newest SCHEMA record. */
  schemas: Map<string, SchemaRecord>;
}

export function applyToDc(records: RelayRecord[], dc?: DcModel): DcModel {
  const model = dc ?? { rows: new Map(), schemas: new Map() };
  for (const record of records) {
    if (record.op === "SCHEMA") {
      const known = model.schemas.get(record.table);
      if (known && known.outboxId >= record.outboxId) continue;
      model.schemas.set(record.table, record);
      if (known && known.schema.primaryKey.join("\n") !== record.schema.primaryKey.join("\n")) {
        // Keyed differently now: the mirror starts over (the relay re-sends every row).
        model.rows.delete(record.table);
        continue;
      }
      // A mirror table follows its source: dropped columns go, added ones start as NULL (rows
      // changed later, or a resync, bring their values).
      const names = record.schema.columns.map((c) => c.name);
      for (const entry of model.rows.get(record.table)?.values() ?? []) {
        if (!entry.row) continue;
        entry.row = Object.fromEntries(names.map((n) => [n, entry.row![n] ?? null]));
      }
      continue;
    }
    const table = model.rows.get(record.table) ?? new Map();
    model.rows.set(record.table, table);
    const key = canonicalKey(record.key);
    const known = table.get(key);
    if (known && known.outboxId >= record.outboxId) continue;
    table.set(key, { outboxId: record.outboxId, row: record.op === "UPSERT" ? record.row : null });
  }
  return model;
}

/** The DC's live rows of a table (deleted ones left out), by canonical key. */
export function dcRows(model: DcModel, table: string): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  for (const [key, value] of model.rows.get(table) ?? []) {
    if (value.row) out.set(key, value.row);
  }
  return out;
}

/**
 * Checks the stream is well-formed for the DC: every record of a row carries a larger outboxId
 * than the previous record of that row, every UPSERT's key matches its row, and a table's rows
 * come after a SCHEMA record whose columns are exactly the row's columns.
 */
export function assertWellFormed(records: RelayRecord[]): void {
  const lastByRow = new Map<string, number>();
  const schema = new Map<string, string[]>();
  for (const record of records) {
    if (record.op === "SCHEMA") {
      schema.set(
        record.table,
        record.schema.columns.map((c) => c.name),
      );
      continue;
    }
    const rowKey = `${record.table}:${canonicalKey(record.key)}`;
    const last = lastByRow.get(rowKey);
    assert.ok(
      last === undefined || last < record.outboxId,
      `${rowKey}: outboxId ${record.outboxId} after ${last}`,
    );
    lastByRow.set(rowKey, record.outboxId);
    if (record.op === "UPSERT") {
      const columns = schema.get(record.table);
      assert.ok(columns, `${record.table}: a row before any SCHEMA record`);
      assert.deepEqual(Object.keys(record.row).sort(), [...columns].sort(), `${rowKey} columns`);
      for (const [column, value] of Object.entries(record.key)) {
        assert.deepEqual(record.row[column], value, `${rowKey}: key column ${column} in row`);
      }
    }
  }
}

interface ColumnInfo {
  name: string;
  dataType: string;
  isJson: boolean;
  key: boolean;
}

/** Column types of a table (MariaDB JSON = LONGTEXT with a json_valid check). */
export async function columnsOf(sql: mysql.Connection, table: string): Promise<ColumnInfo[]> {
  const [columns] = await sql.query<Rows>(
    `SELECT c.COLUMN_NAME AS name, c.DATA_TYPE AS type, c.COLUMN_KEY AS k,
            EXISTS (SELECT 1 FROM information_schema.CHECK_CONSTRAINTS x
                     WHERE x.CONSTRAINT_SCHEMA = c.TABLE_SCHEMA AND x.TABLE_NAME = c.TABLE_NAME
                       AND x.CONSTRAINT_NAME = c.COLUMN_NAME
                       AND x.CHECK_CLAUSE LIKE 'json_valid(%') AS j
       FROM information_schema.COLUMNS c
      WHERE c.TABLE_SCHEMA = DATABASE() AND c.TABLE_NAME = ? ORDER BY c.ORDINAL_POSITION`,
    [table],
  );
  return columns.map((c) => ({
    name: String(c.name),
    dataType: String(c.type),
    isJson: String(c.type) === "json" || Number(c.j) === 1,
    key: c.k === "PRI",
  }));
}

const BASE64_TYPES = new Set([
  "bit",
  "binary",
  "varbinary",
  "tinyblob",
  "blob",
  "mediumblob",
  "longblob",
  "geometry",
  "point",
  "linestring",
  "polygon",
]);

/** The contract's encoding of one value mysql2 read (text protocol, dateStrings, UTC session). */
export function encodeValue(column: ColumnInfo, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  const type = column.dataType;
  if (column.isJson) return JSON.parse(String(value));
  if (BASE64_TYPES.has(type)) return { $base64: (value as Buffer).toString("base64") };
  if (["tinyint", "smallint", "mediumint", "int", "float", "double"].includes(type)) {
    return Number(value);
  }
  if (type === "timestamp") {
    const text = String(value);
    return `${text.replace(" ", "T")}Z`;
  }
  return Buffer.isBuffer(value) ? value.toString("utf8") : String(value);
}

const quote = (name: string) => `\`${name.replace(/`/g, "``")}\``;

/** The oracle: the table's rows now, encoded per the contract, by canonical key. */
export async function sourceRows(
  url: string,
  table: string,
  exclude: readonly string[] = [],
): Promise<Map<string, Record<string, unknown>>> {
  const jsonColumns = new Set<string>();
  const connection = await mysql.createConnection({
    uri: url,
    charset: "utf8mb4_general_ci",
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    timezone: "Z",
    typeCast(field, next) {
      if (field.type === "GEOMETRY" || field.type === "BIT") return field.buffer();
      // A JSON column's text as stored (mysql2 would parse it, and a JSON string is ambiguous).
      if (field.type === "JSON" || jsonColumns.has(field.name)) return field.string();
      return next();
    },
  });
  try {
    await connection.query("SET time_zone = '+00:00'");
    const columns = (await columnsOf(connection, table)).filter((c) => !exclude.includes(c.name));
    for (const column of columns) if (column.isJson) jsonColumns.add(column.name);
    const [rows] = await connection.query<Rows>(
      `SELECT ${columns.map((c) => quote(c.name)).join(", ")} FROM ${quote(table)}`,
    );
    const out = new Map<string, Record<string, unknown>>();
    for (const row of rows) {
      const encoded: Record<string, unknown> = {};
      for (const column of columns) encoded[column.name] = encodeValue(column, row[column.name]);
      const key = Object.fromEntries(
        columns.filter((c) => c.key).map((c) => [c.name, encoded[c.name]]),
      );
      out.set(canonicalKey(key), encoded);
    }
    return out;
  } finally {
    await connection.end();
  }
}

/** The DC (after `records`) holds exactly the source's rows of `table`, value for value. */
export async function assertDcMatchesSource(
  url: string,
  records: RelayRecord[],
  table: string,
  exclude: readonly string[] = [],
): Promise<void> {
  const dc = dcRows(applyToDc(records), table);
  const source = await sourceRows(url, table, exclude);
  assert.deepEqual([...dc.keys()].sort(), [...source.keys()].sort(), `${table}: the same rows`);
  for (const [key, row] of source) assert.deepEqual(dc.get(key), row, `${table} ${key}`);
}
