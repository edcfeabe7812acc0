/**
 * Set-up errors a new user meets are one line with the fix — never a stack trace — and MYSQL_URL
 * is honoured where the README says it is (npm start, npm run bench, npm test).
 */
import { strict as assert } from "node:assert";
import mysql from "mysql2/promise";
import { serverUrl, urlFor } from "../support/mysql";
import { startCommand } from "./support";

const UNREACHABLE = "mysql://root@127.0.0.1:1/";
const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

async function run(
  script: string,
  args: readonly string[],
  options: Parameters<typeof startCommand>[2] = {},
) {
  const child = startCommand(script, args, options);
  const code = await child.exited;
  child.cleanUp();
  return { code, stdout: child.stdout, stderr: child.stderr };
}

/** The command's own message: its last stderr line (set-up progress lines may precede it). */
function lastLine(stderr: string): string {
  return stderr.trim().split("\n").at(-1)!;
}

describe("set-up errors: one line with the fix; MYSQL_URL honoured", function () {
  this.timeout(120_000);
  this.slow(15_000);

  it("npm start --mysql-url notaurl: exit 2, the expected shape", async () => {
    const { code, stderr } = await run("local/start.ts", ["--mysql-url", "notaurl"]);
    assert.equal(code, 2);
    assert.equal(
      stderr,
      'npm start: --mysql-url must look like mysql://user:password@host:3306/, got "notaurl"\n',
    );
  });

  it("npm start with an unreachable server (flag or MYSQL_URL): exit 1, what to fix", async () => {
    for (const options of [
      { args: ["--mysql-url", UNREACHABLE], env: {} },
      { args: [], env: { MYSQL_URL: UNREACHABLE } },
    ]) {
      const { code, stdout, stderr } = await run("local/start.ts", options.args, {
        env: options.env,
      });
      assert.equal(code, 1, stderr);
      assert.equal(stdout, "");
      assert.equal(
        stderr,
        "npm start: cannot connect to MySQL at root@127.0.0.1:1: connection refused — start that " +
          "server or fix --mysql-url / MYSQL_URL (mysql://user:password@host:3306/)\n",
      );
    }
  });

  it("npm run bench with an unreachable MYSQL_URL: exit 1 before measuring anything", async () => {
    const { code, stderr } = await run("bench/run.ts", ["--quick"], {
      env: { MYSQL_URL: UNREACHABLE },
    });
    assert.equal(code, 1, stderr);
    assert.match(
      stderr,
      /^bench: cannot connect to MySQL at root@127\.0\.0\.1:1: connection refused/,
    );
    assert.doesNotMatch(stderr, /\n\s+at /);
  });

  it("npm test with an unreachable MYSQL_URL: exit 1, one line, no suite runs", async () => {
    const { code, stdout, stderr } = await run(
      "node_modules/mocha/bin/mocha.js",
      ["test/fixtures/cli/hang.ts"],
      {
        env: { MYSQL_URL: UNREACHABLE },
      },
    );
    assert.equal(code, 1, stderr);
    assert.doesNotMatch(stdout, /hang: running/);
    assert.match(
      lastLine(stderr),
      /^npm test: MYSQL_URL=mysql:\/\/root@127\.0\.0\.1:1\/ does not answer \(ECONNREFUSED\): start that server, fix the URL, or unset MYSQL_URL/,
    );
  });

  it("MariaDB not installed, not root: install mariadb-server or set MYSQL_URL, exit 1", async function () {
    // Run as nobody when we are root (root would apt-get install it); hide the binaries.
    const { code, stdout, stderr } = await run("local/start.ts", [], {
      env: { MYSQL_URL: undefined, MARIADB_BIN_DIR: "/nonexistent", HOME: "/tmp" },
      ...(isRoot ? { uid: 65534, gid: 65534, sharedTmp: true } : {}),
    });
    assert.equal(code, 1, stderr);
    assert.equal(stdout, "");
    assert.match(
      lastLine(stderr),
      /^npm start: MariaDB is not installed \(no mariadbd\/mariadb-install-db in MARIADB_BIN_DIR=\/nonexistent\) and we are not root: install mariadb-server \(sudo apt-get install -y mariadb-server\) or set MYSQL_URL=mysql:\/\/user:password@host:3306\//,
    );
    assert.doesNotMatch(stderr, /\n\s+at /);
  });

  it("MYSQL_URL works for npm start: no private MariaDB, the run's databases dropped afterwards", async () => {
    const { code, stdout, stderr } = await run(
      "local/start.ts",
      ["--orders", "5", "--rate", "5", "--timeout-seconds", "10", "--json"],
      { env: { MYSQL_URL: serverUrl() } },
    );
    assert.ok(code === 0 || code === 1, `exit ${code}: ${stderr}`); // 1: not delivered in time
    assert.doesNotMatch(stderr, /private MariaDB/);
    const databases = /^databases: (.+) \(migrated\)$/m.exec(stderr)?.[1]?.split(", ") ?? [];
    assert.ok(databases.length >= 2 && databases.every((d) => /^run[0-9a-f]{6}_/.test(d)), stderr);
    const summary = JSON.parse(stdout) as { inserted: number };
    assert.equal(summary.inserted, 5);
    const admin = await mysql.createConnection({ uri: urlFor("") });
    try {
      const [rows] = await admin.query<mysql.RowDataPacket[]>("SHOW DATABASES");
      const left = rows
        .map((r) => String(Object.values(r)[0]))
        .filter((d) => databases.includes(d));
      assert.deepEqual(left, [], "the run's databases are dropped");
    } finally {
      await admin.end();
    }
  });
});
