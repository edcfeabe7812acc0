/**
 * The scheduled events really run (event_scheduler=ON on a second private MariaDB), and the relay
 * survives a database restart with the same data dir (what the fault-injection run relies on).
 */
import assert from "node:assert/strict";
import mysql from "mysql2/promise";
import { isHeartbeat, parseEnvelope } from "../../contract/envelope";
import { migrate } from "../../sql/migrate";
import { startPrivateMariaDb, type PrivateMariaDb } from "../../emulators/mariadb";
import { SETTINGS, sleep } from "./relay-db";

type Rows = mysql.RowDataPacket[];

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe("sql: events on a server with event_scheduler=ON, across a restart", function () {
  this.timeout(40_000);
  let server: PrivateMariaDb;
  before(async () => {
    server = await startPrivateMariaDb({ eventScheduler: true });
  });
  after(async () => {
    await server?.stop();
  });

  it("relay_dispatch_event hands off new orders within seconds, before and after a restart", async () => {
    const url = `${server.url}storefront`;
    await migrate({ url, settings: SETTINGS, localLambda: true });
    const handedOff = async (c: mysql.Connection) => {
      const [rows] = await c.query<Rows>("SELECT payload FROM lambda_invocations ORDER BY id");
      return rows
        .map((row) => JSON.parse(String(row.payload)) as unknown)
        .filter((payload) => !isHeartbeat(payload))
        .flatMap((payload) => parseEnvelope(payload).records)
        .filter((record) => record.op === "UPSERT");
    };

    let c = await mysql.createConnection({ uri: url });
    await c.query(
      "INSERT INTO order_data (item) VALUES ('before restart 1'), ('before restart 2')",
    );
    const started = Date.now();
    await waitFor("the event to dispatch", async () => (await handedOff(c)).length === 2);
    console.log(`      event-driven hand-off after ${Date.now() - started} ms`);
    await c.end();

    await server.restart();
    c = await mysql.createConnection({ uri: url });
    await c.query("INSERT INTO order_data (item) VALUES ('after restart')");
    await waitFor(
      "the event to dispatch after restart",
      async () => (await handedOff(c)).length === 3,
    );
    const records = await handedOff(c);
    assert.deepEqual(
      records.map((r) => r.op === "UPSERT" && r.row.item),
      ["before restart 1", "before restart 2", "after restart"],
    );
    await c.end();
  });
});
