/**
 * The migration runner: applies `sql/NNN_*.sql` in order (plus `sql/local/*.sql` for local runs),
 * tracks applied files with checksums in `relay_schema_migrations`, then writes the settings row
 * and re-schedules the purge event. One implementation for the Pulumi program, the tests and the
 * CLI (`npm run db:migrate`).
 *
 * Each .sql file is sent as one multi-statement query (no DELIMITER needed: the server parses
 * compound CREATE PROCEDURE bodies itself). Every file is idempotent, so a file interrupted half
 * way is simply re-applied on the next run.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import mysql from "mysql2/promise";

export const SQL_DIR = __dirname;
export const LOCAL_SQL_DIR = join(__dirname, "local");

export const SETTINGS_DEFAULTS = {
  retentionHours: 24,
  batchSize: 100,
  purgeIntervalMinutes: 5,
} as const;

export interface MigrateOptions {
  /** mysql://user:pass@host:port/database (the database is created when missing and allowed). */
  url: string;
  /** AWS region written into every envelope. */
  region: string;
  /** ARN of the notify function that lambda_async invokes. */
  functionArn: string;
  /** Hours after which handed-off orders are purged; 0 and fractions allowed. Omitted: keep. */
  retentionHours?: number;
  /** Records per lambda_async call (also capped by bytes). Omitted: keep the stored value. */
  batchSize?: number;
  /** How often the purge event runs. Omitted: keep the stored value. */
  purgeIntervalMinutes?: number;
  /** Also apply sql/local/ (the lambda_async stand-in). Never in AWS. */
  localLambda?: boolean;
  /**
   * Create the storefront's `order_data` with the seed schema when it is missing (local runs).
   * Otherwise a missing table is an error: the storefront package owns it. @default localLambda
   */
  createOrderData?: boolean;
  /** Require TLS with the Amazon RDS CA bundle (Aurora has require_secure_transport ON). */
  tls?: boolean;
  log?: (line: string) => void;
  /** Directory with the migrations (tests only). @default this directory */
  sqlDir?: string;
}

export interface MigrateResult {
  applied: string[];
  skipped: string[];
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

interface MigrationFile {
  /** Tracking name: `003_relay_dispatch.sql`, or `local/001_lambda_async.sql`. */
  name: string;
  sql: string;
  checksum: string;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

function listFiles(dir: string, prefix = ""): MigrationFile[] {
  return readdirSync(dir)
    .filter((file) => /^\d{3}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => {
      const sql = readFileSync(join(dir, file), "utf8");
      // Line endings must not change a checksum (a checkout on Windows stays "unchanged").
      return { name: prefix + file, sql, checksum: sha256(sql.replace(/\r\n/g, "\n")) };
    });
}

/** A hash of every non-local .sql file: changes exactly when the migrations change. */
export function sqlChecksum(sqlDir: string = SQL_DIR): string {
  const hash = createHash("sha256");
  for (const file of listFiles(sqlDir)) hash.update(`${file.name}\0${file.checksum}\n`);
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

const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
const FUNCTION_ARN =
  /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]+)?$/;

function validate(options: MigrateOptions): void {
  if (!REGION.test(options.region ?? "")) {
    throw new InvalidOptionError(
      `invalid region "${options.region ?? ""}": expected an AWS region code such as ap-northeast-1`,
    );
  }
  if (!FUNCTION_ARN.test(options.functionArn ?? "")) {
    throw new InvalidOptionError(
      `invalid function ARN "${options.functionArn ?? ""}": expected arn:aws:lambda:<region>:<account>:function:<name>`,
    );
  }
  const { retentionHours, batchSize, purgeIntervalMinutes } = options;
  if (retentionHours !== undefined && !(Number.isFinite(retentionHours) && retentionHours >= 0)) {
    throw new InvalidOptionError(
      `invalid retention hours ${retentionHours}: must be a number >= 0 (0 and fractions allowed)`,
    );
  }
  if (retentionHours !== undefined && retentionHours > 1_000_000) {
    throw new InvalidOptionError(`invalid retention hours ${retentionHours}: at most 1000000`);
  }
  if (
    batchSize !== undefined &&
    !(Number.isInteger(batchSize) && batchSize >= 1 && batchSize <= 10_000)
  ) {
    throw new InvalidOptionError(
      `invalid batch size ${batchSize}: must be a whole number 1..10000`,
    );
  }
  if (
    purgeIntervalMinutes !== undefined &&
    !(
      Number.isInteger(purgeIntervalMinutes) &&
      purgeIntervalMinutes >= 1 &&
      purgeIntervalMinutes <= 1440
    )
  ) {
    throw new InvalidOptionError(
      `invalid purge interval ${purgeIntervalMinutes}: must be a whole number of minutes 1..1440`,
    );
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

/**
 * The relay attaches to the storefront's `order_data`; in AWS the storefront package creates it
 * (the relay must never create or alter it), locally the seed schema stands in.
 */
async function ensureOrderData(
  connection: mysql.Connection,
  create: boolean,
  where: string,
): Promise<void> {
  if (create) {
    await connection.query(ORDER_DATA_SEED_SQL);
    return;
  }
  const [tables] = await connection.query<mysql.RowDataPacket[]>(
    `SELECT 1 FROM information_schema.TABLES
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'order_data'`,
  );
  if (tables.length === 0) {
    throw new MigrationError(
      `${where} has no order_data table yet: install the storefront's schema first (it owns ` +
        "order_data), then run the migration again (`pulumi up` re-runs it); for a local " +
        "database use --local-lambda or --create-order-data",
      "NO_ORDER_DATA",
    );
  }
}

/** Applies the migrations and writes the settings. Safe to run any number of times. */
export async function migrate(options: MigrateOptions): Promise<MigrateResult> {
  const log = options.log ?? (() => {});
  const target = parseMysqlUrl(options.url);
  validate(options);
  const where = `${target.host}:${target.port}/${target.database}`;
  const sqlDir = options.sqlDir ?? SQL_DIR;
  const files = [
    ...listFiles(sqlDir),
    ...(options.localLambda ? listFiles(join(sqlDir, "local"), "local/") : []),
  ];

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
    await ensureOrderData(
      connection,
      options.createOrderData ?? options.localLambda ?? false,
      where,
    );
    await connection.query(
      `CREATE TABLE IF NOT EXISTS relay_schema_migrations (
         name VARCHAR(255) NOT NULL PRIMARY KEY,
         checksum CHAR(64) NOT NULL,
         applied_at DATETIME(6) NOT NULL
       ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4`,
    );
    const [rows] = await connection.query<mysql.RowDataPacket[]>(
      "SELECT name, checksum FROM relay_schema_migrations",
    );
    const appliedChecksums = new Map(rows.map((row) => [String(row.name), String(row.checksum)]));

    const result: MigrateResult = { applied: [], skipped: [] };
    for (const file of files) {
      const known = appliedChecksums.get(file.name);
      if (known === file.checksum) {
        result.skipped.push(file.name);
        continue;
      }
      if (known !== undefined) {
        throw new ChangedMigrationError(
          file.name,
          `migration ${file.name} was already applied to ${where} but the file has changed since ` +
            `(checksum ${known.slice(0, 12)}… → ${file.checksum.slice(0, 12)}…); never edit an applied ` +
            `migration: restore it and add a new NNN_*.sql file`,
        );
      }
      log(`applying ${file.name}`);
      try {
        await connection.query(file.sql);
      } catch (error) {
        const e = error as DbError;
        const hint =
          e.errno === 1418 || e.errno === 1419
            ? " (binary logging is on: set log_bin_trust_function_creators=1 in the server/cluster parameters)"
            : "";
        throw new MigrationFailedError(
          file.name,
          `migration ${file.name} failed on ${where}: ${e.sqlMessage ?? e.message}${hint}`,
        );
      }
      await connection.query(
        "INSERT INTO relay_schema_migrations (name, checksum, applied_at) VALUES (?, ?, UTC_TIMESTAMP(6))",
        [file.name, file.checksum],
      );
      result.applied.push(file.name);
    }

    await writeSettings(connection, options);
    log(
      `migrations: ${result.applied.length} applied, ${result.skipped.length} unchanged; settings written`,
    );
    await syncRowCapture(connection, log);
    return result;
  } catch (error) {
    if (error instanceof MigrationError) throw error;
    const e = error as DbError;
    throw new MigrationError(
      `migration of ${where} failed: ${e.sqlMessage ?? e.message ?? String(error)}`,
      "FAILED",
    );
  } finally {
    await connection.query("DO RELEASE_LOCK(?)", [lockName]).catch(() => {});
    await connection.end().catch(() => {});
  }
}

async function writeSettings(connection: mysql.Connection, options: MigrateOptions): Promise<void> {
  const [existing] = await connection.query<mysql.RowDataPacket[]>(
    "SELECT retention_hours, batch_size, purge_interval_minutes FROM relay_settings WHERE id = 1",
  );
  const current = existing[0];
  const retentionHours =
    options.retentionHours ??
    (current ? Number(current.retention_hours) : SETTINGS_DEFAULTS.retentionHours);
  const batchSize =
    options.batchSize ?? (current ? Number(current.batch_size) : SETTINGS_DEFAULTS.batchSize);
  const purgeIntervalMinutes =
    options.purgeIntervalMinutes ??
    (current ? Number(current.purge_interval_minutes) : SETTINGS_DEFAULTS.purgeIntervalMinutes);
  await connection.query(
    `INSERT INTO relay_settings
       (id, function_arn, region, batch_size, retention_hours, purge_interval_minutes, updated_at)
     VALUES (1, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6))
     ON DUPLICATE KEY UPDATE
       function_arn = VALUES(function_arn), region = VALUES(region),
       batch_size = VALUES(batch_size), retention_hours = VALUES(retention_hours),
       purge_interval_minutes = VALUES(purge_interval_minutes), updated_at = VALUES(updated_at)`,
    [
      options.functionArn,
      options.region,
      batchSize,
      retentionHours.toFixed(6),
      purgeIntervalMinutes,
    ],
  );
  // Event schedules cannot read a table: the one templated value, validated as an integer above.
  await connection.query(
    `ALTER EVENT relay_purge_event ON SCHEDULE EVERY ${Math.trunc(purgeIntervalMinutes)} MINUTE`,
  );
}

/** A SQL string literal (the JSON key of a column). */
function sqlString(value: string): string {
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}

/** A quoted identifier. */
function sqlIdentifier(value: string): string {
  return `\`${value.replace(/`/g, "``")}\``;
}

/** `JSON_OBJECT('col', <alias>.col, …)` over every column, in table order. */
export function rowJsonExpression(alias: string, columns: readonly string[]): string {
  const pairs = columns.map((column) => `${sqlString(column)}, ${alias}.${sqlIdentifier(column)}`);
  return `JSON_OBJECT(${pairs.join(", ")})`;
}

/** Whitespace/quoting-insensitive form of a routine or trigger body, for comparison. */
function normalizeSql(text: string): string {
  return text.replace(/`/g, "").replace(/\s+/g, " ").trim().toLowerCase();
}

/** The capture trigger for the given `order_data` columns (same text as 002 for the seed schema). */
export function triggerBody(columns: readonly string[]): string {
  return (
    "INSERT INTO relay_outbox (row_id, occurred_at, row_json)\n" +
    `  VALUES (NEW.id, UTC_TIMESTAMP(3), ${rowJsonExpression("NEW", columns)})`
  );
}

/**
 * Keeps the capture trigger relaying every column of `order_data`: migration 002 installs it for
 * the seed schema (id, item); a storefront table with more columns gets it regenerated from
 * information_schema, in column order, then relay_backfill() (column-agnostic) enqueues any row
 * inserted while it was swapped. No-op when the trigger already matches. Only column names are
 * generated into the text, never settings.
 */
async function syncRowCapture(
  connection: mysql.Connection,
  log: (line: string) => void,
): Promise<void> {
  const [columnRows] = await connection.query<mysql.RowDataPacket[]>(
    `SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'order_data' ORDER BY ORDINAL_POSITION`,
  );
  const columns = columnRows.map((c) => String(c.name));
  if (!columns.includes("id")) {
    throw new MigrationError(
      "order_data has no `id` column: the relay keys every order by order_data.id",
      "FAILED",
    );
  }
  const [triggers] = await connection.query<mysql.RowDataPacket[]>(
    `SELECT ACTION_STATEMENT AS body FROM information_schema.TRIGGERS
      WHERE TRIGGER_SCHEMA = DATABASE() AND TRIGGER_NAME = 'relay_order_data_after_insert'`,
  );
  const wantedTrigger = triggerBody(columns);
  if (
    triggers.length === 1 &&
    normalizeSql(String(triggers[0].body)) === normalizeSql(wantedTrigger)
  ) {
    return;
  }
  log(`order_data columns (${columns.join(", ")}): regenerating the capture trigger`);
  // DROP + CREATE (MySQL 8.0 has no CREATE OR REPLACE TRIGGER); an insert in between is caught by
  // the backfill below, which enqueues every row without an outbox row.
  await connection.query(
    "DROP TRIGGER IF EXISTS relay_order_data_after_insert; " +
      "CREATE TRIGGER relay_order_data_after_insert AFTER INSERT ON order_data FOR EACH ROW " +
      wantedTrigger,
  );
  await connection.query("CALL relay_backfill()");
}
