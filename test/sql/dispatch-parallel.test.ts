/**
 * The dispatch helper (sql/routines/relay_dispatch.sql): a second session that takes partition 1
 * (first byte of key_hash MOD 2) of a backlog while relay_dispatch() goes on with partition 0.
 * Proven on a real MariaDB: the partition a session holds is its own (a row's changes are never
 * in two sessions' hands), nothing is skipped, each row's records stay in outboxId order, and
 * the DC converges to the source — with the two sessions running at the same time as writes.
 */
import assert from "node:assert/strict";
import type mysql from "mysql2/promise";
import {
  assertDcMatchesSource,
  assertWellFormed,
  relayDb,
  sleep,
  type RelayDb,
  type Rows,
} from "./relay-db";

/** The partition of every outbox row (as relay_dispatch computes it), by outboxId. */
async function partitions(r: RelayDb): Promise<Map<number, number>> {
  const [rows] = await r.sql.query<Rows>(
    "SELECT id, COALESCE(ASCII(key_hash), 0) MOD 2 AS part FROM relay_outbox",
  );
  return new Map(rows.map((row) => [Number(row.id), Number(row.part)]));
}

/** Every record sent so far with the session (CONNECTION_ID) whose lambda_async call sent it. */
async function recordsBySession(r: RelayDb): Promise<{ outboxId: number; session: number }[]> {
  const [rows] = await r.sql.query<Rows>(
    "SELECT session, payload FROM lambda_invocations ORDER BY id",
  );
  return rows.flatMap((row) =>
    (JSON.parse(String(row.payload)) as { records: { outboxId: number }[] }).records.map((c) => ({
      outboxId: c.outboxId,
      session: Number(row.session),
    })),
  );
}

async function sessionId(c: mysql.Connection): Promise<number> {
  const [[row]] = await c.query<Rows>("SELECT CONNECTION_ID() AS id");
  return Number(row.id);
}

describe("sql: parallel dispatch, the helper takes partition 1 of a backlog (real MariaDB)", function () {
  this.timeout(120_000);
  let r: RelayDb;

  before(async () => {
    r = await relayDb("relay_parallel");
  });
  beforeEach(async () => {
    await r.reset(["order_data"], { schema: true });
    await r.sql.query("UPDATE relay_settings SET batch_size = 20, dispatch_max_ms = 1000");
    // Which session made each call (the stand-in records the payload only); each call takes a
    // few ms, as Aurora's does, so the two sessions overlap.
    await r.sql.query(
      "ALTER TABLE lambda_invocations ADD COLUMN IF NOT EXISTS session BIGINT UNSIGNED NULL",
    );
    await r.sql.query("DROP TRIGGER IF EXISTS test_invocation_session");
    await r.sql.query(
      "CREATE TRIGGER test_invocation_session BEFORE INSERT ON lambda_invocations FOR EACH ROW " +
        "SET NEW.session = CONNECTION_ID(), @test_slept = SLEEP(0.005)",
    );
  });
  after(async () => {
    await r?.close();
  });

  it("without a backlog the helper does nothing; the dispatcher sends everything", async () => {
    await r.sql.query("INSERT INTO order_data (item) VALUES ('a'), ('b'), ('c'), ('d'), ('e')");
    await r.sql.query("CALL relay_dispatch_helper()");
    assert.equal(await r.count("lambda_invocations"), 0);
    assert.equal(await r.count("relay_outbox", "handed_off_at IS NULL AND op <> 'SCHEMA'"), 5);
    await r.dispatch();
    assert.equal(await r.count("relay_outbox", "handed_off_at IS NULL"), 0);
  });

  it("while another session holds partition 1 the dispatcher sends partition 0 only, then all", async () => {
    const values = Array.from({ length: 200 }, (_, i) => `('item ${i}')`).join(", ");
    await r.sql.query(`INSERT INTO order_data (item) VALUES ${values}`);
    const part = await partitions(r);
    const ones = [...part.values()].filter((p) => p === 1).length;
    assert.ok(ones > 50 && ones < 150, `about half the keys in partition 1 (${ones})`);
    const holder = await r.connect();
    await holder.query("SELECT GET_LOCK(?, 0)", [`relay_dispatch_p1.${r.db.name}`]);
    await r.dispatch();
    const sent = (await r.records()).filter((c) => c.op !== "SCHEMA").map((c) => c.outboxId);
    assert.equal(sent.length, 200 - ones);
    assert.ok(
      sent.every((id) => part.get(id) === 0),
      "partition 0 only",
    );
    assert.equal(await r.count("relay_outbox", "handed_off_at IS NULL"), ones);
    await holder.query("SELECT RELEASE_LOCK(?)", [`relay_dispatch_p1.${r.db.name}`]);
    await r.dispatch();
    assert.equal(await r.count("relay_outbox", "handed_off_at IS NULL"), 0);
    assert.equal((await r.records()).filter((c) => c.op !== "SCHEMA").length, 200);
  });

  it("dispatcher and helper at once, with writes going on: disjoint partitions, nothing skipped, rows in order, the DC equals the source", async () => {
    const rows = 3000;
    for (let start = 0; start < rows; start += 500) {
      const values = Array.from({ length: 500 }, (_, i) => `('order ${start + i}')`).join(", ");
      await r.sql.query(`INSERT INTO order_data (item) VALUES ${values}`);
    }
    const dispatcher = await r.connect();
    const helper = await r.connect();
    const writer = await r.connect();
    const [dispatcherId, helperId] = [await sessionId(dispatcher), await sessionId(helper)];
    let writing = true;
    // Changes of rows that are pending, in flight or sent: later changes of the same rows.
    const writes = (async () => {
      for (let round = 0; writing && round < 20; round++) {
        await writer.query(
          "UPDATE order_data SET item = CONCAT(item, '+') WHERE id % 7 = ? AND id <= 3000",
          [round % 7],
        );
        if (round % 10 === 5)
          await writer.query("DELETE FROM order_data WHERE id % 97 = ?", [round]);
        await sleep(20);
      }
    })();
    const pending = async () => r.count("relay_outbox", "handed_off_at IS NULL");
    const loop = async (c: mysql.Connection, call: string) => {
      for (let i = 0; i < 400 && (writing || (await pending()) > 0); i++) {
        await c.query(`CALL ${call}()`);
      }
    };
    const runs = Promise.all([
      loop(dispatcher, "relay_dispatch"),
      loop(helper, "relay_dispatch_helper"),
    ]);
    await writes;
    writing = false;
    await runs;
    await r.dispatch(); // whatever the last writes left
    assert.equal(await pending(), 0, "nothing skipped");

    const part = await partitions(r);
    const sent = await recordsBySession(r);
    const byHelper = sent.filter((s) => s.session === helperId);
    assert.ok(byHelper.length > 0, "the helper took part");
    assert.ok(
      byHelper.every((s) => part.get(s.outboxId) === 1),
      "the helper sends partition 1 only",
    );
    assert.ok(
      sent.every((s) => s.session === dispatcherId || s.session === helperId),
      "only the two sessions",
    );
    // Every change was sent at most once (no resend here), a row's records in outboxId order,
    // SCHEMA before rows; and the DC converges to the source.
    const ids = sent.map((s) => s.outboxId);
    assert.equal(new Set(ids).size, ids.length, "no change sent twice");
    const records = await r.records();
    assertWellFormed(records);
    await assertDcMatchesSource(r.db.url, records, "order_data");
    const [[state]] = await r.sql.query<Rows>("SELECT total_handed_off FROM relay_state");
    assert.equal(Number(state.total_handed_off), records.length, "both sessions count");
  });
});
