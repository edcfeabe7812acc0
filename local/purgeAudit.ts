/**
 * The local run's witness of the purge: a trigger on each region's root table (the first listed,
 * the order itself) records every row `relay_purge()` deletes — the purge marks its session with
 * `@relay_purging`, the storefront's own deletes are not recorded — with its key, the time and
 * the outboxId of the row's latest change (its outbox rows are deleted after the row, in the same
 * transaction). At the end of the run each purged order is looked up at the DC: it must have been
 * there *before* it was purged, and in that latest state (the mirror's relay_outbox_id at least
 * that change's). An order purged from its region while the DC did not have it — or had only an
 * older state of it — is the one thing the confirmed purge exists to prevent.
 *
 * Local runs only (never installed by the migration): a plain table and an AFTER DELETE trigger
 * beside the relay's capture triggers (sql/capture.ts manages only triggers named as its own).
 */
import type mysql from "mysql2/promise";
import { PURGE_SESSION_VARIABLE } from "../sql/capture";

const AUDIT_TABLE = "local_purge_audit";
const AUDIT_TRIGGER = "local_purge_audit";

const ident = (name: string) => `\`${name.replace(/`/g, "``")}\``;
const quote = (text: string) => `'${text.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;

/** Creates the audit table and the trigger on `rootTable` (idempotent). */
export async function installPurgeAudit(
  connection: mysql.Connection,
  rootTable: string,
): Promise<void> {
  const [keys] = await connection.query<mysql.RowDataPacket[]>(
    `SELECT COLUMN_NAME AS name FROM information_schema.STATISTICS
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY'
      ORDER BY SEQ_IN_INDEX`,
    [rootTable],
  );
  if (keys.length === 0) throw new Error(`purge audit: ${rootTable} has no primary key`);
  const keyJson = `JSON_OBJECT(${keys
    .map((k) => `'${String(k.name)}', OLD.${ident(String(k.name))}`)
    .join(", ")})`;
  // The key exactly as the capture trigger writes it into relay_outbox.key_json (whose hash
  // relay_outbox_key indexes): the row's changes are found through that index.
  await connection.query("CALL relay_key_expr(?, 'OLD', @relay_audit_key)", [rootTable]);
  const [[expr]] = await connection.query<mysql.RowDataPacket[]>("SELECT @relay_audit_key AS e");
  const outboxKey = String(expr!.e);
  await connection.query(
    `CREATE TABLE IF NOT EXISTS ${AUDIT_TABLE} (
       id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
       key_json JSON NOT NULL,
       purged_at DATETIME(6) NOT NULL,
       latest_outbox_id BIGINT UNSIGNED NULL
     ) ENGINE = InnoDB`,
  );
  await connection.query(`DROP TRIGGER IF EXISTS ${AUDIT_TRIGGER}`);
  await connection.query(
    `CREATE TRIGGER ${AUDIT_TRIGGER} AFTER DELETE ON ${ident(rootTable)} FOR EACH ROW
       IF ${PURGE_SESSION_VARIABLE} IS NOT NULL THEN
         INSERT INTO ${AUDIT_TABLE} (key_json, purged_at, latest_outbox_id)
         VALUES (${keyJson}, UTC_TIMESTAMP(6),
                 (SELECT MAX(o.id) FROM relay_outbox o
                   WHERE o.key_hash = UNHEX(SHA2(CONCAT(${quote(rootTable)}, ':', ${outboxKey}), 256))
                     AND o.table_name = ${quote(rootTable)}));
       END IF`,
  );
}

export interface PurgeAudit {
  /** Root rows the purge deleted, over all regions. */
  readonly purged: number;
  /**
   * Of those, not at the DC in their latest state when they were purged: missing there, applied
   * only later, or the DC's newest change of the row older than the row's latest.
   */
  readonly purgedBeforeDelivery: number;
  /** The first few such keys, `region key_json`. */
  readonly examples: readonly string[];
}

/**
 * Checks every purged root row against the DC's mirror of the root table: the mirror row of the
 * same (relay_region, key) must exist, have been written (relay_applied_at) no later than the
 * purge — both are UTC on the same server's clock locally — and hold the row's latest change
 * (relay_outbox_id at least the audited outboxId; a purged row whose changes the witness could
 * not find counts as not delivered, so a broken witness cannot pass a run).
 */
export async function checkPurgeAudit(options: {
  readonly regionPools: Readonly<Record<string, mysql.Pool>>;
  readonly dcPool: mysql.Pool;
  readonly rootTable: string;
}): Promise<PurgeAudit> {
  let purged = 0;
  let purgedBeforeDelivery = 0;
  const examples: string[] = [];
  // The DC creates its mirror table on the table's first SCHEMA record: without it (that record
  // vanished too), no purged order was ever at the DC.
  const [mirror] = await options.dcPool.query<mysql.RowDataPacket[]>(
    `SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`,
    [options.rootTable],
  );
  const dcHasTable = mirror.length > 0;
  for (const [region, pool] of Object.entries(options.regionPools)) {
    let rows: mysql.RowDataPacket[];
    try {
      [rows] = await pool.query<mysql.RowDataPacket[]>(
        // As text: a Date would drop the microseconds the DC's relay_applied_at has.
        `SELECT CAST(key_json AS CHAR) AS k, DATE_FORMAT(purged_at, '%Y-%m-%d %H:%i:%s.%f') AS at,
                CAST(latest_outbox_id AS CHAR) AS latest
           FROM ${AUDIT_TABLE} ORDER BY id`,
      );
    } catch {
      continue; // not installed (e.g. the database could not be read): nothing witnessed
    }
    for (const row of rows) {
      purged++;
      const key = JSON.parse(String(row.k)) as Record<string, unknown>;
      const columns = Object.keys(key);
      let delivered = false;
      if (dcHasTable) {
        const [found] = await options.dcPool.query<mysql.RowDataPacket[]>(
          `SELECT relay_applied_at <= ? AND relay_outbox_id >= CAST(? AS UNSIGNED) AS delivered
             FROM ${ident(options.rootTable)}
            WHERE relay_region = ? AND ${columns.map((c) => `${ident(c)} = ?`).join(" AND ")}`,
          [row.at, row.latest, region, ...columns.map((c) => key[c])],
        );
        delivered = Number(found[0]?.delivered) === 1;
      }
      if (!delivered) {
        purgedBeforeDelivery++;
        if (examples.length < 10) examples.push(`${region} ${String(row.k)}`);
      }
    }
  }
  return { purged, purgedBeforeDelivery, examples };
}
