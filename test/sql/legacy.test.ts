/**
 * A database deployed with the previous layout (every file a numbered migration in sql/, routines
 * included: fixtures/legacy-layout/, migrated by that layout's own runner) migrates cleanly with
 * today's runner: no "changed migration" error, no order lost, the routines replaced by
 * sql/routines/, the first release's trigger replaced by capture by key (sql/capture.ts), its
 * outbox rows (row_id + row_json) converted by migration 008 into UPSERTs keyed {"id": row_id},
 * and the relay working afterwards — the stuck orders go out with their current state.
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

  it("keeps every order, converts the outbox, replaces the routines and the trigger, and relays afterwards", async () => {
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
    // Stuck orders may change before the upgrade: the DC gets their state at hand-off.
    await sql.query("UPDATE order_data SET item = 'stuck 2 (edited)' WHERE item = 'stuck 2'");

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
      "migrations/008_relay_capture_by_key.sql",
      "migrations/009_relay_confirm.sql",
      "migrations/010_relay_resend_fraction.sql",
      "local/002_lambda_async_limit.sql",
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
    ]);
    // The first release's trigger is replaced (new triggers first, then the old one dropped).
    assert.ok(
      lines.includes("capture triggers regenerated for order_data (key id)"),
      lines.join("\n"),
    );
    const [triggers] = await sql.query<Rows>(
      "SELECT TRIGGER_NAME AS name FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY 1",
    );
    assert.deepEqual(
      triggers.map((t) => String(t.name).replace(/_[0-9a-f]{8}$/, "")),
      ["relay_del_order_data", "relay_ins_order_data", "relay_upd_order_data"],
    );
    // Every order and every outbox row is still there, converted: same ids, same hand-off state.
    const after = await snapshot();
    assert.deepEqual(after.order_data.length, before.order_data.length);
    for (const tracked of before.relay_schema_migrations) {
      assert.deepEqual(
        after.relay_schema_migrations.find((row) => row.name === tracked.name),
        tracked,
        "the legacy tracking rows stay as history",
      );
    }
    const converted = after.relay_outbox.filter((row) => row.op === "UPSERT");
    assert.deepEqual(
      converted.map((row) => [
        Number(row.id),
        row.table_name,
        JSON.parse(String(row.key_json)),
        row.handed_off_at === null,
      ]),
      before.relay_outbox.map((row) => [
        Number(row.id),
        "order_data",
        { id: Number(row.row_id) },
        row.handed_off_at === null,
      ]),
    );
    assert.ok(!("row_json" in after.relay_outbox[0]), "the row copies are gone");
    assert.deepEqual(after.lambda_invocations, before.lambda_invocations);

    // The new dispatch: relay_dispatch runs relay_dispatch_run, which calls relay_invoke.
    const [[dispatch]] = await sql.query<Rows>(
      "SELECT ROUTINE_DEFINITION AS body FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_NAME = 'relay_dispatch_run'",
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
    const oldItems = rows
      .slice(0, before.lambda_invocations.length)
      .flatMap(
        (row) =>
          (JSON.parse(String(row.payload)) as { records: { row: { item: string } }[] }).records,
      )
      .map((record) => record.row.item);
    assert.deepEqual(oldItems, ["sent 1", "sent 2"], "sent by the first release");
    const newRecords = rows
      .slice(before.lambda_invocations.length)
      .flatMap((row) => parseEnvelope(JSON.parse(String(row.payload))).records);
    assert.deepEqual(
      newRecords.map((record) =>
        record.op === "UPSERT" ? [record.key, record.row.item] : record.op,
      ),
      [
        "SCHEMA",
        [{ id: 3 }, "stuck 1"],
        [{ id: 4 }, "stuck 2 (edited)"],
        [{ id: 5 }, "after upgrade"],
      ],
    );
    const [[pending]] = await sql.query<Rows>(
      "SELECT pending, backfill_incomplete FROM relay_status",
    );
    assert.equal(Number(pending.pending), 0);
    assert.equal(
      Number(pending.backfill_incomplete),
      0,
      "every order had its outbox row: verified",
    );

    // And the next run is a no-op.
    const again = await migrate({
      url: db.url,
      settings: { ...SETTINGS, retentionHours: 48, dispatchBatchSize: 7 },
      localLambda: true,
    });
    assert.deepEqual(again.applied, []);
  });
});
