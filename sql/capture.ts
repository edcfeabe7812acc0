/**
 * The capture trigger `relay_order_data_after_insert` — its one definition. No .sql file creates
 * it: the migration runner generates it from `order_data`'s columns (information_schema, in table
 * order) after the routines, so the storefront's own schema, whatever its columns, is relayed
 * whole. It is a generated routine: re-created whenever the wanted text differs from the live one
 * (the live definition is the "checksum"), and left alone otherwise.
 *
 * The trigger only inserts into relay_outbox, in the order's own transaction: no network, no
 * settings lookup, one indexed INSERT, so it cannot fail for network reasons and a rolled-back
 * order leaves nothing behind. Definer = the migrating (relay) user. Only column names are
 * generated into its text, never settings.
 *
 * To change what is captured, change `captureTriggerBody` (and relay_backfill, which builds the
 * same row JSON for rows the trigger did not see); `sqlChecksum()` covers the generated text, so
 * `pulumi up` re-runs the migration.
 */
import type mysql from "mysql2/promise";

export const CAPTURE_TRIGGER = "relay_order_data_after_insert";
/** The storefront's table (owned by the storefront package, never created or altered in AWS). */
export const SOURCE_TABLE = "order_data";

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

/** The trigger's statement for the given `order_data` columns. */
export function captureTriggerBody(columns: readonly string[]): string {
  return (
    "INSERT INTO relay_outbox (row_id, occurred_at, row_json)\n" +
    `  VALUES (NEW.id, UTC_TIMESTAMP(3), ${rowJsonExpression("NEW", columns)})`
  );
}

/**
 * DROP + CREATE of the trigger (MySQL 8.0 has no CREATE OR REPLACE TRIGGER; MariaDB has: DROP +
 * CREATE is the common subset).
 */
export function captureTriggerSql(columns: readonly string[]): string {
  return (
    `DROP TRIGGER IF EXISTS ${CAPTURE_TRIGGER}; ` +
    `CREATE TRIGGER ${CAPTURE_TRIGGER} AFTER INSERT ON ${SOURCE_TABLE} FOR EACH ROW ` +
    captureTriggerBody(columns)
  );
}

/** Whitespace/quoting-insensitive form of a trigger body, for comparison with the live one. */
function normalizeSql(text: string): string {
  return text.replace(/`/g, "").replace(/\s+/g, " ").trim().toLowerCase();
}

export type CaptureSync = "created" | "regenerated" | "unchanged";

/**
 * Makes the live trigger the one `captureTriggerBody` wants for `order_data`'s current columns.
 * When it creates or replaces it, it then calls relay_backfill() (column-agnostic), which enqueues
 * every row without an outbox row: orders already there when the relay is installed (so they are
 * relayed and, once handed off, purged like any other) and any row inserted in the instant between
 * DROP and CREATE. `order_data` must have an `id` column (`Error` otherwise; the runner wraps it).
 */
export async function syncCaptureTrigger(
  connection: mysql.Connection,
  log: (line: string) => void,
): Promise<CaptureSync> {
  const [columnRows] = await connection.query<mysql.RowDataPacket[]>(
    `SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
    [SOURCE_TABLE],
  );
  const columns = columnRows.map((c) => String(c.name));
  if (!columns.includes("id")) {
    throw new Error(
      `${SOURCE_TABLE} has no \`id\` column: the relay keys every order by ${SOURCE_TABLE}.id`,
    );
  }
  const [triggers] = await connection.query<mysql.RowDataPacket[]>(
    `SELECT ACTION_STATEMENT AS body FROM information_schema.TRIGGERS
      WHERE TRIGGER_SCHEMA = DATABASE() AND TRIGGER_NAME = ?`,
    [CAPTURE_TRIGGER],
  );
  const wanted = captureTriggerBody(columns);
  if (triggers.length === 1 && normalizeSql(String(triggers[0].body)) === normalizeSql(wanted)) {
    return "unchanged";
  }
  const outcome: CaptureSync = triggers.length === 0 ? "created" : "regenerated";
  await connection.query(captureTriggerSql(columns));
  await connection.query("CALL relay_backfill()");
  log(`capture trigger ${outcome} for ${SOURCE_TABLE} (${columns.join(", ")}); backfilled`);
  return outcome;
}
