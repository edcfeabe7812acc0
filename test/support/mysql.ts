/**
 * Per-suite scratch databases on the shared test server (MYSQL_URL, set by the global fixture).
 * Every suite creates its own uniquely named database and drops it afterwards.
 */
import { randomBytes } from "node:crypto";
import mysql from "mysql2/promise";

export interface ScratchDatabase {
  /** mysql://…/<name>: the server URL with this database as its path. */
  url: string;
  name: string;
  drop(): Promise<void>;
}

export function serverUrl(): string {
  const url =
    process.env.MYSQL_URL || (globalThis as { __relayTestMysqlUrl?: string }).__relayTestMysqlUrl;
  if (!url) {
    throw new Error(
      "MYSQL_URL is not set: run the tests through mocha (the global fixture starts MariaDB) or set it",
    );
  }
  return url;
}

/** The server URL with `database` as its path (credentials and query kept). */
export function urlFor(database: string, base: string = serverUrl()): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Creates `<prefix>_<random>` (utf8mb4) on the test server. */
export async function createScratchDatabase(prefix: string): Promise<ScratchDatabase> {
  const clean = prefix
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, "_")
    .slice(0, 40);
  const name = `${clean}_${randomBytes(4).toString("hex")}`;
  const admin = await mysql.createConnection({ uri: urlFor("", serverUrl()) });
  try {
    await admin.query(
      `CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
    );
  } finally {
    await admin.end();
  }
  return {
    url: urlFor(name),
    name,
    async drop() {
      const connection = await mysql.createConnection({ uri: urlFor("", serverUrl()) });
      try {
        await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await connection.end();
      }
    },
  };
}
