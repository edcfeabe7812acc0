/**
 * A database deployed with the previous layout (every file a numbered migration in sql/, routines
 * included: fixtures/legacy-layout/, migrated by that layout's own runner) migrates cleanly with
 * today's runner: no "changed migration" error, no data lost, the routines replaced by
 * sql/routines/, the trigger taken over by sql/capture.ts, and the relay working afterwards.
 */
import assert from "node:assert/strict";
import mysql from "mysql2/promise";
import { parseEnvelope } from "../../contract/envelope";
import * as legacy from "./fixtures/legacy-layout/migrate";
import { LEGACY_MIGRATIONS, migrate } from "../../sql/migrate";
import { createScratchDatabase, type ScratchDatabase } from "../support/mysql";
import { ARN, REGION, SETTINGS } from "./relay-db";

type Rows = mysql.RowDataPacket[];

describe("sql: a database migrated by the previous layout upgrades cleanly", function () {
  this.timeout(30_000);
  let db: ScratchDatabase;
  let sql: mysql.Connection;
  beforeEach(async () => {
    db = await createScratchDatabase("relay_legacy");
  });
  afterEach(async () => {
    await sql?.end().catch(() => {});
    await db.drop();
  });

  it("keeps every row, replaces the routines, keeps the trigger, and relays afterwards", async () => {
    const old = await legacy.migrate({
      url: db.url,
      region: REGION,
      functionArn: ARN,
      retentionHours: 48,
      batchSize: 7,
      localLambda: true,
    });
    assert.deepEqual(old.applied, [
      "001_relay_tables.sql",
      ...Object.keys(LEGACY_MIGRATIONS),
      "local/001_lambda_async.sql",
    ]);
    sql = await mysql.createConnection({ uri: db.url, multipleStatements: true });
    for (const event of ["relay_dispatch_event", "relay_purge_event", "relay_heartbeat_event"]) {
      await sql.query(`ALTER EVENT ${event} DISABLE`);
    }
    // Life under the old layout: orders handed off, orders stuck behind a failing lambda_async.
    await sql.query("INSERT INTO order_data (item) VALUES ('sent 1'), ('sent 2')");
    await sql.query("CALL relay_dispatch()");
    await sql.query("CALL local_lambda_fail(TRUE)");
    await sql.query("INSERT INTO order_data (item) VALUES ('stuck 1'), ('stuck 2')");
    await sql.query("CALL relay_dispatch()");
    const snapshot = async () => {
      const tables: Record<string, Rows> = {};
      for (const [table, order] of [
        ["order_data", "id"],
        ["relay_outbox", "id"],
        ["relay_state", "id"],
        ["lambda_invocations", "id"],
        ["relay_schema_migrations", "name"],
      ]) {
        [tables[table]] = await sql.query<Rows>(`SELECT * FROM ${table} ORDER BY ${order}`);
      }
      return tables;
    };
    const before = await snapshot();
    assert.equal(before.relay_outbox.filter((row) => row.handed_off_at === null).length, 2);

    const lines: string[] = [];
    const upgraded = await migrate({
      url: db.url,
      settings: { ...SETTINGS, retentionHours: 48, dispatchBatchSize: 7 },
      localLambda: true,
      log: (line) => lines.push(line),
    });
    assert.deepEqual(upgraded.skipped, [
      "migrations/001_relay_tables.sql",
      "local/001_lambda_async.sql",
    ]);
    assert.deepEqual(upgraded.applied, [
      "routines/relay_backfill.sql",
      "routines/relay_dispatch.sql",
      "routines/relay_heartbeat.sql",
      "routines/relay_invoke.sql",
      "routines/relay_overdue.sql",
      "routines/relay_purge.sql",
      "routines/relay_status.sql",
    ]);
    // The seed schema's trigger from 002 is exactly what sql/capture.ts generates: not touched.
    assert.ok(!lines.some((line) => line.includes("capture trigger")), lines.join("\n"));
    // Every row is still there, the legacy tracking rows included (kept as history).
    assert.deepEqual(await snapshot(), before);

    const [[dispatch]] = await sql.query<Rows>(
      "SELECT ROUTINE_DEFINITION AS body FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_NAME = 'relay_dispatch'",
    );
    assert.match(String(dispatch.body), /CALL relay_invoke\(/, "the new relay_dispatch");

    // The relay works on: the stuck rows and a new order go out once lambda_async recovers.
    await sql.query("INSERT INTO order_data (item) VALUES ('after upgrade')");
    await sql.query("CALL relay_dispatch()");
    assert.equal(
      (await sql.query<Rows>("SELECT COUNT(*) AS n FROM lambda_invocations"))[0][0].n,
      before.lambda_invocations.length,
      "still failing: nothing sent",
    );
    const [[state]] = await sql.query<Rows>("SELECT last_error FROM relay_state");
    assert.match(String(state.last_error), /^1873: /);
    await sql.query("CALL local_lambda_fail(FALSE)");
    await sql.query("CALL relay_dispatch()");
    const [rows] = await sql.query<Rows>("SELECT payload FROM lambda_invocations ORDER BY id");
    const items = rows
      .map((row) => parseEnvelope(JSON.parse(String(row.payload))))
      .flatMap((envelope) => envelope.records.map((record) => record.row.item));
    assert.deepEqual(items, ["sent 1", "sent 2", "stuck 1", "stuck 2", "after upgrade"]);
    const [[pending]] = await sql.query<Rows>("SELECT pending FROM relay_status");
    assert.equal(Number(pending.pending), 0);

    // And the next run is a no-op.
    const again = await migrate({
      url: db.url,
      settings: { ...SETTINGS, retentionHours: 48, dispatchBatchSize: 7 },
      localLambda: true,
    });
    assert.deepEqual(again.applied, []);
  });
});
