/**
 * The migration runner: one implementation for the Pulumi program, `npm start`, the tests and the
 * CLI (`npm run db:migrate`). Safe to run any number of times. Each run, in this order:
 *
 * 0. **Checks** — the settings (contract/databaseSettings.ts) and their `tables` against the
 *    database (sql/capture.ts `checkTables`): an unknown table, a table without a primary key, a
 *    key column in excludeColumns, a parent.column that does not exist… are refused with one line
 *    naming the table and the fix, before anything is changed; so is a relay user without
 *    CREATE TEMPORARY TABLES (`RELAY_WORK_TABLE_PRIVILEGE`).
 * 1. **Migrations** — `sql/migrations/NNN_*.sql`: tables only (CREATE/ALTER TABLE, seed rows), in
 *    number order, each applied once and tracked with its checksum in `relay_schema_migrations`.
 *    An applied migration is immutable: a changed one is rejected (`ChangedMigrationError`); change
 *    a table with a new, higher-numbered file. Numbers 002–007 are retired (see
 *    `LEGACY_MIGRATIONS`); 008 turned the outbox into changes by key (relay_tables added).
 * 2. **Local migrations** — `sql/local/NNN_*.sql` (the lambda_async stand-in, which rejects
 *    payloads over the async-invoke limit like AWS), only with `localLambda`, tracked like
 *    migrations as `local/NNN_*.sql`. Never in AWS.
 * 3. **Routines** — `sql/routines/*.sql`: procedures, functions, events and views, re-applied
 *    whenever a file's checksum differs from the one in `relay_schema_routines` (Flyway's
 *    repeatable `R__` migrations), so a routine is edited in place. Each file drops and re-creates
 *    its objects (DROP … IF EXISTS + CREATE, or CREATE OR REPLACE VIEW). Order: file name. A
 *    procedure, function or event resolves the routines it calls when it runs, not when it is
 *    created, so their order does not matter; a view resolves the tables and views it reads at
 *    CREATE, so a view that reads another view must sort after it (relay_status after
 *    relay_overdue). An event tick that lands between a DROP and its CREATE fails once and the
 *    next tick runs the new routine (dispatch leaves its rows pending: nothing is lost). Removing
 *    a routine: leave its file with only the DROP statement.
 * 4. **Settings** — the one `DatabaseSettings` object, validated and written into
 *    `relay_settings` as a whole (with the contract's payload limits: MAX_RECORD_BYTES,
 *    ASYNC_INVOKE_PAYLOAD_LIMIT_BYTES); relay_purge_event re-scheduled to its interval.
 * 5. **Capture** — sql/capture.ts `syncCapture`: relay_tables, the generated INSERT/UPDATE/DELETE
 *    triggers of every listed table (re-created only when their text changes, without a gap;
 *    dropped for a table no longer listed), a SCHEMA record when a table's columns changed, and
 *    the backfill of every table whose backfill is not verified complete (resumed when a previous
 *    run was interrupted; a backfill that stays incomplete fails the run).
 * 6. **Resync** (only when asked: `resync: ["t"]`, `db:migrate -- --resync t`) — relay_resync():
 *    the current state of every row of the table is sent again.
 *
 * Each .sql file is sent as one multi-statement query (no DELIMITER needed: the server parses
 * compound CREATE PROCEDURE bodies itself). Every file is idempotent, so a file interrupted half
 * way is simply re-applied on the next run. A run holds GET_LOCK('relay_migrate.<db>').
 *
 * **Databases migrated by the previous layout** (every file in `sql/NNN_*.sql`, routines included)
 * have `relay_schema_migrations` rows for 001–007 and local/001. `001_relay_tables.sql` and
 * `local/001_lambda_async.sql` are byte-for-byte the same files today (same tracking name, same
 * checksum: skipped). The rows for 002–007 are superseded: their procedures, events and views now
 * belong to sql/routines/, which re-creates them on the first run (no `relay_schema_routines` rows
 * yet), and 002's trigger to sql/capture.ts, which replaces it by the capture-by-key triggers;
 * 008 converts the first release's outbox rows in place (see that file). The rows stay as history.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import mysql from "mysql2/promise";
import {
  checkDatabaseSettings,
  DatabaseSettingsError,
  type DatabaseSettings,
  type DatabaseSettingsInput,
  type RelayTable,
} from "../contract/databaseSettings";
import { ASYNC_INVOKE_PAYLOAD_LIMIT_BYTES, MAX_RECORD_BYTES } from "../contract/envelope";
import {
  BackfillIncompleteError,
  CaptureConfigError,
  captureFingerprint,
  checkTables,
  resyncTable,
  syncCapture,
  type CaptureReport,
} from "./capture";

/**
 * The grant the relay user needs besides its table/routine/event privileges: relay_dispatch()
 * and relay_purge() keep each batch in session-private TEMPORARY work tables (no redo, no
 * contention). Their definer (the migrating relay user) must hold it on the storefront database.
 */
export const RELAY_WORK_TABLE_PRIVILEGE = "CREATE TEMPORARY TABLES";

/** The directory holding migrations/, routines/ and local/. */
export const SQL_DIR = __dirname;

export interface MigrateOptions {
  /** mysql://user:pass@host:port/database (the database is created when missing and allowed). */
  url: string;
  /** Everything the routines read from relay_settings; validated, then written as a whole. */
  settings: DatabaseSettingsInput;
  /** Also apply sql/local/ (the lambda_async stand-in). Never in AWS. @default false */
  localLambda?: boolean;
  /**
   * Create the storefront's `order_data` with the seed schema when it is listed and missing
   * (local runs). Otherwise a missing table is an error: the storefront package owns it.
   * @default localLambda
   */
  createOrderData?: boolean;
  /** Tables whose current state is sent again after the migration (relay_resync). @default [] */
  resync?: readonly string[];
  /** Require TLS with the Amazon RDS CA bundle (Aurora has require_secure_transport ON). */
  tls?: boolean;
  log?: (line: string) => void;
  /** Directory with migrations/, routines/ and local/ (tests only). @default SQL_DIR */
  sqlDir?: string;
}

export interface MigrateResult {
  /**
   * Files applied this run, relative to the SQL directory, in order: `migrations/NNN_*.sql`,
   * `local/NNN_*.sql`, `routines/*.sql`.
   */
  applied: string[];
  /** Files that were already applied with the same checksum. */
  skipped: string[];
  /** What capture did per listed table (triggers, backfill). */
  capture: CaptureReport[];
  /** Rows re-enqueued per table asked for in `resync`. */
  resynced: { table: string; rows: number }[];
}

/** Base class of every expected migration failure: `message` is one clear line. */
export class MigrationError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = "MigrationError";
  }
}
export class InvalidOptionError extends MigrationError {
  constructor(message: string) {
    super(message, "INVALID_OPTION");
    this.name = "InvalidOptionError";
  }
}
export class DatabaseUnreachableError extends MigrationError {
  constructor(message: string) {
    super(message, "UNREACHABLE");
    this.name = "DatabaseUnreachableError";
  }
}
export class ChangedMigrationError extends MigrationError {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message, "CHANGED_MIGRATION");
    this.name = "ChangedMigrationError";
  }
}
export class MigrationFailedError extends MigrationError {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message, "MIGRATION_FAILED");
    this.name = "MigrationFailedError";
  }
}

interface SqlFile {
  /** Path relative to the SQL directory: `migrations/001_relay_tables.sql`. */
  path: string;
  /**
   * Name in the tracking table: `001_relay_tables.sql` and `local/001_lambda_async.sql` (as the
   * previous layout named them) in relay_schema_migrations; `relay_dispatch.sql` in
   * relay_schema_routines.
   */
  name: string;
  sql: string;
  checksum: string;
}

/**
 * Migration names applied by the previous layout whose objects are now routines or generated;
 * their numbers are retired so a new migration can never be mistaken for one of them.
 */
export const LEGACY_MIGRATIONS: Readonly<Record<string, string>> = {
  "002_relay_trigger.sql": "sql/capture.ts (generated capture trigger)",
  "003_relay_dispatch.sql": "routines/relay_dispatch.sql",
  "004_relay_purge.sql": "routines/relay_purge.sql, relay_overdue.sql, relay_status.sql",
  "005_relay_backfill.sql": "routines/relay_backfill.sql",
  "006_relay_events.sql": "routines/relay_dispatch.sql, relay_purge.sql (their events)",
  "007_relay_heartbeat.sql": "routines/relay_heartbeat.sql",
};
const RETIRED_NUMBERS = new Set(Object.keys(LEGACY_MIGRATIONS).map((name) => name.slice(0, 3)));

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

function readSqlFiles(dir: string, pattern: RegExp, path: string, name: string): SqlFile[] {
  if (!existsSync(dir)) {
    throw new InvalidOptionError(`no ${path.replace(/\/$/, "")} directory at ${dir}`);
  }
  return readdirSync(dir)
    .filter((file) => pattern.test(file))
    .sort()
    .map((file) => {
      const sql = readFileSync(join(dir, file), "utf8");
      // Line endings must not change a checksum (a checkout on Windows stays "unchanged").
      return {
        path: path + file,
        name: name + file,
        sql,
        checksum: sha256(sql.replace(/\r\n/g, "\n")),
      };
    });
}

function listMigrations(sqlDir: string): SqlFile[] {
  const files = readSqlFiles(
    join(sqlDir, "migrations"),
    /^\d{3}_[a-z0-9_]+\.sql$/,
    "migrations/",
    "",
  );
  for (const file of files) {
    if (RETIRED_NUMBERS.has(file.name.slice(0, 3))) {
      throw new InvalidOptionError(
        `${file.path}: numbers ${[...RETIRED_NUMBERS].join(", ")} are retired (the previous layout ` +
          "used them for routines); give the migration the next free number",
      );
    }
  }
  return files;
}

function listLocal(sqlDir: string): SqlFile[] {
  return readSqlFiles(join(sqlDir, "local"), /^\d{3}_[a-z0-9_]+\.sql$/, "local/", "local/");
}

function listRoutines(sqlDir: string): SqlFile[] {
  return readSqlFiles(join(sqlDir, "routines"), /^[a-z0-9_]+\.sql$/, "routines/", "");
}

/**
 * A hash of everything a deployed database gets from this directory: the migrations, the routines
 * and the generated capture trigger's text (not sql/local/). Changes whenever a file or the
 * generator changes, so the Pulumi program (a trigger of its migration command) re-runs it then.
 */
export function sqlChecksum(sqlDir: string = SQL_DIR): string {
  const hash = createHash("sha256");
  for (const file of listMigrations(sqlDir)) hash.update(`${file.path}\0${file.checksum}\n`);
  for (const file of listRoutines(sqlDir)) hash.update(`${file.path}\0${file.checksum}\n`);
  hash.update(`capture\0${captureFingerprint()}\n`);
  return hash.digest("hex");
}

export interface ParsedUrl {
  host: string;
  port: number;
  user: string;
  password?: string;
  database: string;
}

/** Parses mysql://user:pass@host:port/database; the password never appears in an error. */
export function parseMysqlUrl(url: string): ParsedUrl {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidOptionError(
      `invalid database URL ${redact(url)}: expected mysql://user:password@host:port/database`,
    );
  }
  if (parsed.protocol !== "mysql:") {
    throw new InvalidOptionError(
      `invalid database URL ${redact(url)}: the scheme must be mysql:// (got ${parsed.protocol}//)`,
    );
  }
  if (!parsed.hostname)
    throw new InvalidOptionError(`invalid database URL ${redact(url)}: no host`);
  if (!parsed.username)
    throw new InvalidOptionError(`invalid database URL ${redact(url)}: no user`);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ""));
  if (!/^[A-Za-z0-9_$-]{1,64}$/.test(database)) {
    throw new InvalidOptionError(
      `invalid database URL ${redact(url)}: name the database in the path, e.g. mysql://user@host:3306/storefront` +
        (database ? ` ("${database}" is not a plain database name)` : ""),
    );
  }
  const port = parsed.port ? Number(parsed.port) : 3306;
  return {
    host: parsed.hostname.replace(/^\[(.*)\]$/, "$1"),
    port,
    user: decodeURIComponent(parsed.username),
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    database,
  };
}

/** The URL with its password replaced by ***, safe for messages and logs. */
export function redact(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@]*@/i, "$1***@");
}

function validateSettings(settings: unknown): DatabaseSettings {
  try {
    return checkDatabaseSettings(settings, "invalid settings");
  } catch (error) {
    if (error instanceof DatabaseSettingsError) throw new InvalidOptionError(error.message);
    throw error;
  }
}

interface DbError {
  code?: string;
  errno?: number;
  message?: string;
  sqlMessage?: string;
}

function describeConnectError(error: DbError, where: string): MigrationError {
  const code = error.code ?? "";
  if (
    [
      "ECONNREFUSED",
      "ETIMEDOUT",
      "ENOTFOUND",
      "EAI_AGAIN",
      "EHOSTUNREACH",
      "ENETUNREACH",
      "ECONNRESET",
    ].includes(code)
  ) {
    const why: Record<string, string> = {
      ECONNREFUSED: "connection refused (is the server running and the port right?)",
      ETIMEDOUT: "connection timed out (network path, security group or VPN?)",
      ENOTFOUND: "host not found (check the host name)",
      EAI_AGAIN: "host name lookup failed (DNS)",
      EHOSTUNREACH: "host unreachable",
      ENETUNREACH: "network unreachable",
      ECONNRESET: "connection reset by the server (TLS required? try --tls)",
    };
    return new DatabaseUnreachableError(`cannot reach the database at ${where}: ${why[code]}`);
  }
  if (code === "ER_ACCESS_DENIED_ERROR" || code === "ER_DBACCESS_DENIED_ERROR") {
    return new DatabaseUnreachableError(
      `the database at ${where} refused the login: ${error.sqlMessage ?? error.message}`,
    );
  }
  if (code === "HANDSHAKE_SSL_ERROR" || /ssl|tls|certificate/i.test(error.message ?? "")) {
    return new DatabaseUnreachableError(`TLS to ${where} failed: ${error.message}`);
  }
  return new DatabaseUnreachableError(
    `cannot connect to the database at ${where}: ${error.sqlMessage ?? error.message ?? String(error)}`,
  );
}

async function connect(target: ParsedUrl, tls: boolean, withDatabase: boolean) {
  return mysql.createConnection({
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database: withDatabase ? target.database : undefined,
    multipleStatements: true,
    charset: "utf8mb4_general_ci",
    connectTimeout: 10_000,
    ssl: tls ? "Amazon RDS" : undefined,
    timezone: "Z",
  });
}

/** The storefront's table as the seed article defines it; created only for local runs. */
export const ORDER_DATA_SEED_SQL = `CREATE TABLE IF NOT EXISTS order_data (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  item VARCHAR(50) NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4`;

/** The tables to capture: the settings' list, or the seed table alone. */
export const DEFAULT_TABLES: readonly RelayTable[] = [{ name: "order_data", excludeColumns: [] }];

/**
 * The relay attaches to the storefront's tables; in AWS the storefront package creates them (the
 * relay must never create or alter them), locally the seed `order_data` stands in when listed.
 */
async function checkStorefront(
  connection: mysql.Connection,
  tables: readonly RelayTable[],
  createOrderData: boolean,
  where: string,
  log: (line: string) => void,
): Promise<void> {
  try {
    await connection.query("CREATE TEMPORARY TABLE relay_grant_check (x INT)");
    await connection.query("DROP TEMPORARY TABLE relay_grant_check");
  } catch (error) {
    const e = error as DbError;
    if (e.errno === 1044 || e.errno === 1142 || e.errno === 1227) {
      throw new MigrationError(
        `the relay user may not create temporary tables in ${where} (relay_dispatch and relay_purge keep their work tables there): GRANT ${RELAY_WORK_TABLE_PRIVILEGE} ON <database>.* TO <relay user>`,
        "MISSING_GRANT",
      );
    }
    throw error;
  }
  if (createOrderData && tables.some((t) => t.name === "order_data")) {
    await connection.query(ORDER_DATA_SEED_SQL);
  }
  try {
    for (const warning of await checkTables(connection, tables, where)) log(`warning: ${warning}`);
  } catch (error) {
    if (error instanceof CaptureConfigError) {
      const hint = tables.some((t) => t.name === "order_data")
        ? " (a local database: --local-lambda or --create-order-data creates the seed order_data)"
        : "";
      throw new MigrationError(`${error.message}${hint}`, "INVALID_TABLES");
    }
    throw error;
  }
}

/** Checks, migrations, routines, settings, capture and resync (see the header). */
export async function migrate(options: MigrateOptions): Promise<MigrateResult> {
  const log = options.log ?? (() => {});
  const target = parseMysqlUrl(options.url);
  const settings = validateSettings(options.settings);
  const where = `${target.host}:${target.port}/${target.database}`;
  const sqlDir = options.sqlDir ?? SQL_DIR;
  const migrations = [...listMigrations(sqlDir), ...(options.localLambda ? listLocal(sqlDir) : [])];
  const routines = listRoutines(sqlDir);

  let connection: mysql.Connection;
  try {
    connection = await connect(target, options.tls ?? false, true);
  } catch (error) {
    if ((error as DbError).code !== "ER_BAD_DB_ERROR")
      throw describeConnectError(error as DbError, where);
    // The database does not exist yet (local runs): create it, then reconnect.
    try {
      const admin = await connect(target, options.tls ?? false, false);
      try {
        await admin.query(
          `CREATE DATABASE IF NOT EXISTS \`${target.database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
        );
      } finally {
        await admin.end();
      }
      log(`created database ${target.database}`);
      connection = await connect(target, options.tls ?? false, true);
    } catch (inner) {
      if (inner instanceof MigrationError) throw inner;
      const e = inner as DbError;
      if (e.errno !== undefined && e.code?.startsWith("ER_")) {
        throw new DatabaseUnreachableError(
          `database ${target.database} does not exist at ${target.host}:${target.port} and could not be created: ${e.sqlMessage ?? e.message}`,
        );
      }
      throw describeConnectError(e, where);
    }
  }

  const lockName = `relay_migrate.${target.database}`.slice(0, 64);
  try {
    const [lockRows] = await connection.query<mysql.RowDataPacket[]>(
      "SELECT GET_LOCK(?, 120) AS got",
      [lockName],
    );
    if (lockRows[0]?.got !== 1) {
      throw new MigrationError(
        `another migration of ${where} is running (lock ${lockName} busy for 120 s)`,
        "LOCKED",
      );
    }
    const tables = settings.tables ?? DEFAULT_TABLES;
    await checkStorefront(
      connection,
      tables,
      options.createOrderData ?? options.localLambda ?? false,
      where,
      log,
    );
    const result: MigrateResult = { applied: [], skipped: [], capture: [], resynced: [] };
    await applyMigrations(connection, migrations, where, log, result);
    const migrated = result.applied.length;
    await applyRoutines(connection, routines, where, log, result);
    await writeSettings(connection, settings);
    log(
      `${migrated} migration(s) and ${result.applied.length - migrated} routine file(s) applied, ` +
        `${result.skipped.length} unchanged; settings written`,
    );
    result.capture = await syncCapture(connection, tables, log);
    for (const table of options.resync ?? []) {
      if (!tables.some((t) => t.name === table)) {
        throw new MigrationError(
          `cannot resync ${table}: it is not listed in order-relay:tables (listed: ${tables.map((t) => t.name).join(", ")})`,
          "INVALID_OPTION",
        );
      }
      const rows = await resyncTable(connection, table);
      log(`resync of ${table}: ${rows} row(s) enqueued (a SCHEMA record first)`);
      result.resynced.push({ table, rows });
    }
    return result;
  } catch (error) {
    if (error instanceof MigrationError) throw error;
    if (error instanceof CaptureConfigError)
      throw new MigrationError(error.message, "INVALID_TABLES");
    if (error instanceof BackfillIncompleteError) {
      throw new MigrationError(`${where}: ${error.message}`, "BACKFILL_INCOMPLETE");
    }
    const e = error as DbError;
    const hint =
      e.errno === 1205 || e.errno === 1213
        ? " (a storefront transaction held the table: run the migration again)"
        : "";
    throw new MigrationError(
      `migration of ${where} failed: ${e.sqlMessage ?? e.message ?? String(error)}${hint}`,
      "FAILED",
    );
  } finally {
    await connection.query("DO RELEASE_LOCK(?)", [lockName]).catch(() => {});
    await connection.end().catch(() => {});
  }
}

const TRACKING_TABLE_COLUMNS = `(
  name VARCHAR(255) NOT NULL PRIMARY KEY,
  checksum CHAR(64) NOT NULL,
  applied_at DATETIME(6) NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4`;

async function appliedChecksums(
  connection: mysql.Connection,
  table: "relay_schema_migrations" | "relay_schema_routines",
): Promise<Map<string, string>> {
  await connection.query(`CREATE TABLE IF NOT EXISTS ${table} ${TRACKING_TABLE_COLUMNS}`);
  const [rows] = await connection.query<mysql.RowDataPacket[]>(
    `SELECT name, checksum FROM ${table}`,
  );
  return new Map(rows.map((row) => [String(row.name), String(row.checksum)]));
}

async function applyFile(
  connection: mysql.Connection,
  file: SqlFile,
  kind: "migration" | "routine",
  where: string,
): Promise<void> {
  try {
    await connection.query(file.sql);
  } catch (error) {
    const e = error as DbError;
    const hint =
      e.errno === 1418 || e.errno === 1419
        ? " (binary logging is on: set log_bin_trust_function_creators=1 in the server/cluster parameters)"
        : "";
    throw new MigrationFailedError(
      file.path,
      `${kind} ${file.path} failed on ${where}: ${e.sqlMessage ?? e.message}${hint}`,
    );
  }
}

/** Numbered migrations: each applied once; an applied one that changed is an error. */
async function applyMigrations(
  connection: mysql.Connection,
  files: SqlFile[],
  where: string,
  log: (line: string) => void,
  result: MigrateResult,
): Promise<void> {
  const applied = await appliedChecksums(connection, "relay_schema_migrations");
  for (const file of files) {
    const known = applied.get(file.name);
    if (known === file.checksum) {
      result.skipped.push(file.path);
      continue;
    }
    if (known !== undefined) {
      throw new ChangedMigrationError(
        file.path,
        `migration ${file.path} was already applied to ${where} but the file has changed since ` +
          `(checksum ${known.slice(0, 12)}… → ${file.checksum.slice(0, 12)}…); never edit an applied ` +
          "migration: restore it and add a new NNN_*.sql file (routines go in sql/routines/, " +
          "which may be edited in place)",
      );
    }
    log(`applying ${file.path}`);
    await applyFile(connection, file, "migration", where);
    await connection.query(
      "INSERT INTO relay_schema_migrations (name, checksum, applied_at) VALUES (?, ?, UTC_TIMESTAMP(6))",
      [file.name, file.checksum],
    );
    result.applied.push(file.path);
  }
}

/** Repeatable routines: (re-)applied whenever the file's checksum differs from the recorded one. */
async function applyRoutines(
  connection: mysql.Connection,
  files: SqlFile[],
  where: string,
  log: (line: string) => void,
  result: MigrateResult,
): Promise<void> {
  const applied = await appliedChecksums(connection, "relay_schema_routines");
  for (const file of files) {
    const known = applied.get(file.name);
    if (known === file.checksum) {
      result.skipped.push(file.path);
      continue;
    }
    log(`${known === undefined ? "applying" : "re-applying (changed)"} ${file.path}`);
    await applyFile(connection, file, "routine", where);
    await connection.query(
      `INSERT INTO relay_schema_routines (name, checksum, applied_at) VALUES (?, ?, UTC_TIMESTAMP(6))
       ON DUPLICATE KEY UPDATE checksum = VALUES(checksum), applied_at = VALUES(applied_at)`,
      [file.name, file.checksum],
    );
    result.applied.push(file.path);
  }
}

/** The settings row as a whole, and the purge schedule (the one value an event cannot read). */
async function writeSettings(
  connection: mysql.Connection,
  settings: DatabaseSettings,
): Promise<void> {
  await connection.query(
    `INSERT INTO relay_settings
       (id, function_arn, region, batch_size, retention_hours, purge_interval_minutes,
        max_record_bytes, payload_limit_bytes, purge_requires, resend_after_minutes, updated_at)
     VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6))
     ON DUPLICATE KEY UPDATE
       function_arn = VALUES(function_arn), region = VALUES(region),
       batch_size = VALUES(batch_size), retention_hours = VALUES(retention_hours),
       purge_interval_minutes = VALUES(purge_interval_minutes),
       max_record_bytes = VALUES(max_record_bytes),
       payload_limit_bytes = VALUES(payload_limit_bytes),
       purge_requires = VALUES(purge_requires),
       resend_after_minutes = VALUES(resend_after_minutes), updated_at = VALUES(updated_at)`,
    [
      settings.functionArn,
      settings.region,
      settings.dispatchBatchSize,
      settings.retentionHours.toFixed(6),
      settings.purgeIntervalMinutes,
      MAX_RECORD_BYTES,
      ASYNC_INVOKE_PAYLOAD_LIMIT_BYTES,
      settings.purgeRequires,
      settings.resendAfterMinutes.toFixed(6),
    ],
  );
  // Event schedules cannot read a table: the one templated value, a validated whole number.
  await connection.query(
    `ALTER EVENT relay_purge_event ON SCHEDULE EVERY ${Math.trunc(settings.purgeIntervalMinutes)} MINUTE`,
  );
}
