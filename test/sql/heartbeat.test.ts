/**
 * relay_heartbeat(): the database's status reaches the notify function once a minute, and a
 * heartbeat that cannot be sent (lambda_async failing) is recorded and simply missing — which is
 * what the HeartbeatMissing alarm watches.
 */
import * as assert from "assert";
import type { RowDataPacket } from "mysql2/promise";
import { isHeartbeat, parseHeartbeat } from "../../contract/envelope";
import { REGION, relayDb, type RelayDb } from "./relay-db";

describe("sql: relay_heartbeat (real MariaDB)", function () {
  this.timeout(30_000);
  let r: RelayDb;
  before(async () => {
    r = await relayDb("relay_heartbeat");
  });
  beforeEach(async () => {
    await r.reset();
  });
  after(async () => {
    await r.close();
  });

  async function heartbeats() {
    const [rows] = await r.sql.query<RowDataPacket[]>(
      "SELECT payload FROM lambda_invocations ORDER BY id",
    );
    return rows.map((row) => JSON.parse(String(row.payload)) as unknown);
  }

  it("sends pending, oldest pending age, overdue, failures, quarantined, purge failures and incomplete backfills, validated by the Lambda side", async () => {
    await r.sql.query("CALL relay_dispatch()"); // the install-time SCHEMA record
    await r.sql.query("DELETE FROM lambda_invocations");
    await r.sql.query("INSERT INTO order_data (item) VALUES ('a'), ('b')");
    await r.sql.query(
      "UPDATE relay_outbox SET occurred_at = UTC_TIMESTAMP(6) - INTERVAL 90 SECOND",
    );
    await r.sql.query("CALL relay_heartbeat()");
    const [payload] = await heartbeats();
    assert.ok(isHeartbeat(payload));
    const heartbeat = parseHeartbeat(payload);
    assert.strictEqual(heartbeat.region, REGION);
    assert.strictEqual(heartbeat.heartbeat.pending, 2);
    assert.ok(heartbeat.heartbeat.oldestPendingSeconds >= 90, JSON.stringify(heartbeat));
    assert.strictEqual(heartbeat.heartbeat.overdue, 0);
    assert.strictEqual(heartbeat.heartbeat.consecutiveFailures, 0);
    assert.strictEqual(heartbeat.heartbeat.quarantined, 0);
    assert.strictEqual(heartbeat.heartbeat.purgeFailures, 0);
    assert.strictEqual(heartbeat.heartbeat.backfillIncomplete, 0);
    assert.ok(Math.abs(Date.parse(heartbeat.heartbeat.at) - Date.now()) < 60_000);
    assert.strictEqual(await r.count("relay_state", "last_heartbeat_at IS NOT NULL"), 1);

    // Each new field comes from relay_status (whose sources the storefront suite exercises).
    await r.sql.query(
      "UPDATE relay_outbox SET quarantined_at = UTC_TIMESTAMP(6) WHERE op = 'UPSERT' ORDER BY id LIMIT 1",
    );
    await r.sql.query("UPDATE relay_state SET purge_consecutive_failures = 3");
    await r.sql.query("UPDATE relay_tables SET backfill_state = 'running'");
    await r.sql.query("CALL relay_heartbeat()");
    const next = parseHeartbeat((await heartbeats())[1]).heartbeat;
    assert.deepStrictEqual(
      [next.pending, next.quarantined, next.purgeFailures, next.backfillIncomplete],
      [1, 1, 3, 1],
    );
  });

  it("a heartbeat lambda_async cannot send is recorded and not retried", async () => {
    await r.sql.query("CALL local_lambda_fail(TRUE)");
    await r.sql.query("CALL relay_heartbeat()");
    assert.deepStrictEqual(await heartbeats(), []);
    const [state] = await r.sql.query<RowDataPacket[]>(
      "SELECT last_heartbeat_at, last_heartbeat_error FROM relay_state WHERE id = 1",
    );
    assert.strictEqual(state[0].last_heartbeat_at, null);
    assert.match(String(state[0].last_heartbeat_error), /^1873: /);
    await r.sql.query("CALL local_lambda_fail(FALSE)");
    await r.sql.query("CALL relay_heartbeat()");
    assert.strictEqual((await heartbeats()).length, 1);
  });

  it("is scheduled once a minute by relay_heartbeat_event", async () => {
    const [events] = await r.sql.query<RowDataPacket[]>(
      `SELECT INTERVAL_VALUE AS every, INTERVAL_FIELD AS unit FROM information_schema.EVENTS
        WHERE EVENT_SCHEMA = DATABASE() AND EVENT_NAME = 'relay_heartbeat_event'`,
    );
    assert.deepStrictEqual([String(events[0].every), events[0].unit], ["1", "MINUTE"]);
  });
});
