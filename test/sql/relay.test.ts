/**
 * The relay inside the database on the seed table (order_data: id, item), proven on a real
 * MariaDB (or MYSQL_URL): the capture triggers, the outbox of keys, relay_dispatch() with the
 * local lambda_async stand-in (which rejects payloads over the async-invoke limit like AWS),
 * relay_purge(), the backfill, and the trigger's INSERT cost on the seed table and on a wide
 * storefront table. Every payload relay_dispatch() produces is validated with the Lambda side's
 * parseEnvelope (envelope v2: UPSERT/DELETE records keyed by an object of the key columns).
 */
import assert from "node:assert/strict";
import type mysql from "mysql2/promise";
import {
  ASYNC_INVOKE_PAYLOAD_LIMIT_BYTES,
  MAX_RECORD_BYTES,
  type RelayRecord,
} from "../../contract/envelope";
import { ARN, REGION, relayDb, sleep, upserts, type RelayDb, type Rows } from "./relay-db";
import { BENCH_TABLES, measureOverhead, SEED_INSERT, WIDE_INSERT } from "../../bench/trigger";
import { PS_ORDERS_SQL } from "./storefront";

async function insertItems(sql: mysql.Connection, items: string[]): Promise<void> {
  for (const item of items) await sql.execute("INSERT INTO order_data (item) VALUES (?)", [item]);
}

/** Multi-row INSERTs of 500 rows each (one trigger firing per row). */
async function bulkInsert(sql: mysql.Connection, count: number, item: (i: number) => string) {
  for (let start = 0; start < count; start += 500) {
    const items = Array.from({ length: Math.min(500, count - start) }, (_, k) =>
      item(start + k + 1),
    );
    await sql.query(
      `INSERT INTO order_data (item) VALUES ${items.map(() => "(?)").join(",")}`,
      items,
    );
  }
}

async function dispatch(r: RelayDb): Promise<void> {
  await r.sql.query("CALL relay_dispatch()");
}

/** A migrated database whose install-time SCHEMA record was already handed off and forgotten. */
async function seedRelay(prefix: string): Promise<RelayDb> {
  const r = await relayDb(prefix);
  await dispatch(r);
  await r.sql.query("DELETE FROM lambda_invocations");
  return r;
}

/** The UPSERT records of every invocation, in call order (the seed table's orders). */
async function handedOffRecords(r: RelayDb) {
  return upserts(await r.records());
}

const items = (records: RelayRecord[]) => upserts(records).map((rec) => rec.row.item);

describe("sql: relay outbox, dispatch, purge, backfill (real MariaDB)", function () {
  this.timeout(30_000);

  describe("trigger and envelope", () => {
    let r: RelayDb;
    before(async () => {
      r = await seedRelay("relay_trigger");
    });
    beforeEach(async () => {
      await r.reset();
    });
    after(async () => {
      await r.close();
    });

    it("round-trips hostile values exactly through the payload JSON", async () => {
      const hostile = [
        `it's "quoted"`,
        "back\\slash \\\\ and \\n literal",
        "new\nline\r\ttab",
        "注文：日本語のテキスト",
        "emoji 😀 👍🏽 🇯🇵 𝄞",
        "x".repeat(50),
        "😀".repeat(50),
        "'); DROP TABLE order_data; --",
        `{"looks":"like json"}`,
        "NUL\u0000byte",
        "",
        " trailing space ",
      ];
      await insertItems(r.sql, hostile);
      await assert.rejects(
        r.sql.execute("INSERT INTO order_data (item) VALUES (?)", ["y".repeat(51)]),
        /too long/i,
        "the seed column is VARCHAR(50): 51 characters are rejected (strict mode)",
      );
      await dispatch(r);
      const invocations = await r.invocations();
      assert.equal(invocations.length, 1);
      assert.equal(invocations[0].functionArn, ARN);
      assert.equal(invocations[0].envelope.region, REGION);
      const records = upserts(invocations[0].envelope.records);
      assert.deepEqual(items(records), hostile);
      const [ids] = await r.sql.query<Rows>("SELECT id FROM order_data ORDER BY id");
      assert.deepEqual(
        records.map((rec) => [rec.key, rec.row.id, rec.table, rec.op]),
        ids.map((row) => [{ id: row.id }, row.id, "order_data", "UPSERT"]),
      );
      for (const rec of records) {
        assert.match(rec.occurredAt, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
        assert.ok(Math.abs(Date.parse(rec.occurredAt) - Date.now()) < 60_000, rec.occurredAt);
      }
    });

    it("rolled-back inserts never reach the outbox or the notify function", async () => {
      const tx = await r.connect();
      await tx.beginTransaction();
      await tx.execute("INSERT INTO order_data (item) VALUES (?)", ["rolled back"]);
      assert.equal(
        await r.count("relay_outbox", "op <> 'SCHEMA'"),
        0,
        "uncommitted: invisible to others",
      );
      await dispatch(r); // runs while the order is still uncommitted
      await tx.rollback();
      await dispatch(r);
      assert.equal(await r.count("order_data"), 0);
      assert.equal(await r.count("relay_outbox", "op <> 'SCHEMA'"), 0);
      assert.equal(await r.count("lambda_invocations"), 0);
    });

    it("a multi-row INSERT enqueues every row, in order", async () => {
      await r.sql.query("INSERT INTO order_data (item) VALUES ('a'), ('b'), ('c'), ('d'), ('e')");
      await dispatch(r);
      const records = await handedOffRecords(r);
      assert.deepEqual(items(records), ["a", "b", "c", "d", "e"]);
      const outboxIds = records.map((rec) => rec.outboxId);
      assert.deepEqual(
        outboxIds,
        [...outboxIds].sort((a, b) => a - b),
      );
      assert.deepEqual(
        records.map((rec) => rec.key.id),
        records.map((rec) => rec.row.id),
      );
    });

    it("several concurrent inserting connections lose nothing (and dispatch meanwhile)", async () => {
      const writers = 6;
      const perWriter = 120;
      const connections = await Promise.all(Array.from({ length: writers }, () => r.connect()));
      const dispatcher = await r.connect();
      let writing = true;
      const dispatching = (async () => {
        while (writing) {
          await dispatcher.query("CALL relay_dispatch()");
          await sleep(5);
        }
      })();
      await Promise.all(
        connections.map(async (c, w) => {
          for (let i = 0; i < perWriter; i++) {
            if (i % 10 === 0) {
              // some orders in explicit multi-statement transactions, some rolled back
              await c.beginTransaction();
              await c.execute("INSERT INTO order_data (item) VALUES (?)", [`w${w}-${i}`]);
              await c.execute("INSERT INTO order_data (item) VALUES (?)", [`w${w}-${i}-rb`]);
              await c.rollback();
            }
            await c.execute("INSERT INTO order_data (item) VALUES (?)", [`w${w}-${i}`]);
          }
        }),
      );
      writing = false;
      await dispatching;
      await dispatch(r);
      const [orders] = await r.sql.query<Rows>("SELECT id, item FROM order_data ORDER BY id");
      assert.equal(orders.length, writers * perWriter);
      const records = await handedOffRecords(r);
      assert.equal(records.length, orders.length, "every order handed off exactly once");
      assert.deepEqual(
        records.map((rec) => Number(rec.key.id)).sort((a, b) => a - b),
        orders.map((o) => o.id),
      );
      assert.deepEqual(new Set(items(records)), new Set(orders.map((o) => o.item)));
      assert.equal(await r.count("relay_outbox", "handed_off_at IS NULL"), 0);
    });
  });

  describe("dispatch", () => {
    let r: RelayDb;
    before(async () => {
      r = await seedRelay("relay_dispatch");
    });
    beforeEach(async () => {
      await r.reset();
    });
    after(async () => {
      await r.close();
    });

    it("with lambda_async failing, inserts succeed, nothing is handed off, errors are recorded; afterwards everything goes exactly once, in order", async () => {
      await r.sql.query("UPDATE relay_settings SET batch_size = 100");
      await r.sql.query("CALL local_lambda_fail(TRUE)");
      await insertItems(
        r.sql,
        Array.from({ length: 250 }, (_, i) => `order ${i}`),
      );
      assert.equal(await r.count("order_data"), 250, "the storefront's INSERTs all succeeded");
      await dispatch(r);
      await dispatch(r);
      assert.equal(await r.count("lambda_invocations"), 0);
      assert.equal(await r.count("relay_outbox", "op = 'UPSERT' AND handed_off_at IS NOT NULL"), 0);
      const [failed] = await r.sql.query<Rows>(
        "SELECT attempts, last_error FROM relay_outbox WHERE handed_off_at IS NULL AND attempts > 0 ORDER BY id",
      );
      // A failing run stops at its first batch: the oldest 100 rows carry the attempts.
      assert.equal(failed.length, 100);
      for (const row of failed) {
        assert.equal(row.attempts, 2);
        assert.match(String(row.last_error), /^1873: Lambda API returned error/);
      }
      const [[state]] = await r.sql.query<Rows>("SELECT * FROM relay_state");
      assert.equal(state.consecutive_failures, 2);
      assert.match(String(state.last_error), /1873/);
      assert.ok(state.last_error_at);

      await r.sql.query("CALL local_lambda_fail(FALSE)");
      await dispatch(r);
      await dispatch(r); // nothing left: must not resend
      const invocations = await r.invocations();
      assert.equal(invocations.length, 3, "250 rows in batches of 100");
      const records = invocations.flatMap((i) => i.envelope.records);
      const [outbox] = await r.sql.query<Rows>(
        "SELECT id FROM relay_outbox WHERE op = 'UPSERT' ORDER BY id",
      );
      assert.deepEqual(
        records.map((rec) => rec.outboxId),
        outbox.map((row) => Number(row.id)),
        "exactly once, in outbox order",
      );
      const [[after]] = await r.sql.query<Rows>("SELECT * FROM relay_state");
      assert.equal(after.consecutive_failures, 0);
      assert.equal(Number(after.total_handed_off), 250);
    });

    it("one call drains a deep outbox in many batches, capped by count and by bytes", async () => {
      // A generous time budget so a loaded machine still drains all in one call.
      await r.sql.query("UPDATE relay_settings SET batch_size = 100, dispatch_max_ms = 60000");
      await bulkInsert(r.sql, 1500, (i) => `bulk ${i}`);
      const started = Date.now();
      await dispatch(r);
      const elapsed = Date.now() - started;
      const invocations = await r.invocations();
      assert.equal(invocations.length, 15);
      assert.ok(invocations.every((i) => i.envelope.records.length === 100));
      assert.equal(await r.count("relay_outbox", "handed_off_at IS NULL"), 0);
      console.log(
        `      1500 rows dispatched in one CALL: ${elapsed} ms (${Math.round(1500 / (elapsed / 1000))} rows/s)`,
      );

      // Byte cap: big rows (50 emoji = 200 bytes each), a huge count cap.
      await r.sql.query("DELETE FROM lambda_invocations");
      await r.sql.query("UPDATE relay_settings SET batch_size = 10000, max_payload_bytes = 20000");
      await bulkInsert(r.sql, 500, () => "😀".repeat(50));
      await dispatch(r);
      const capped = await r.invocations();
      assert.ok(capped.length > 1, `${capped.length} payloads`);
      for (const i of capped) {
        assert.ok(Buffer.byteLength(i.payload) <= 20000, `${Buffer.byteLength(i.payload)} bytes`);
      }
      assert.equal(
        capped.reduce((n, i) => n + i.envelope.records.length, 0),
        500,
      );

      // The default cap keeps a payload well under the asynchronous invoke limit; the limits
      // themselves are the contract's.
      const [[settings]] = await r.sql.query<Rows>(
        "SELECT max_payload_bytes, max_record_bytes, payload_limit_bytes FROM relay_settings",
      );
      assert.ok(Number(settings.max_payload_bytes) <= ASYNC_INVOKE_PAYLOAD_LIMIT_BYTES * 0.8);
      assert.equal(Number(settings.max_record_bytes), MAX_RECORD_BYTES);
      assert.equal(Number(settings.payload_limit_bytes), ASYNC_INVOKE_PAYLOAD_LIMIT_BYTES);

      // A batch whose estimate is wrong (here: no byte cap at all) is split, never sent over the
      // limit and never stuck.
      await r.sql.query("DELETE FROM lambda_invocations");
      await r.sql.query(
        "UPDATE relay_settings SET batch_size = 2000, max_payload_bytes = 100000000",
      );
      await bulkInsert(r.sql, 1200, (i) => `${i} ${"😀".repeat(45)}`);
      await dispatch(r);
      const split = await r.invocations();
      assert.ok(split.length >= 2, `${split.length} payloads`);
      for (const i of split) {
        assert.ok(Buffer.byteLength(i.payload) <= ASYNC_INVOKE_PAYLOAD_LIMIT_BYTES);
      }
      assert.equal(
        split.reduce((n, i) => n + i.envelope.records.length, 0),
        1200,
      );
      assert.equal(await r.count("relay_outbox", "handed_off_at IS NULL"), 0);
    });

    it("the local lambda_async rejects a payload over the async-invoke limit, as AWS does", async () => {
      const call = (bytes: number) =>
        r.sql.query("SELECT lambda_async(?, ?) AS x", [ARN, "x".repeat(bytes)]);
      await call(ASYNC_INVOKE_PAYLOAD_LIMIT_BYTES);
      await assert.rejects(
        call(ASYNC_INVOKE_PAYLOAD_LIMIT_BYTES + 1),
        /RequestEntityTooLargeException: payload of 262145 bytes exceeds 262144/,
      );
      assert.equal(await r.count("lambda_invocations"), 1);
    });

    it("one call stops at its batch budget; the next call continues", async () => {
      await r.sql.query("UPDATE relay_settings SET batch_size = 10, dispatch_max_batches = 3");
      await bulkInsert(r.sql, 75, (i) => `budget ${i}`);
      await dispatch(r);
      assert.equal(await r.count("lambda_invocations"), 3);
      assert.equal(await r.count("relay_outbox", "handed_off_at IS NULL"), 45);
      await dispatch(r);
      await dispatch(r);
      const records = await handedOffRecords(r);
      assert.equal(records.length, 75);
      assert.equal(new Set(records.map((rec) => rec.outboxId)).size, 75);
    });

    it("runs never overlap: a held lock makes a second dispatch return at once", async () => {
      await insertItems(r.sql, ["one", "two"]);
      const holder = await r.connect();
      await holder.query("SELECT GET_LOCK(?, 0)", [`relay_dispatch.${r.db.name}`]);
      await dispatch(r);
      assert.equal(await r.count("lambda_invocations"), 0);
      await holder.query("SELECT RELEASE_LOCK(?)", [`relay_dispatch.${r.db.name}`]);
      await dispatch(r);
      assert.equal((await handedOffRecords(r)).length, 2);
    });

    it("an insert committed late inside a batch's id range is not marked without being sent", async () => {
      await insertItems(r.sql, ["first"]); // outbox id 1, committed
      const straggler = await r.connect();
      await straggler.beginTransaction();
      await straggler.execute("INSERT INTO order_data (item) VALUES ('late')"); // id 2, open
      await insertItems(r.sql, ["third"]); // id 3, committed: the batch spans 1..3
      // A lock wait on the straggler's row would itself be the bug: fail fast instead of hanging.
      await r.sql.query("SET SESSION innodb_lock_wait_timeout = 3");
      await dispatch(r); // sends 1 and 3 only; row 2 is invisible and must stay unmarked
      assert.deepEqual(items(await handedOffRecords(r)), ["first", "third"]);
      await straggler.commit();
      assert.equal(
        await r.count("relay_outbox", "handed_off_at IS NULL"),
        1,
        "the straggler waits",
      );
      await dispatch(r);
      const records = await handedOffRecords(r);
      assert.deepEqual(items(records), ["first", "third", "late"]);
      assert.equal(await r.count("relay_outbox", "handed_off_at IS NULL"), 0);
    });
  });

  describe("purge", () => {
    let r: RelayDb;
    before(async () => {
      r = await seedRelay("relay_purge");
    });
    beforeEach(async () => {
      await r.reset();
    });
    after(async () => {
      await r.close();
    });

    it("deletes handed-off rows past a fractional retention, keeps recent ones", async () => {
      await r.migrate({ settings: { retentionHours: 1.5 / 3600 } }); // 1.5 s
      await insertItems(r.sql, ["old 1", "old 2", "old 3"]);
      await dispatch(r);
      await sleep(1700);
      await insertItems(r.sql, ["new 1", "new 2"]);
      await dispatch(r);
      await r.sql.query("CALL relay_purge()");
      const [left] = await r.sql.query<Rows>("SELECT item FROM order_data ORDER BY id");
      assert.deepEqual(
        left.map((row) => row.item),
        ["new 1", "new 2"],
      );
      assert.equal(await r.count("relay_outbox"), 2);
      const [[state]] = await r.sql.query<Rows>("SELECT last_purge_deleted FROM relay_state");
      assert.equal(Number(state.last_purge_deleted), 3);
    });

    it("keeps never-handed-off rows (visible as overdue) and with retention 0 purges all handed-off rows", async () => {
      await r.migrate({ settings: { retentionHours: 0 } });
      await insertItems(r.sql, ["sent 1", "sent 2"]);
      await dispatch(r);
      await r.sql.query("CALL local_lambda_fail(TRUE)");
      await insertItems(r.sql, ["stuck 1", "stuck 2"]);
      await dispatch(r);
      await sleep(20);
      await r.sql.query("CALL relay_purge()");
      const [left] = await r.sql.query<Rows>("SELECT item FROM order_data ORDER BY id");
      assert.deepEqual(
        left.map((row) => row.item),
        ["stuck 1", "stuck 2"],
      );
      const [overdue] = await r.sql.query<Rows>(
        "SELECT key_json, attempts, last_error FROM relay_overdue ORDER BY outbox_id",
      );
      assert.equal(overdue.length, 2);
      assert.ok(overdue.every((row) => row.attempts === 1 && /1873/.test(String(row.last_error))));
      assert.deepEqual(
        overdue.map((row) => JSON.parse(String(row.key_json))),
        [{ id: 3 }, { id: 4 }],
      );
      const [[status]] = await r.sql.query<Rows>("SELECT pending, overdue FROM relay_status");
      assert.equal(Number(status.pending), 2);
      assert.equal(Number(status.overdue), 2);
    });

    it("deletes in bounded batches and finishes a large backlog", async () => {
      await r.migrate({ settings: { retentionHours: 0 } });
      await r.sql.query("UPDATE relay_settings SET batch_size = 1000, purge_batch_size = 250");
      await bulkInsert(r.sql, 1000, (i) => `p${i}`);
      await dispatch(r);
      await sleep(10);
      await insertItems(r.sql, ["unsent"]);
      await r.sql.query("CALL relay_purge()");
      assert.equal(await r.count("order_data"), 1);
      assert.equal(await r.count("relay_outbox"), 1);
    });
  });

  describe("backfill", () => {
    it("enqueues exactly the existing rows that have no outbox row: on install, and when called", async () => {
      const r = await relayDb("relay_backfill", { migrate: false });
      try {
        // A storefront database that already holds orders when the relay is installed.
        await r.sql.query(
          "CREATE TABLE order_data (id INT AUTO_INCREMENT PRIMARY KEY, item VARCHAR(50) NOT NULL)",
        );
        await insertItems(r.sql, ["before 1", "before 2", "before 3"]);
        await r.migrate();
        // Installing capture backfills them (otherwise they would never be handed off and so
        // never purged): an UPSERT of each key.
        const keys = async () =>
          (
            await r.sql.query<Rows>(
              "SELECT key_json FROM relay_outbox WHERE op = 'UPSERT' ORDER BY JSON_EXTRACT(key_json, '$.id'), id",
            )
          )[0].map((row) => JSON.parse(String(row.key_json)).id as number);
        assert.deepEqual(await keys(), [1, 2, 3]);
        const [[state]] = await r.sql.query<Rows>(
          "SELECT backfill_state, backfill_rows, backfill_missing FROM relay_tables WHERE table_name = 'order_data'",
        );
        assert.deepEqual([state.backfill_state, Number(state.backfill_rows)], ["complete", 3]);
        assert.equal(Number(state.backfill_missing), 0, "verified");
        await insertItems(r.sql, ["after 1", "after 2"]);
        assert.deepEqual(await keys(), [1, 2, 3, 4, 5]);
        // Rows without an outbox row: relay_backfill() re-checks and enqueues exactly those.
        await r.sql.query(
          "DELETE FROM relay_outbox WHERE JSON_EXTRACT(key_json, '$.id') IN (2, 4)",
        );
        await r.sql.query("CALL relay_backfill()");
        await r.sql.query("CALL relay_backfill()"); // idempotent
        assert.deepEqual(await keys(), [1, 2, 3, 4, 5]);
        await r.migrate(); // unchanged capture: no second backfill, no duplicates
        assert.deepEqual(await keys(), [1, 2, 3, 4, 5]);
        await dispatch(r);
        const records = await handedOffRecords(r);
        assert.deepEqual(items(records).sort(), [
          "after 1",
          "after 2",
          "before 1",
          "before 2",
          "before 3",
        ]);
      } finally {
        await r.close();
      }
    });
  });

  describe("trigger cost", () => {
    it("an INSERT with capture stays within x1.5 of one without (a loose bound: the goals are measured by bench/trigger.ts), on the seed table and on a wide storefront table", async function () {
      const r = await relayDb("relay_cost", {
        schema: PS_ORDERS_SQL,
        tables: BENCH_TABLES,
      });
      try {
        // Dispatch stays off: only the trigger's own cost is timed (bench/trigger.ts, shared).
        for (const spec of [SEED_INSERT, WIDE_INSERT]) {
          const f = await measureOverhead(r.sql, spec, 5, 80);
          console.log(
            `      ${spec.table}: ${f.rounds * f.perRound} autocommit INSERTs per table, ${f.plainPerSecond}/s plain, ${f.triggerPerSecond}/s with capture (median x${f.medianRatio})`,
          );
          // The goals are x1.15 with durable commits and x1.3 in either flush mode; bench/trigger.ts
          // measures them over many more rounds. This bound leaves room for a busy 2-core machine.
          assert.ok(f.medianRatio <= 1.5, `capture makes INSERT x${f.medianRatio} slower`);
        }
        assert.equal(
          await r.count("relay_outbox", "op = 'UPSERT'"),
          2 * 6 * 80,
          "every INSERT captured",
        );
      } finally {
        await r.close();
      }
    });
  });
});
