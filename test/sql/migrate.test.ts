/**
 * The migration runner (library and `npm run db:migrate` CLI) on a real MariaDB: idempotence,
 * settings that take effect, changed-file detection and one-line errors for bad input.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, appendFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type mysql from "mysql2/promise";
import {
  ChangedMigrationError,
  DatabaseUnreachableError,
  InvalidOptionError,
  migrate,
  sqlChecksum,
  SQL_DIR,
} from "../../sql/migrate";
import { freePort } from "../../emulators/mariadb";
import { ARN, REGION, relayDb, type RelayDb } from "./relay-db";

type Rows = mysql.RowDataPacket[];
const ROOT = join(__dirname, "..", "..");

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "sql/cli.ts", ...args], {
      cwd: ROOT,
      env: { ...process.env, RELAY_DB_URL: "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Expected failures print exactly one line (plus usage for usage errors), never a stack. */
function assertOneLineError(result: CliResult, pattern: RegExp, code = 1): void {
  assert.equal(result.code, code, `exit code; stderr: ${result.stderr}`);
  const first = result.stderr.trim().split("\n")[0];
  assert.match(first, pattern);
  assert.doesNotMatch(result.stderr, /\n\s+at /, "no stack trace");
  if (code === 1) assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
}

describe("sql: migration runner and db:migrate CLI (real MariaDB)", function () {
  this.timeout(30_000);
  let r: RelayDb;
  beforeEach(async () => {
    r = await relayDb("relay_migrate");
  });
  afterEach(async () => {
    await r.close();
  });

  it("is idempotent: a second run applies nothing and changes nothing", async () => {
    const [before] = await r.sql.query<Rows>(
      "SELECT name, checksum FROM relay_schema_migrations ORDER BY name",
    );
    const again = await r.migrate();
    assert.deepEqual(again.applied, []);
    assert.deepEqual(again.skipped, [
      "001_relay_tables.sql",
      "002_relay_trigger.sql",
      "003_relay_dispatch.sql",
      "004_relay_purge.sql",
      "005_relay_backfill.sql",
      "006_relay_events.sql",
      "007_relay_heartbeat.sql",
      "local/001_lambda_async.sql",
    ]);
    const [after] = await r.sql.query<Rows>(
      "SELECT name, checksum FROM relay_schema_migrations ORDER BY name",
    );
    assert.deepEqual(after, before);
    // Every file is also safe to re-apply as a whole (interrupted-run recovery).
    await r.sql.query("DELETE FROM relay_schema_migrations");
    await r.sql.query("INSERT INTO order_data (item) VALUES ('kept')");
    const reapplied = await r.migrate();
    assert.equal(reapplied.applied.length, 8);
    assert.equal(await r.count("order_data"), 1);
    assert.equal(await r.count("relay_outbox"), 1);
  });

  it("creates the trigger, procedures, events and views; events are defined by the migrating user", async () => {
    const [objects] = await r.sql.query<Rows>(
      `SELECT 'trigger' AS kind, TRIGGER_NAME AS name, DEFINER AS definer FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()
       UNION ALL SELECT 'routine', ROUTINE_NAME, DEFINER FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()
       UNION ALL SELECT 'event', EVENT_NAME, DEFINER FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE()
       UNION ALL SELECT 'view', TABLE_NAME, DEFINER FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()
       ORDER BY 1, 2`,
    );
    assert.deepEqual(
      objects.map((o) => `${o.kind}:${o.name}`),
      [
        "event:relay_dispatch_event",
        "event:relay_heartbeat_event",
        "event:relay_purge_event",
        "routine:lambda_async",
        "routine:local_lambda_fail",
        "routine:relay_backfill",
        "routine:relay_dispatch",
        "routine:relay_heartbeat",
        "routine:relay_purge",
        "trigger:relay_order_data_after_insert",
        "view:relay_overdue",
        "view:relay_status",
      ],
    );
    const [[me]] = await r.sql.query<Rows>("SELECT CURRENT_USER() AS me");
    for (const o of objects) assert.equal(o.definer, me.me, `${o.kind} ${o.name} definer`);
    const [events] = await r.sql.query<Rows>(
      "SELECT EVENT_NAME, INTERVAL_VALUE, INTERVAL_FIELD, EVENT_DEFINITION FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE() ORDER BY 1",
    );
    assert.deepEqual(
      events.map((e) => [e.EVENT_NAME, String(e.INTERVAL_VALUE), e.INTERVAL_FIELD]),
      [
        ["relay_dispatch_event", "1", "SECOND"],
        ["relay_heartbeat_event", "1", "MINUTE"],
        ["relay_purge_event", "5", "MINUTE"],
      ],
    );
    // No ARN or region is templated into any definition.
    const [[defs]] = await r.sql.query<Rows>(
      `SELECT GROUP_CONCAT(ACTION_STATEMENT) AS t FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()`,
    );
    assert.doesNotMatch(String(defs.t), /arn:aws|ap-northeast-1/);
  });

  it("changed settings take effect on the next run of the procedures", async () => {
    await r.sql.query("INSERT INTO order_data (item) VALUES ('a'), ('b'), ('c')");
    await r.sql.query("CALL relay_dispatch()");
    const otherArn = "arn:aws:lambda:eu-west-1:123456789012:function:other-notify";
    await r.migrate({
      region: "eu-west-1",
      functionArn: otherArn,
      batchSize: 2,
      retentionHours: 0.25,
      purgeIntervalMinutes: 7,
    });
    await r.sql.query("INSERT INTO order_data (item) VALUES ('d'), ('e'), ('f')");
    await r.sql.query("CALL relay_dispatch()");
    const invocations = await r.invocations();
    assert.deepEqual(
      invocations.map((i) => [i.functionArn, i.envelope.region, i.envelope.records.length]),
      [
        [ARN, REGION, 3],
        [otherArn, "eu-west-1", 2],
        [otherArn, "eu-west-1", 1],
      ],
    );
    const [[settings]] = await r.sql.query<Rows>("SELECT * FROM relay_settings");
    assert.equal(Number(settings.retention_hours), 0.25);
    assert.equal(settings.batch_size, 2);
    const [[event]] = await r.sql.query<Rows>(
      "SELECT INTERVAL_VALUE FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE() AND EVENT_NAME = 'relay_purge_event'",
    );
    assert.equal(String(event.INTERVAL_VALUE), "7");
    // Omitted options keep the stored values.
    await r.migrate({});
    const [[kept]] = await r.sql.query<Rows>("SELECT * FROM relay_settings");
    assert.equal(Number(kept.retention_hours), 0.25);
    assert.equal(kept.batch_size, 2);
  });

  it("accepts retention 0 and fractions, rejects negatives and bad values with typed errors", async () => {
    await r.migrate({ retentionHours: 0 });
    let [[s]] = await r.sql.query<Rows>("SELECT retention_hours FROM relay_settings");
    assert.equal(Number(s.retention_hours), 0);
    await r.migrate({ retentionHours: 1 / 3600 });
    [[s]] = await r.sql.query<Rows>("SELECT retention_hours FROM relay_settings");
    assert.ok(Math.abs(Number(s.retention_hours) - 1 / 3600) < 1e-6);
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await assert.rejects(r.migrate({ retentionHours: bad }), InvalidOptionError);
    }
    await assert.rejects(r.migrate({ batchSize: 0 }), /batch size/);
    await assert.rejects(r.migrate({ region: "tokyo" }), /invalid region "tokyo"/);
    await assert.rejects(r.migrate({ functionArn: "notify" }), /invalid function ARN/);
  });

  it("reports an already-applied file that changed, naming the file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "relay-sql-"));
    try {
      cpSync(SQL_DIR, dir, { recursive: true, filter: (src) => !src.endsWith(".ts") });
      await r.migrate({ sqlDir: dir });
      const before = sqlChecksum(dir);
      assert.equal(before, sqlChecksum(), "same files, same checksum");
      appendFileSync(join(dir, "003_relay_dispatch.sql"), "\n-- edited after it was applied\n");
      assert.notEqual(sqlChecksum(dir), before, "sqlChecksum follows the SQL");
      await assert.rejects(r.migrate({ sqlDir: dir }), (error: unknown) => {
        assert.ok(error instanceof ChangedMigrationError);
        assert.equal(error.file, "003_relay_dispatch.sql");
        assert.match(error.message, /003_relay_dispatch\.sql was already applied .* has changed/);
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reports a bad URL and an unreachable server as typed one-line errors", async () => {
    await assert.rejects(
      migrate({ url: "not a url", region: REGION, functionArn: ARN }),
      InvalidOptionError,
    );
    await assert.rejects(
      migrate({ url: "postgres://u@h/db", region: REGION, functionArn: ARN }),
      /scheme must be mysql/,
    );
    await assert.rejects(
      migrate({ url: "mysql://root@127.0.0.1:3306/", region: REGION, functionArn: ARN }),
      /name the database/,
    );
    const port = await freePort();
    await assert.rejects(
      migrate({ url: `mysql://u:secret@127.0.0.1:${port}/db`, region: REGION, functionArn: ARN }),
      (error: unknown) => {
        assert.ok(error instanceof DatabaseUnreachableError);
        assert.match(
          error.message,
          /cannot reach the database at 127\.0\.0\.1:\d+\/db: connection refused/,
        );
        assert.doesNotMatch(error.message, /secret/);
        return true;
      },
    );
  });

  describe("CLI", () => {
    it("migrates with the URL from RELAY_DB_URL, fractional retention, then 0", async () => {
      const ok = await cli(
        ["--region", REGION, "--function-arn", ARN, "--retention-hours", "0.5", "--local-lambda"],
        { RELAY_DB_URL: r.db.url },
      );
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /is up to date \(0 applied, 8 unchanged\)/);
      let [[s]] = await r.sql.query<Rows>("SELECT retention_hours FROM relay_settings");
      assert.equal(Number(s.retention_hours), 0.5);
      const zero = await cli([
        "--url",
        r.db.url,
        "--region",
        REGION,
        "--function-arn",
        ARN,
        "--retention-hours",
        "0",
        "--batch-size",
        "50",
        "--purge-interval-minutes",
        "2",
      ]);
      assert.equal(zero.code, 0, zero.stderr);
      [[s]] = await r.sql.query<Rows>("SELECT retention_hours, batch_size FROM relay_settings");
      assert.equal(Number(s.retention_hours), 0);
      assert.equal(s.batch_size, 50);
    });

    it("fails with one clear line on bad input, an unreachable server or a changed file", async () => {
      const port = await freePort();
      const base = ["--region", REGION, "--function-arn", ARN];
      const [badUrl, unreachable, missing, negative, notNumber, unknown, changed] =
        await Promise.all([
          cli(["--url", "mysql//oops", ...base]),
          cli(["--url", `mysql://relay:hunter2@127.0.0.1:${port}/storefront`, ...base]),
          cli(["--url", r.db.url, "--function-arn", ARN]),
          cli(["--url", r.db.url, ...base, "--retention-hours", "-1"]),
          cli(["--url", r.db.url, ...base, "--retention-hours", "abc"]),
          cli(["--url", r.db.url, ...base, "--retention", "1"]),
          (async () => {
            await r.sql.query(
              "UPDATE relay_schema_migrations SET checksum = REPEAT('0', 64) WHERE name = '002_relay_trigger.sql'",
            );
            return cli(["--url", r.db.url, ...base]);
          })(),
        ]);
      assertOneLineError(badUrl, /^db:migrate: invalid database URL mysql\/\/oops/);
      assertOneLineError(
        unreachable,
        /cannot reach the database at 127\.0\.0\.1:\d+\/storefront: connection refused/,
      );
      assert.doesNotMatch(unreachable.stderr, /hunter2/);
      assertOneLineError(missing, /^db:migrate: missing --region$/, 2);
      assertOneLineError(negative, /invalid retention hours -1: must be a number >= 0/);
      assertOneLineError(notNumber, /--retention-hours must be a number, got "abc"/, 2);
      assertOneLineError(unknown, /Unknown option '--retention'/, 2);
      assertOneLineError(
        changed,
        /migration 002_relay_trigger\.sql was already applied .* has changed/,
      );
    });
  });
});
