/**
 * Mocha global fixtures (registered in .mocharc.cjs): one MySQL-compatible server for every suite.
 * With MYSQL_URL set it is used as is; otherwise a private MariaDB is started (Debian's
 * mariadb-server is installed first when absent and we are root) and MYSQL_URL is set for all
 * suites. Teardown stops only what setup started.
 */
import {
  ensureMariaDbInstalled,
  startPrivateMariaDb,
  type PrivateMariaDb,
} from "../../emulators/mariadb";

let started: PrivateMariaDb | undefined;

export async function mochaGlobalSetup(): Promise<void> {
  if (process.env.MYSQL_URL) return;
  const begin = Date.now();
  ensureMariaDbInstalled((line) => console.log(`  (${line})`)); // apt-get on a fresh root CI box
  started = await startPrivateMariaDb();
  process.env.MYSQL_URL = started.url;
  // Kept aside too: a suite that snapshots and later restores process.env (taken before this
  // setup ran) would otherwise erase MYSQL_URL for every later suite. See serverUrl().
  (globalThis as { __relayTestMysqlUrl?: string }).__relayTestMysqlUrl = started.url;
  console.log(`  (private MariaDB on 127.0.0.1:${started.port}, ${Date.now() - begin} ms)`);
}

export async function mochaGlobalTeardown(): Promise<void> {
  if (!started) return;
  const db = started;
  started = undefined;
  delete process.env.MYSQL_URL;
  delete (globalThis as { __relayTestMysqlUrl?: string }).__relayTestMysqlUrl;
  await db.stop();
}
