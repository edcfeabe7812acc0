/** Shared set-up for the SQL suites: a migrated scratch database with the local lambda stand-in. */
import mysql from "mysql2/promise";
import type { DatabaseSettings } from "../../contract/databaseSettings";
import { parseEnvelope, type RelayEnvelope } from "../../contract/envelope";
import { migrate, type MigrateOptions } from "../../sql/migrate";
import { createScratchDatabase, type ScratchDatabase } from "../support/mysql";

export const REGION = "ap-northeast-1";
export const ARN = "arn:aws:lambda:ap-northeast-1:123456789012:function:relay-notify";
/** The settings every SQL suite migrates with unless a test overrides some. */
export const SETTINGS: DatabaseSettings = {
  region: REGION,
  functionArn: ARN,
  retentionHours: 24,
  dispatchBatchSize: 100,
  purgeIntervalMinutes: 5,
};

/** Options for `RelayDb.migrate`: any `MigrateOptions`, with `settings` merged over SETTINGS. */
export type MigrateOverrides = Partial<Omit<MigrateOptions, "settings">> & {
  settings?: Partial<DatabaseSettings>;
};

export interface RelayDb {
  db: ScratchDatabase;
  sql: mysql.Connection;
  connect(): Promise<mysql.Connection>;
  migrate(extra?: MigrateOverrides): ReturnType<typeof migrate>;
  /** Every lambda_async call so far, validated with the Lambda side's parseEnvelope. */
  invocations(): Promise<{ functionArn: string; payload: string; envelope: RelayEnvelope }[]>;
  count(table: string, where?: string): Promise<number>;
  close(): Promise<void>;
}

/** Creates and migrates a scratch database; the relay's events are disabled (tests CALL). */
export async function relayDb(
  prefix: string,
  options: { migrate?: boolean } = {},
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
      settings: { ...SETTINGS, ...settings },
    });
    // Deterministic tests even on a MYSQL_URL server with event_scheduler=ON.
    const c = await mysql.createConnection({ uri: db.url });
    await c.query("ALTER EVENT relay_dispatch_event DISABLE");
    await c.query("ALTER EVENT relay_purge_event DISABLE");
    await c.query("ALTER EVENT relay_heartbeat_event DISABLE");
    await c.end();
    return result;
  };
  if (options.migrate !== false) await doMigrate();
  const sql = await connect();
  return {
    db,
    sql,
    connect,
    migrate: doMigrate,
    async invocations() {
      const [rows] = await sql.query<mysql.RowDataPacket[]>(
        "SELECT function_arn, payload FROM lambda_invocations ORDER BY id",
      );
      return rows.map((row) => ({
        functionArn: String(row.function_arn),
        payload: String(row.payload),
        envelope: parseEnvelope(JSON.parse(String(row.payload))),
      }));
    },
    async count(table, where = "1 = 1") {
      const [rows] = await sql.query<mysql.RowDataPacket[]>(
        `SELECT COUNT(*) AS n FROM ${table} WHERE ${where}`,
      );
      return Number(rows[0].n);
    },
    async close() {
      await Promise.all(connections.map((c) => c.end().catch(() => {})));
      await db.drop();
    },
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
