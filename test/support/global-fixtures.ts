/**
 * Mocha global fixtures (registered in .mocharc.cjs): one MySQL-compatible server for every suite.
 * With MYSQL_URL set it is used as is (checked once: a bad or unreachable URL stops the run with
 * one line); otherwise a private MariaDB is started (Debian's mariadb-server is installed first
 * when absent and we are root) and MYSQL_URL is set for all suites. Teardown stops only what
 * setup started.
 *
 * Nothing is left behind, however the run ends:
 * - the run gets its own temp dir (TMPDIR, set when this module loads, before any spec file):
 *   every suite's and every child process's temp files land there, and it is removed at the end,
 *   on SIGINT/SIGTERM (cli/process.ts `onShutdown`) and as a last resort on exit;
 * - the private MariaDB registers its own stop with `onShutdown`/`onExitSync`
 *   (emulators/mariadb.ts), so Ctrl-C during `npm test` stops it and exits 130 (SIGTERM: 143).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mysql from "mysql2/promise";
import { mysqlUrl } from "../../cli/command";
import { onExitSync, onShutdown } from "../../cli/process";
import {
  ensureMariaDbInstalled,
  startPrivateMariaDb,
  type PrivateMariaDb,
} from "../../emulators/mariadb";

const runTmp = mkdtempSync(join(tmpdir(), "relay-test-"));
const systemTmp = process.env.TMPDIR;
process.env.TMPDIR = runTmp;
const removeRunTmp = () => rmSync(runTmp, { recursive: true, force: true });
onExitSync(removeRunTmp);
onShutdown(removeRunTmp); // registered first: runs last, after the MariaDB is stopped

let started: PrivateMariaDb | undefined;

/** A set-up problem: one line with the fix, no stack trace, exit 1. */
function setupFailed(message: string): never {
  process.stderr.write(`npm test: ${message}\n`);
  process.exit(1);
}

export async function mochaGlobalSetup(): Promise<void> {
  if (process.env.MYSQL_URL) {
    const url = process.env.MYSQL_URL;
    try {
      mysqlUrl("mysql-url", url, "MYSQL_URL");
    } catch (error) {
      setupFailed(
        `${(error as Error).message} (or unset it: the tests then start a private MariaDB)`,
      );
    }
    try {
      const c = await mysql.createConnection({ uri: url, connectTimeout: 10_000 });
      await c.end();
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      setupFailed(
        `MYSQL_URL=${url.replace(/:[^:@/]*@/, ":…@")} does not answer (${e.code ?? e.message}): ` +
          "start that server, fix the URL, or unset MYSQL_URL to use a private MariaDB",
      );
    }
    return;
  }
  const begin = Date.now();
  try {
    ensureMariaDbInstalled((line) => console.log(`  (${line})`)); // apt-get on a fresh root CI box
    started = await startPrivateMariaDb();
  } catch (error) {
    setupFailed(((error as Error).message ?? String(error)).split("\n")[0]!);
  }
  process.env.MYSQL_URL = started.url;
  // Kept aside too: a suite that snapshots and later restores process.env (taken before this
  // setup ran) would otherwise erase MYSQL_URL for every later suite. See serverUrl().
  (globalThis as { __relayTestMysqlUrl?: string }).__relayTestMysqlUrl = started.url;
  console.log(`  (private MariaDB on 127.0.0.1:${started.port}, ${Date.now() - begin} ms)`);
}

export async function mochaGlobalTeardown(): Promise<void> {
  const db = started;
  started = undefined;
  if (db) {
    delete process.env.MYSQL_URL;
    delete (globalThis as { __relayTestMysqlUrl?: string }).__relayTestMysqlUrl;
    await db.stop();
  }
  removeRunTmp();
  if (systemTmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = systemTmp;
}
