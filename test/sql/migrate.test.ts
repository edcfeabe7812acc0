/**
 * The migration runner (library and `npm run db:migrate` CLI) on a real MariaDB: idempotence,
 * settings written as one validated object, numbered migrations that may not change, routines
 * re-applied when edited in place, and one-line errors for bad input.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type mysql from "mysql2/promise";
import type { DatabaseSettings } from "../../contract/databaseSettings";
import { freePort } from "../../emulators/mariadb";
import {
  ChangedMigrationError,
  DatabaseUnreachableError,
  InvalidOptionError,
  migrate,
  RELAY_WORK_TABLE_PRIVILEGE,
  sqlChecksum,
  SQL_DIR,
} from "../../sql/migrate";
import { RELAY_USER_PRIVILEGES } from "../../components/relayDatabase";
import { createScratchDatabase } from "../support/mysql";
import { ARN, REGION, relayDb, SETTINGS, type RelayDb } from "./relay-db";

type Rows = mysql.RowDataPacket[];
const ROOT = join(__dirname, "..", "..");

const ROUTINES = [
  "routines/relay_backfill.sql",
  "routines/relay_columns.sql",
  "routines/relay_confirm.sql",
  "routines/relay_dispatch.sql",
  "routines/relay_heartbeat.sql",
  "routines/relay_invoke.sql",
  "routines/relay_overdue.sql",
  "routines/relay_purge.sql",
  "routines/relay_quarantine.sql",
  "routines/relay_session.sql",
  "routines/relay_status.sql",
];
const MIGRATIONS = [
  "migrations/001_relay_tables.sql",
  "migrations/008_relay_capture_by_key.sql",
  "migrations/009_relay_confirm.sql",
  "migrations/010_relay_resend_fraction.sql",
];
const LOCAL = ["local/001_lambda_async.sql", "local/002_lambda_async_limit.sql"];
const ALL_FILES = [...MIGRATIONS, ...LOCAL, ...ROUTINES];

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "sql/cli.ts", ...args], {
      cwd: ROOT,
      env: { ...process.env, RELAY_DB_URL: "", RELAY_SETTINGS: "", ...env },
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

/** Expected failures print exactly one line, never a stack; usage errors exit 2, others 1. */
function assertOneLineError(result: CliResult, pattern: RegExp, code = 1): void {
  assert.equal(result.code, code, `exit code; stderr: ${result.stderr}`);
  assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
  assert.match(result.stderr.trim(), pattern);
  assert.doesNotMatch(result.stderr, /\n\s+at /, "no stack trace");
}

/** A copy of sql/ (the .sql files only) that a test may edit. */
function copySqlDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "relay-sql-"));
  cpSync(SQL_DIR, dir, { recursive: true, filter: (src) => !src.endsWith(".ts") });
  return dir;
}

describe("sql: migration runner and db:migrate CLI (real MariaDB)", function () {
  this.timeout(30_000);
  let r: RelayDb;
  before(async () => {
    r = await relayDb("relay_migrate");
  });
  beforeEach(async () => {
    await r.reset();
  });
  after(async () => {
    await r.close();
  });

  it("is idempotent: a second run applies nothing and changes nothing", async () => {
    const tracking = async () => {
      const [migrations] = await r.sql.query<Rows>(
        "SELECT name, checksum, applied_at FROM relay_schema_migrations ORDER BY name",
      );
      const [routines] = await r.sql.query<Rows>(
        "SELECT name, checksum, applied_at FROM relay_schema_routines ORDER BY name",
      );
      return { migrations, routines };
    };
    const before = await tracking();
    assert.deepEqual(
      before.migrations.map((row) => row.name),
      [
        "001_relay_tables.sql",
        "008_relay_capture_by_key.sql",
        "009_relay_confirm.sql",
        "010_relay_resend_fraction.sql",
        "local/001_lambda_async.sql",
        "local/002_lambda_async_limit.sql",
      ],
    );
    assert.deepEqual(
      before.routines.map((row) => `routines/${row.name}`),
      ROUTINES,
    );
    const again = await r.migrate();
    assert.deepEqual(again.applied, []);
    assert.deepEqual(again.skipped, ALL_FILES);
    assert.deepEqual(await tracking(), before);
    // Every file is also safe to re-apply as a whole (interrupted-run recovery).
    await r.sql.query("DELETE FROM relay_schema_migrations");
    await r.sql.query("DELETE FROM relay_schema_routines");
    await r.sql.query("INSERT INTO order_data (item) VALUES ('kept')");
    const reapplied = await r.migrate();
    assert.deepEqual(reapplied.applied, ALL_FILES);
    assert.equal(await r.count("order_data"), 1);
    assert.equal(await r.count("relay_outbox", "op = 'UPSERT'"), 1);
    assert.deepEqual(reapplied.capture, [
      { table: "order_data", triggers: "unchanged", keyColumns: ["id"] },
    ]);
  });

  it("creates the trigger, procedures, events and views; all are defined by the migrating user", async () => {
    const [objects] = await r.sql.query<Rows>(
      `SELECT 'trigger' AS kind, TRIGGER_NAME AS name, DEFINER AS definer FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()
       UNION ALL SELECT 'routine', ROUTINE_NAME, DEFINER FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()
       UNION ALL SELECT 'event', EVENT_NAME, DEFINER FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE()
       UNION ALL SELECT 'view', TABLE_NAME, DEFINER FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()
       ORDER BY 1, 2`,
    );
    const names = objects.map(
      (o) => `${o.kind}:${String(o.name).replace(/_[0-9a-f]{8}$/, "_<hash>")}`,
    );
    assert.deepEqual(names, [
      "event:relay_dispatch_event",
      "event:relay_dispatch_helper_event",
      "event:relay_heartbeat_event",
      "event:relay_purge_event",
      "routine:lambda_async",
      "routine:local_lambda_fail",
      "routine:relay_backfill",
      "routine:relay_backfill_step",
      "routine:relay_backfill_table",
      "routine:relay_capture_check",
      "routine:relay_columns_sig",
      "routine:relay_confirm",
      "routine:relay_dispatch",
      "routine:relay_dispatch_helper",
      "routine:relay_dispatch_run",
      "routine:relay_heartbeat",
      "routine:relay_ident",
      "routine:relay_invoke",
      "routine:relay_is_base64_type",
      "routine:relay_is_mariadb",
      "routine:relay_json_columns",
      "routine:relay_json_member",
      "routine:relay_key_decode_expr",
      "routine:relay_key_expr",
      "routine:relay_purge",
      "routine:relay_release_quarantine",
      "routine:relay_resend",
      "routine:relay_resync",
      "routine:relay_session_begin",
      "routine:relay_session_end",
      "routine:relay_skip_quarantine",
      "routine:relay_table_check",
      "routine:relay_table_refresh",
      "routine:relay_value_expr",
      "trigger:relay_del_order_data_<hash>",
      "trigger:relay_ins_order_data_<hash>",
      "trigger:relay_upd_order_data_<hash>",
      "view:relay_overdue",
      "view:relay_status",
    ]);
    const [[me]] = await r.sql.query<Rows>("SELECT CURRENT_USER() AS me");
    for (const o of objects) assert.equal(o.definer, me.me, `${o.kind} ${o.name} definer`);
    const [events] = await r.sql.query<Rows>(
      "SELECT EVENT_NAME, INTERVAL_VALUE, INTERVAL_FIELD, EVENT_DEFINITION FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE() ORDER BY 1",
    );
    assert.deepEqual(
      events.map((e) => [e.EVENT_NAME, String(e.INTERVAL_VALUE), e.INTERVAL_FIELD]),
      [
        ["relay_dispatch_event", "1", "SECOND"],
        ["relay_dispatch_helper_event", "1", "SECOND"],
        ["relay_heartbeat_event", "1", "MINUTE"],
        ["relay_purge_event", "5", "MINUTE"],
      ],
    );
    // No ARN or region is templated into any definition.
    const [[defs]] = await r.sql.query<Rows>(
      `SELECT CONCAT_WS('\n',
         (SELECT GROUP_CONCAT(ACTION_STATEMENT) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()),
         (SELECT GROUP_CONCAT(ROUTINE_DEFINITION) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()),
         (SELECT GROUP_CONCAT(EVENT_DEFINITION) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE())) AS t`,
    );
    assert.doesNotMatch(String(defs.t), /arn:aws|ap-northeast-1/);
    // lambda_async is called in exactly one routine, relay_invoke; dispatch and heartbeat use it.
    const [callers] = await r.sql.query<Rows>(
      `SELECT ROUTINE_NAME AS name, ROUTINE_DEFINITION LIKE '%lambda_async(%' AS direct,
              ROUTINE_DEFINITION LIKE '%CALL relay_invoke(%' AS via_invoke
         FROM information_schema.ROUTINES
        WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_NAME LIKE 'relay\\_%' ORDER BY 1`,
    );
    assert.deepEqual(
      callers.filter((c) => Number(c.direct)).map((c) => c.name),
      ["relay_invoke"],
    );
    assert.deepEqual(
      callers.filter((c) => Number(c.via_invoke)).map((c) => c.name),
      ["relay_dispatch_run", "relay_heartbeat"],
    );
  });

  it("writes the settings as a whole; they take effect on the next run of the procedures", async () => {
    await r.sql.query("INSERT INTO order_data (item) VALUES ('a'), ('b'), ('c')");
    await r.sql.query("CALL relay_dispatch()");
    const otherArn = "arn:aws:lambda:eu-west-1:123456789012:function:other-notify";
    await r.migrate({
      settings: {
        region: "eu-west-1",
        functionArn: otherArn,
        dispatchBatchSize: 2,
        retentionHours: 0.25,
        purgeIntervalMinutes: 7,
      },
    });
    await r.sql.query("INSERT INTO order_data (item) VALUES ('d'), ('e'), ('f')");
    await r.sql.query("CALL relay_dispatch()");
    const invocations = await r.invocations();
    assert.deepEqual(
      invocations.map((i) => [i.functionArn, i.envelope.region, i.envelope.records.length]),
      [
        [ARN, REGION, 4], // the install-time SCHEMA record and 3 orders
        [otherArn, "eu-west-1", 2],
        [otherArn, "eu-west-1", 1],
      ],
    );
    const stored = async () => {
      const [[s]] = await r.sql.query<Rows>("SELECT * FROM relay_settings");
      const [[event]] = await r.sql.query<Rows>(
        "SELECT INTERVAL_VALUE FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE() AND EVENT_NAME = 'relay_purge_event'",
      );
      return {
        region: s.region,
        functionArn: s.function_arn,
        retentionHours: Number(s.retention_hours),
        dispatchBatchSize: s.batch_size,
        purgeIntervalMinutes: s.purge_interval_minutes,
        purgeRequires: s.purge_requires,
        purgeEventEvery: Number(event.INTERVAL_VALUE),
      };
    };
    assert.deepEqual(await stored(), {
      region: "eu-west-1",
      functionArn: otherArn,
      retentionHours: 0.25,
      dispatchBatchSize: 2,
      purgeIntervalMinutes: 7,
      purgeRequires: "handedOff",
      purgeEventEvery: 7,
    });
    // Nothing is kept from an earlier run: the object given is the object stored.
    await r.migrate();
    assert.deepEqual(await stored(), { ...SETTINGS, purgeEventEvery: 5 });
  });

  it("accepts retention 0 and fractions; invalid settings fail before connecting, naming the field", async () => {
    await r.migrate({ settings: { retentionHours: 0 } });
    let [[s]] = await r.sql.query<Rows>("SELECT retention_hours FROM relay_settings");
    assert.equal(Number(s.retention_hours), 0);
    await r.migrate({ settings: { retentionHours: 1 / 3600 } });
    [[s]] = await r.sql.query<Rows>("SELECT retention_hours FROM relay_settings");
    assert.ok(Math.abs(Number(s.retention_hours) - 1 / 3600) < 1e-6);
    const { retentionHours: _omitted, ...withoutRetention } = SETTINGS;
    const cases: [unknown, RegExp][] = [
      [
        { ...SETTINGS, retentionHours: -1 },
        /^invalid settings: retentionHours must be >= 0 hours$/,
      ],
      [{ ...SETTINGS, retentionHours: Number.NaN }, /^invalid settings: retentionHours must be /],
      [{ ...SETTINGS, retentionHours: Infinity }, /^invalid settings: retentionHours must be /],
      [
        { ...SETTINGS, dispatchBatchSize: 0 },
        /^invalid settings: dispatchBatchSize must be at least 1$/,
      ],
      [{ ...SETTINGS, dispatchBatchSize: 501 }, /dispatchBatchSize must be at most 500/],
      [{ ...SETTINGS, purgeIntervalMinutes: 1.5 }, /purgeIntervalMinutes must be a whole number/],
      [
        { ...SETTINGS, region: "tokyo" },
        /region must be an AWS region code such as ap-northeast-1/,
      ],
      [{ ...SETTINGS, functionArn: "notify" }, /functionArn must look like arn:aws:lambda:/],
      [
        withoutRetention,
        /^invalid settings: retentionHours is missing: expected a number of hours/,
      ],
      [
        { ...SETTINGS, batchSize: 5 },
        /^invalid settings: unknown field batchSize — known: region,/,
      ],
      [undefined, /^invalid settings: must be a JSON object/],
    ];
    const port = await freePort(); // nothing listens: validation must come first
    for (const [settings, message] of cases) {
      for (const url of [r.db.url, `mysql://u@127.0.0.1:${port}/db`]) {
        await assert.rejects(
          migrate({ url, settings: settings as DatabaseSettings }),
          (error: unknown) => {
            assert.ok(error instanceof InvalidOptionError, String(error));
            assert.match(error.message, message);
            assert.doesNotMatch(error.message, /\n/);
            return true;
          },
          JSON.stringify(settings),
        );
      }
    }
    [[s]] = await r.sql.query<Rows>("SELECT retention_hours FROM relay_settings");
    assert.ok(Math.abs(Number(s.retention_hours) - 1 / 3600) < 1e-6, "nothing written");
  });

  it("rejects an applied numbered migration that changed, naming the file", async () => {
    const dir = copySqlDir();
    try {
      await r.migrate({ sqlDir: dir });
      const before = sqlChecksum(dir);
      assert.equal(before, sqlChecksum(), "same files, same checksum");
      appendFileSync(
        join(dir, "migrations/001_relay_tables.sql"),
        "\n-- edited after it was applied\n",
      );
      assert.notEqual(sqlChecksum(dir), before, "sqlChecksum follows the migrations");
      await assert.rejects(r.migrate({ sqlDir: dir }), (error: unknown) => {
        assert.ok(error instanceof ChangedMigrationError);
        assert.equal(error.file, "migrations/001_relay_tables.sql");
        assert.match(
          error.message,
          /migration migrations\/001_relay_tables\.sql was already applied .* has changed since .*add a new NNN_\*\.sql file/,
        );
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("applies a new numbered migration once; numbers used by the previous layout are retired", async () => {
    const dir = copySqlDir();
    try {
      writeFileSync(
        join(dir, "migrations/010_relay_extra.sql"),
        "CREATE TABLE IF NOT EXISTS relay_extra (id INT NOT NULL PRIMARY KEY);\n",
      );
      const first = await r.migrate({ sqlDir: dir });
      assert.deepEqual(first.applied, ["migrations/010_relay_extra.sql"]);
      assert.equal((await r.migrate({ sqlDir: dir })).applied.length, 0);
      assert.equal(await r.count("relay_extra"), 0);
      writeFileSync(join(dir, "migrations/003_relay_orders_v2.sql"), "SELECT 1;\n");
      await assert.rejects(r.migrate({ sqlDir: dir }), (error: unknown) => {
        assert.ok(error instanceof InvalidOptionError);
        assert.match(
          error.message,
          /migrations\/003_relay_orders_v2\.sql: numbers 002, 003.* are retired/,
        );
        return true;
      });
      assert.throws(() => sqlChecksum(dir), /are retired/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await r.sql.query(
        "DELETE FROM relay_schema_migrations WHERE name = '010_relay_extra.sql'; DROP TABLE IF EXISTS relay_extra",
      );
    }
  });

  it("re-applies a routine edited in place on the next run and skips the unchanged ones", async () => {
    const dir = copySqlDir();
    try {
      await r.migrate({ sqlDir: dir, settings: { purgeIntervalMinutes: 7 } });
      await r.sql.query("INSERT INTO order_data (item) VALUES ('kept 1'), ('kept 2')");
      await r.sql.query("CALL relay_dispatch()");
      const before = sqlChecksum(dir);
      const [[tracked]] = await r.sql.query<Rows>(
        "SELECT checksum FROM relay_schema_routines WHERE name = 'relay_purge.sql'",
      );
      const file = join(dir, "routines/relay_purge.sql");
      const text = readFileSync(file, "utf8");
      const comment =
        "Deletes handed-off rows older than the retention (children first), in bounded batches";
      assert.ok(text.includes(comment));
      writeFileSync(file, text.replace(comment, `${comment} (edited in place)`));
      assert.notEqual(sqlChecksum(dir), before, "sqlChecksum follows the routines");

      const lines: string[] = [];
      const second = await r.migrate({
        sqlDir: dir,
        settings: { purgeIntervalMinutes: 7 },
        log: (line) => lines.push(line),
      });
      assert.deepEqual(second.applied, ["routines/relay_purge.sql"]);
      assert.deepEqual(
        second.skipped,
        ALL_FILES.filter((f) => f !== "routines/relay_purge.sql"),
      );
      assert.ok(lines.includes("re-applying (changed) routines/relay_purge.sql"), lines.join("\n"));
      const [[routine]] = await r.sql.query<Rows>(
        "SELECT ROUTINE_COMMENT AS c FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_NAME = 'relay_purge'",
      );
      assert.equal(routine.c, `${comment} (edited in place)`);
      const [[retracked]] = await r.sql.query<Rows>(
        "SELECT checksum FROM relay_schema_routines WHERE name = 'relay_purge.sql'",
      );
      assert.notEqual(retracked.checksum, tracked.checksum);
      // The re-created event still runs at the configured interval; no data was touched.
      const [[event]] = await r.sql.query<Rows>(
        "SELECT INTERVAL_VALUE FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE() AND EVENT_NAME = 'relay_purge_event'",
      );
      assert.equal(String(event.INTERVAL_VALUE), "7");
      assert.equal(await r.count("order_data"), 2);
      assert.equal(await r.count("relay_outbox", "op = 'UPSERT' AND handed_off_at IS NOT NULL"), 2);
      await r.sql.query("CALL relay_purge()");

      const third = await r.migrate({ sqlDir: dir, settings: { purgeIntervalMinutes: 7 } });
      assert.deepEqual(third.applied, []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("runs with the relay user's grants alone (components/relayDatabase.ts, plus CREATE TEMPORARY TABLES for the work tables)", async () => {
    const scratch = await createScratchDatabase("relay_grants");
    const user = `relay_${scratch.name.slice(-8)}`;
    const grants = (RELAY_USER_PRIVILEGES as readonly string[])
      .filter((p) => p !== RELAY_WORK_TABLE_PRIVILEGE)
      .join(", ");
    await r.sql.query(
      `CREATE USER '${user}'@'%' IDENTIFIED BY 'pw-${user}'; GRANT ${grants} ON \`${scratch.name}\`.* TO '${user}'@'%'`,
    );
    try {
      const url = new URL(scratch.url);
      url.username = user;
      url.password = `pw-${user}`;
      const settings = { ...SETTINGS, retentionHours: 0 };
      // Without the work tables' grant: one line saying which GRANT, before anything is changed.
      await assert.rejects(
        migrate({ url: url.toString(), settings, localLambda: true }),
        /^MigrationError: the relay user may not create temporary tables in .* GRANT CREATE TEMPORARY TABLES ON <database>\.\* TO <relay user>$/,
      );
      await r.sql.query(
        `GRANT ${RELAY_WORK_TABLE_PRIVILEGE} ON \`${scratch.name}\`.* TO '${user}'@'%'`,
      );
      await migrate({ url: url.toString(), settings, localLambda: true });
      const relay = await (
        await import("mysql2/promise")
      ).createConnection({ uri: url.toString() });
      try {
        await relay.query("ALTER EVENT relay_dispatch_event DISABLE");
        await relay.query("ALTER EVENT relay_dispatch_helper_event DISABLE");
        await relay.query("INSERT INTO order_data (item) VALUES ('least privilege')");
        await relay.query("CALL relay_dispatch()");
        await relay.query("CALL relay_purge()");
        await relay.query("CALL relay_heartbeat()");
        const [[state]] = await relay.query<Rows>(
          "SELECT total_handed_off, last_purge_at, last_purge_error FROM relay_state",
        );
        assert.equal(Number(state.total_handed_off), 2, "the SCHEMA record and the order");
        assert.ok(state.last_purge_at, String(state.last_purge_error));
      } finally {
        await relay.end();
      }
    } finally {
      await r.sql.query(`DROP USER '${user}'@'%'`);
      await scratch.drop();
    }
  });

  it("reports a bad URL and an unreachable server as typed one-line errors", async () => {
    await assert.rejects(migrate({ url: "not a url", settings: SETTINGS }), InvalidOptionError);
    await assert.rejects(
      migrate({ url: "postgres://u@h/db", settings: SETTINGS }),
      /scheme must be mysql/,
    );
    await assert.rejects(
      migrate({ url: "mysql://root@127.0.0.1:3306/", settings: SETTINGS }),
      /name the database/,
    );
    const port = await freePort();
    await assert.rejects(
      migrate({ url: `mysql://u:secret@127.0.0.1:${port}/db`, settings: SETTINGS }),
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
    const json = (overrides: Partial<DatabaseSettings> = {}) =>
      JSON.stringify({ ...SETTINGS, ...overrides });
    const stored = async () => {
      const [[s]] = await r.sql.query<Rows>(
        "SELECT region, retention_hours, batch_size, purge_interval_minutes FROM relay_settings",
      );
      return [s.region, Number(s.retention_hours), s.batch_size, s.purge_interval_minutes];
    };

    it("migrates with RELAY_DB_URL + RELAY_SETTINGS (as the Pulumi program runs it) or --url + --settings", async () => {
      const env = await cli(["--local-lambda"], {
        RELAY_DB_URL: r.db.url,
        RELAY_SETTINGS: json({ retentionHours: 0.5 }),
      });
      assert.equal(env.code, 0, env.stderr);
      assert.match(env.stdout, /is up to date \(0 applied, 17 unchanged; capturing order_data\)/);
      assert.deepEqual(await stored(), [REGION, 0.5, 100, 5]);
      // --settings wins over RELAY_SETTINGS (even a broken one).
      const flags = await cli(
        [
          "--url",
          r.db.url,
          "--settings",
          json({
            region: "eu-west-1",
            retentionHours: 0,
            dispatchBatchSize: 50,
            purgeIntervalMinutes: 2,
          }),
        ],
        { RELAY_SETTINGS: "{broken" },
      );
      assert.equal(flags.code, 0, flags.stderr);
      assert.match(flags.stdout, /is up to date \(0 applied, 15 unchanged; capturing order_data\)/);
      assert.deepEqual(await stored(), ["eu-west-1", 0, 50, 2]);
    });

    it("--help explains every flag and environment variable", async () => {
      const help = await cli(["--help"]);
      assert.equal(help.code, 0, help.stderr);
      for (const word of [
        "--url",
        "--settings",
        "--local-lambda",
        "--create-order-data",
        "--tls",
        "--tables",
        "--resync",
        "relay_resync",
        "--help",
        "RELAY_DB_URL",
        "RELAY_SETTINGS",
        ...Object.keys(SETTINGS),
      ]) {
        assert.ok(help.stdout.includes(word), `help mentions ${word}`);
      }
    });

    it("--tables overrides the settings' list (validated like the stack config); --resync sends a table again", async () => {
      await r.sql.query("CREATE TABLE ps_orders (id_order INT PRIMARY KEY, total DECIMAL(20,6))");
      await r.sql.query("INSERT INTO ps_orders VALUES (1, 9.5), (2, 10)");
      try {
        const tables = JSON.stringify([{ name: "order_data" }, { name: "ps_orders" }]);
        const run = await cli([
          "--url",
          r.db.url,
          "--settings",
          json(),
          "--tables",
          tables,
          "--resync",
          "ps_orders",
        ]);
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stdout, /capture triggers created for ps_orders \(key id_order\)/);
        assert.match(run.stdout, /backfill of ps_orders verified complete \(2 row\(s\) enqueued\)/);
        assert.match(
          run.stdout,
          /resync of ps_orders: 2 row\(s\) enqueued \(a SCHEMA record first\)/,
        );
        assert.match(run.stdout, /capturing order_data, ps_orders\)$/m);
        assert.equal(
          await r.count("relay_outbox", "table_name = 'ps_orders' AND op = 'UPSERT'"),
          4,
        );
        await assert.rejects(
          r.migrate({ resync: ["ps_orders"] }),
          /cannot resync ps_orders: it is not listed in order-relay:tables \(listed: order_data\)$/,
        );
      } finally {
        await r.migrate(); // ps_orders unlisted again (its triggers dropped)
        await r.sql.query("DROP TABLE ps_orders");
      }
    });

    it("fails with one clear line on bad input, an unreachable server or a changed file", async () => {
      const port = await freePort();
      const settings = ["--settings", json()];
      const [
        badUrl,
        unreachable,
        noUrl,
        noSettings,
        notJson,
        badEnv,
        badFlag,
        oldFlag,
        tablesJson,
        tablesShape,
        changed,
      ] = await Promise.all([
        cli(["--url", "mysql//oops", ...settings]),
        cli(["--url", `mysql://relay:hunter2@127.0.0.1:${port}/storefront`, ...settings]),
        cli(settings),
        cli(["--url", r.db.url]),
        cli(["--url", r.db.url, "--settings", "{region: tokyo}"]),
        cli(["--url", r.db.url], { RELAY_SETTINGS: json({ retentionHours: -1 }) }),
        cli(["--url", r.db.url, "--settings", json({ functionArn: "notify" })]),
        cli(["--url", r.db.url, ...settings, "--region", REGION]),
        cli(["--url", r.db.url, ...settings, "--tables", "[{name:"]),
        cli(["--url", r.db.url, ...settings, "--tables", '[{"name": "a"}, {"name": "a"}]']),
        (async () => {
          await r.sql.query(
            "UPDATE relay_schema_migrations SET checksum = REPEAT('0', 64) WHERE name = '001_relay_tables.sql'",
          );
          return cli(["--url", r.db.url, ...settings]);
        })(),
      ]);
      assertOneLineError(badUrl, /^db:migrate: invalid database URL mysql\/\/oops/);
      assertOneLineError(
        unreachable,
        /cannot reach the database at 127\.0\.0\.1:\d+\/storefront: connection refused/,
      );
      assert.doesNotMatch(unreachable.stderr, /hunter2/);
      assertOneLineError(noUrl, /^db:migrate: missing --url \(or the RELAY_DB_URL/, 2);
      assertOneLineError(noSettings, /^db:migrate: missing --settings .*RELAY_SETTINGS/, 2);
      assertOneLineError(
        notJson,
        /^db:migrate: --settings is not JSON \(.*\); expected \{"region"/,
        2,
      );
      assertOneLineError(
        badEnv,
        /^db:migrate: RELAY_SETTINGS: retentionHours must be >= 0 hours/,
        2,
      );
      assertOneLineError(badFlag, /^db:migrate: --settings: functionArn must look like arn:aws/, 2);
      assertOneLineError(oldFlag, /Unknown option '--region'/, 2);
      assertOneLineError(
        tablesJson,
        /^db:migrate: --tables is not JSON \(.*\); expected \[\{"name": "order_data"\}/,
        2,
      );
      assertOneLineError(tablesShape, /^db:migrate: --tables\[1\] "a" is listed twice/, 2);

      assertOneLineError(
        changed,
        /migration migrations\/001_relay_tables\.sql was already applied .* has changed/,
      );
    });
  });
});
