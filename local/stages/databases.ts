/**
 * Stage: the databases. One server (a private MariaDB with `event_scheduler=ON`, or the given
 * one), a database per region migrated by sql/migrate.ts with the local `lambda_async` stand-in,
 * and the DC's database with its `relay_rows` table.
 */
import { randomBytes } from "node:crypto";
import mysql from "mysql2/promise";
import { databaseSettingsFor, type RelayConfig } from "../../config/schema";
import { ensureDcSchema } from "../../dc/consumer";
import { startPrivateMariaDb, type PrivateMariaDb } from "../../emulators/mariadb";
import { migrate } from "../../sql/migrate";
import { installPurgeAudit } from "../purgeAudit";
import { CommandError } from "../../cli/process";
import type { Cleanup } from "./cleanup";

export interface DatabasesOptions {
  readonly config: RelayConfig;
  /** ARN of each region's notify function (written into the region's settings). */
  readonly functionArn: (region: string) => string;
  /** Use this server (mysql://user@host:port/) instead of starting a private MariaDB. */
  readonly mysqlUrl?: string;
  /** Extra mariadbd arguments for the private server. */
  readonly mariadbArgs?: readonly string[];
  /** The run restarts the server: only possible on the private one. */
  readonly restartsServer: boolean;
  /** Shortened retention (seconds) instead of the stack's `retentionHours`. */
  readonly retentionSeconds?: number;
  /** Shortened resend interval (seconds) instead of the stack's `resendAfterMinutes`. */
  readonly resendAfterSeconds?: number;
  /** The storefront's own tables, created in each region before the migration (the relay never creates them). */
  readonly storefrontSql?: string;
  /** SQL applied to each region after the migration (benchmarks: the seed design's trigger). */
  readonly afterMigrationSql?: string;
  readonly log: (line: string) => void;
}

export interface Databases {
  /** The private server, when the run started one (the restart fault needs it). */
  readonly server?: PrivateMariaDb;
  /** The server's event scheduler runs the relay's events (otherwise the runner drives them). */
  readonly eventsOn: boolean;
  /** One pool per region's database. */
  readonly regionPools: Readonly<Record<string, mysql.Pool>>;
  readonly dcPool: mysql.Pool;
  /** URL of the DC's database (for DC consumers in their own processes). */
  readonly dcUrl: string;
  /** A query on a region's database; undefined when the database does not answer. */
  regionQuery<T extends mysql.RowDataPacket[]>(region: string, sql: string): Promise<T | undefined>;
}

function urlWithDatabase(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

function makePool(url: string): mysql.Pool {
  const pool = mysql.createPool({ uri: url, connectionLimit: 8, timezone: "Z" });
  // DATETIME defaults (the DC's received_at) in UTC, like the trigger's occurred_at.
  (
    pool as unknown as {
      pool: { on(e: string, f: (c: { query(sql: string): void }) => void): void };
    }
  ).pool.on("connection", (connection) => connection.query("SET time_zone = '+00:00'"));
  return pool;
}

/** `user@host:port` of a server URL (no password), for messages. */
function where(url: string): string {
  const u = new URL(url);
  return `${u.username ? `${decodeURIComponent(u.username)}@` : ""}${u.hostname}:${u.port || 3306}`;
}

/** A connection to the server, or a one-line CommandError that says what to fix. */
async function connect(url: string, given: boolean): Promise<mysql.Connection> {
  try {
    return await mysql.createConnection({ uri: url, connectTimeout: 10_000 });
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { sqlMessage?: string };
    const fix = given
      ? "start that server or fix --mysql-url / MYSQL_URL (mysql://user:password@host:3306/)"
      : "the private MariaDB did not answer; try again, or set MYSQL_URL";
    const reason =
      e.code === "ECONNREFUSED"
        ? "connection refused"
        : e.code === "ENOTFOUND" || e.code === "EAI_AGAIN"
          ? "unknown host"
          : e.code === "ETIMEDOUT"
            ? "timed out"
            : e.code === "ER_ACCESS_DENIED_ERROR"
              ? `access denied (${e.sqlMessage ?? e.message})`
              : (e.sqlMessage ?? e.message ?? String(error)).split("\n")[0];
    throw new CommandError(
      `cannot connect to MySQL at ${where(url)}: ${reason} — ${
        e.code === "ER_ACCESS_DENIED_ERROR" ? "check the user and password in the URL" : fix
      }`,
    );
  }
}

/** Checks that a given server answers; a one-line CommandError with the fix otherwise. */
export async function checkServer(url: string): Promise<void> {
  const c = await connect(urlWithDatabase(url, ""), true);
  await c.end();
}

export async function startDatabases(o: DatabasesOptions, cleanup: Cleanup): Promise<Databases> {
  const { config, log } = o;
  const regions = config.regions.map((r) => r.region);
  let server: PrivateMariaDb | undefined;
  let serverUrl = o.mysqlUrl;
  if (!serverUrl) {
    log("starting a private MariaDB (event_scheduler=ON)…");
    server = await startPrivateMariaDb({
      eventScheduler: true,
      extraArgs: [...(o.mariadbArgs ?? [])],
    });
    const own = server;
    cleanup.defer(() => own.stop());
    serverUrl = server.url;
  } else if (o.restartsServer) {
    throw new CommandError(
      "--restart-db-at-seconds needs the runner's own MariaDB: drop --mysql-url (and unset MYSQL_URL)",
      2,
    );
  }
  const admin = await connect(urlWithDatabase(serverUrl, ""), !server);
  const [schedulerRows] = await admin.query<mysql.RowDataPacket[]>(
    "SELECT @@global.event_scheduler AS s",
  );
  await admin.end();
  const eventsOn = String(schedulerRows[0]?.s).toUpperCase() === "ON";

  // Database names: plain on our own server, unique on a shared one (tests).
  const prefix = server ? "" : `run${randomBytes(3).toString("hex")}_`;
  const dbName = (region: string) => `${prefix}relay_${region.replace(/-/g, "_")}`;
  const dcName = `${prefix}dc`;

  // Every region with the local lambda_async stand-in.
  const regionPools: Record<string, mysql.Pool> = {};
  for (const region of regions) {
    const url = urlWithDatabase(serverUrl, dbName(region));
    if (o.storefrontSql) {
      const c = await mysql.createConnection({
        uri: urlWithDatabase(serverUrl, ""),
        multipleStatements: true,
      });
      try {
        await c.query(
          `CREATE DATABASE IF NOT EXISTS \`${dbName(region)}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
        );
        await c.query(`USE \`${dbName(region)}\``);
        await c.query(o.storefrontSql);
      } finally {
        await c.end();
      }
    }
    try {
      await migrate({
        url,
        settings: {
          ...databaseSettingsFor(config, region),
          functionArn: o.functionArn(region),
          ...(o.retentionSeconds !== undefined
            ? { retentionHours: o.retentionSeconds / 3600 }
            : {}),
          ...(o.resendAfterSeconds !== undefined
            ? { resendAfterMinutes: o.resendAfterSeconds / 60 }
            : {}),
        },
        localLambda: true,
      });
    } catch (error) {
      throw new CommandError(
        `migrating ${dbName(region)} on ${where(serverUrl)} failed: ${
          ((error as Error).message ?? String(error)).split("\n")[0]
        }` +
          (server
            ? ""
            : " (the --mysql-url user needs CREATE, TRIGGER, EVENT and ROUTINE privileges)"),
      );
    }
    {
      const c = await mysql.createConnection({ uri: url, multipleStatements: true });
      try {
        if (o.afterMigrationSql) await c.query(o.afterMigrationSql);
        // The witness of what the purge deletes (local/purgeAudit.ts).
        await installPurgeAudit(c, config.tables[0]!.name);
      } finally {
        await c.end();
      }
    }
    const pool = makePool(url);
    regionPools[region] = pool;
    cleanup.defer(() => pool.end());
  }
  const dcAdmin = await mysql.createConnection({ uri: urlWithDatabase(serverUrl, "") });
  await dcAdmin.query(`CREATE DATABASE IF NOT EXISTS \`${dcName}\` CHARACTER SET utf8mb4`);
  await dcAdmin.end();
  const dcUrl = urlWithDatabase(serverUrl, dcName);
  const dcPool = makePool(dcUrl);
  cleanup.defer(() => dcPool.end());
  await ensureDcSchema(dcPool);
  if (!server) {
    const shared = serverUrl;
    cleanup.defer(async () => {
      const c = await mysql.createConnection({ uri: urlWithDatabase(shared, "") });
      for (const name of [...regions.map(dbName), dcName])
        await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await c.end();
    });
  }
  log(`databases: ${[...regions.map(dbName), dcName].join(", ")} (migrated)`);

  return {
    server,
    eventsOn,
    regionPools,
    dcPool,
    dcUrl,
    async regionQuery<T extends mysql.RowDataPacket[]>(region: string, sql: string) {
      try {
        const [rows] = await regionPools[region]!.query<T>(sql);
        return rows;
      } catch {
        return undefined;
      }
    },
  };
}
