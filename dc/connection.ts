/**
 * Where the DC's MySQL is and how the consumer logs in — without the password ever being on the
 * command line (visible in `ps`) or in a log line.
 *
 * Sources, highest precedence first:
 *   host/port/user/database: `--mysql-url mysql://user@host:3306/db`, then the option file
 *   password: `--mysql-password-file FILE`, then `MYSQL_PASSWORD`, then a password in the URL
 *             (still accepted for compatibility, with a warning), then the option file
 *   option file (`--mysql-defaults-file FILE`): MySQL's own format, `[client]` section
 *             (user, password, host, port, database, socket), as `mysql --defaults-file` reads it.
 */
import * as fs from "node:fs";
import mysql, { type Pool, type PoolOptions } from "mysql2/promise";

export interface MysqlTarget {
  readonly host: string;
  readonly port: number;
  readonly socketPath?: string;
  readonly user: string;
  readonly database: string;
  readonly password?: string;
  /** Where the password came from (for the start-up line; never the password). */
  readonly passwordSource: "password-file" | "MYSQL_PASSWORD" | "url" | "option-file" | "none";
}

export class ConnectionSettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConnectionSettingsError";
  }
}

/** Reads MySQL's option-file format: `[section]` headers, `key = value` / `key=value` lines. */
export function readOptionFile(
  file: string,
  sections = ["client", "mysql"],
): Record<string, string> {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (error) {
    throw new ConnectionSettingsError(
      `cannot read the MySQL option file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  const out: Record<string, string> = {};
  let current = "";
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const section = /^\[([^\]]+)\]$/.exec(line);
    if (section) {
      current = section[1]!.trim().toLowerCase();
      continue;
    }
    if (!sections.includes(current)) continue;
    const eq = line.indexOf("=");
    const key = (eq < 0 ? line : line.slice(0, eq)).trim().toLowerCase().replace(/_/g, "-");
    let value = eq < 0 ? "" : line.slice(eq + 1).trim();
    if (/^(['"]).*\1$/.test(value)) value = value.slice(1, -1);
    out[key] = value;
  }
  return out;
}

export interface TargetInput {
  readonly url?: string;
  readonly passwordFile?: string;
  readonly defaultsFile?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/** Resolves the connection settings; `warnings` are one-liners for the operator. */
export function resolveMysqlTarget(input: TargetInput): {
  target: MysqlTarget;
  warnings: string[];
} {
  const env = input.env ?? process.env;
  const warnings: string[] = [];
  const options = input.defaultsFile ? readOptionFile(input.defaultsFile) : {};
  let url: URL | undefined;
  if (input.url !== undefined) {
    try {
      url = new URL(input.url);
    } catch {
      url = undefined;
    }
    // Never echo the URL: it may hold a password.
    if (!url || !/^(mysql|mariadb):$/.test(url.protocol) || !url.hostname) {
      throw new ConnectionSettingsError(
        "--mysql-url: not a mysql:// URL (mysql://user@host:3306/database)",
      );
    }
  }
  const user = (url && decodeURIComponent(url.username)) || options.user || "";
  const host = url?.hostname || options.host || "localhost";
  const port = Number(url?.port || options.port || 3306);
  const database =
    (url && decodeURIComponent(url.pathname.replace(/^\//, ""))) || options.database || "";
  if (!user) {
    throw new ConnectionSettingsError(
      "no MySQL user: put it in --mysql-url (mysql://user@host:3306/db) or the option file's [client] user=",
    );
  }
  if (!database) {
    throw new ConnectionSettingsError(
      "--mysql-url names no database — add /<database> to the URL (or database= in the option file)",
    );
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConnectionSettingsError("the MySQL port must be 1..65535");
  }
  let password: string | undefined;
  let passwordSource: MysqlTarget["passwordSource"] = "none";
  if (input.passwordFile !== undefined) {
    try {
      password = fs.readFileSync(input.passwordFile, "utf8").replace(/\r?\n$/, "");
    } catch (error) {
      throw new ConnectionSettingsError(
        `cannot read --mysql-password-file ${input.passwordFile}: ${(error as NodeJS.ErrnoException).code ?? "error"}`,
      );
    }
    passwordSource = "password-file";
  } else if (env.MYSQL_PASSWORD !== undefined && env.MYSQL_PASSWORD !== "") {
    password = env.MYSQL_PASSWORD;
    passwordSource = "MYSQL_PASSWORD";
  } else if (url && url.password !== "") {
    password = decodeURIComponent(url.password);
    passwordSource = "url";
  } else if (options.password !== undefined) {
    password = options.password;
    passwordSource = "option-file";
  }
  if (url && url.password !== "") {
    warnings.push(
      passwordSource === "url"
        ? "the MySQL password is in --mysql-url, where `ps` shows it to every user of this machine: use MYSQL_PASSWORD, --mysql-password-file or --mysql-defaults-file instead"
        : `ignoring the password in --mysql-url (the one from ${passwordSource} is used); remove it from the URL, \`ps\` shows it`,
    );
  }
  return {
    target: {
      host,
      port,
      ...(options.socket && !url ? { socketPath: options.socket } : {}),
      user,
      database,
      ...(password !== undefined ? { password } : {}),
      passwordSource,
    },
    warnings,
  };
}

/** `dc@db.internal:3306/dc` — safe to log. */
export function describeTarget(target: MysqlTarget): string {
  return `${target.user}@${target.socketPath ?? `${target.host}:${target.port}`}/${target.database}`;
}

/**
 * The consumer's connection pool. Every connection runs with time_zone '+00:00' (TIMESTAMPs
 * are written and read as UTC), strict SQL mode (a value that does not fit is an error, never a
 * silent truncation; zero dates are allowed, as a source may hold them) and utf8mb4. Connected
 * without CLIENT_FOUND_ROWS so an upsert that changes nothing reports 0 affected rows.
 */
export function createDcPool(
  target: MysqlTarget,
  options: { connectionLimit?: number; connectTimeoutMs?: number } = {},
): Pool {
  const config: PoolOptions = {
    host: target.host,
    port: target.port,
    ...(target.socketPath ? { socketPath: target.socketPath } : {}),
    user: target.user,
    database: target.database,
    ...(target.password !== undefined ? { password: target.password } : {}),
    charset: "utf8mb4",
    timezone: "Z",
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    flags: ["-FOUND_ROWS"],
    connectionLimit: options.connectionLimit ?? 4,
    connectTimeout: options.connectTimeoutMs ?? 10_000,
    enableKeepAlive: true,
    maxIdle: options.connectionLimit ?? 4,
  };
  const pool = mysql.createPool(config);
  // Tells the consumer these sessions are set up (consumer.ts DC_POOL).
  (pool as unknown as Record<symbol, unknown>)[Symbol.for("order-relay.dc-pool")] = true;
  // The core pool emits each new connection before handing it out; a query queued here runs
  // before anything the consumer sends on that connection.
  (
    pool as unknown as {
      pool: {
        on(
          event: "connection",
          cb: (c: {
            query(sql: string, cb: (error: Error | null) => void): void;
            destroy(): void;
          }) => void,
        ): void;
      };
    }
  ).pool.on("connection", (connection) => {
    connection.query(
      "SET SESSION time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'",
      // A connection without these settings must not be used: the next query then fails and
      // is handled like any connection error.
      (error) => {
        if (error) connection.destroy();
      },
    );
  });
  return pool;
}

/** A pool for a `mysql://user[:password]@host:port/db` URL (tests, benchmarks, the local run). */
export function createDcPoolFromUrl(url: string, connectionLimit = 4): Pool {
  return createDcPool(resolveMysqlTarget({ url, env: {} }).target, { connectionLimit });
}
