/**
 * A DC that refuses writes is an outage, not bad data — proven on a private MariaDB of this
 * suite's own (it is switched read-only, restarted and has passwords changed, which must not
 * disturb the other suites' shared server), with the real consumer and local SQS whose queues
 * have a 1 s visibility timeout and maxReceiveCount 5: anything that burned receive counts would
 * reach the DLQ within seconds.
 *
 * - read-only for 15 s mid-stream (issue 13: 592 of 1,500 good orders went to the DLQ): the DC
 *   user has no SUPER/READ_ONLY ADMIN, so `SET GLOBAL read_only = ON` really makes its writes
 *   fail (ER_OPTION_PREVENTS_STATEMENT) → 0 in the DLQ, all 1,500 exact at the DC;
 * - the database restarted while a batch's transaction is open → nothing lost, nothing doubled;
 * - the password changed under a running consumer → logged once, retried with backoff, resumes
 *   when the password is back.
 */
import { strict as assert } from "assert";
import mysql, { type Pool, type RowDataPacket } from "mysql2/promise";
import { createDcPoolFromUrl } from "../../dc/connection";
import { startDcConsumer, type DcConsumer, type DcConsumerOptions } from "../../dc/consumer";
import { startPrivateMariaDb, type PrivateMariaDb } from "../../emulators/mariadb";
import { startLocalSqs, type CreatedQueues, type LocalSqs } from "../../emulators/sqs";
import { createLogger } from "../../lambda/lib/observability";
import {
  captureOutput,
  createTestQueues,
  freshConfig,
  queueDepth,
  type Captured,
} from "../lambda/support";
import { count, createDcUser, schemaRecord, sendRecords, upsert, waitFor } from "./support";

const REGION = "us-west-2";
const AGG = "eu-central-1";
// Three times the ~5 s (1 s visibility × maxReceiveCount 5) in which a consumer that burned receive
// counts would fill the DLQ, and several of its longest backoffs (2 s).
const READ_ONLY_SECONDS = 15;

describe("DC outages: read-only, restart, credentials (private MariaDB, real consumer)", function () {
  this.timeout(120_000);
  let server: PrivateMariaDb;
  let sqs: LocalSqs;
  let admin: mysql.Connection;
  let pool: Pool;
  let dc: { user: string; password: string; url: string };
  let consumer: DcConsumer | undefined;
  let captured: Captured | undefined;
  let database = "";

  before(async () => {
    [server, sqs] = await Promise.all([startPrivateMariaDb(), startLocalSqs()]);
    admin = await mysql.createConnection({ uri: server.url, multipleStatements: false });
  });
  after(async () => {
    await admin?.end().catch(() => undefined);
    await sqs?.close();
    await server?.stop();
  });
  beforeEach(async () => {
    database = `dc_outage_${Math.random().toString(36).slice(2, 8)}`;
    await admin.query(`CREATE DATABASE ${database} CHARACTER SET utf8mb4`);
    dc = await createDcUser(server.url, database);
    const url = new URL(dc.url);
    url.password = dc.password;
    pool = createDcPoolFromUrl(url.toString(), 6);
  });
  afterEach(async () => {
    await consumer?.stop();
    consumer = undefined;
    captured?.restore();
    captured = undefined;
    await admin.query("SET GLOBAL read_only = OFF").catch(() => undefined);
    await pool.end().catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS ${database}`).catch(() => undefined);
  });

  function consume(q: CreatedQueues, extra: Partial<DcConsumerOptions> = {}): DcConsumer {
    consumer = startDcConsumer({
      client: sqs.client(AGG),
      queueUrl: q.aggregator.queue.url,
      pool,
      concurrency: 4,
      waitTimeSeconds: 1,
      statusIntervalMs: 0,
      backoff: { initialMs: 200, maxMs: 2000 },
      logger: createLogger("order-relay-dc-consumer"),
      ...extra,
    });
    return consumer;
  }

  const records = (from: number, n: number) =>
    Array.from({ length: n }, (_, k) =>
      upsert(
        "orders",
        100 + from + k,
        { id: from + k },
        { item: `item ${from + k} 🍣`, qty: from + k },
      ),
    );
  const SCHEMA = schemaRecord(
    "orders",
    1,
    [
      ["id", "int(11)"],
      ["item", "varchar(64)"],
      ["qty", "int(11)"],
    ],
    ["id"],
  );

  async function exactRows(n: number): Promise<void> {
    const [rows] = await pool.query<RowDataPacket[]>(
      "SELECT id, item, qty, relay_outbox_id AS v FROM orders ORDER BY id",
    );
    assert.equal(rows.length, n, "every order at the DC, none twice");
    rows.forEach((r, i) => {
      assert.deepEqual({ ...r }, { id: i, item: `item ${i} 🍣`, qty: i, v: String(100 + i) });
    });
  }

  it(`read-only for ${READ_ONLY_SECONDS} s mid-stream: 0 messages in the DLQ, all 1,500 orders exact`, async () => {
    const client = sqs.client(AGG, { harness: true });
    const q = await createTestQueues(client, freshConfig());
    await sendRecords(client, q.aggregator.queue.url, REGION, [SCHEMA, ...records(0, 500)]);
    captured = captureOutput();
    const c = consume(q);
    await waitFor(() => c.stats.applied >= 200, 20_000, "200 orders applied");
    await admin.query("SET GLOBAL read_only = ON");
    const switchedAt = Date.now();
    // The stream goes on while the DC refuses writes.
    await sendRecords(client, q.aggregator.queue.url, REGION, records(500, 1000));
    await waitFor(() => c.status().state === "paused", 10_000, "receiving paused");
    const duringPause: string[] = [];
    while (Date.now() - switchedAt < READ_ONLY_SECONDS * 1000) {
      await new Promise((r) => setTimeout(r, 1000));
      duringPause.push(c.status().state);
      assert.equal(
        (await queueDepth(client, q.aggregator.dlq.url)).visible,
        0,
        "nothing in the DLQ",
      );
    }
    const appliedDuring = c.stats.applied;
    await admin.query("SET GLOBAL read_only = OFF");
    await waitFor(() => c.stats.applied >= 1500, 60_000, "all 1,500 orders applied");
    const text = captured.text();
    captured.restore();

    await exactRows(1500);
    assert.equal(c.stats.rejected, 0, "no message was blamed");
    assert.deepEqual(await queueDepth(client, q.aggregator.dlq.url), { visible: 0, inFlight: 0 });
    assert.deepEqual(await queueDepth(client, q.aggregator.queue.url), { visible: 0, inFlight: 0 });
    assert.ok(
      duringPause.every((s) => s === "paused"),
      `paused throughout: ${duringPause}`,
    );
    assert.ok(c.stats.dbErrors > 0);
    // Nothing was written while read-only: only batches that committed before the switch.
    assert.ok(appliedDuring < 500, `applied during the window: ${appliedDuring}`);
    const errorLines = text.split("\n").filter((l) => l.includes("DC database cannot take writes"));
    assert.ok(
      errorLines.length >= 1 && errorLines.length <= 3,
      `logged once, not per retry: ${errorLines.length}`,
    );
    assert.match(errorLines[0]!, /ER_OPTION_PREVENTS_STATEMENT/);
    assert.match(text, /DC database recovered/);
  });

  it("a database restart while a batch's transaction is open: nothing lost, nothing doubled", async () => {
    const client = sqs.client(AGG, { harness: true });
    const q = await createTestQueues(client, freshConfig());
    await sendRecords(client, q.aggregator.queue.url, REGION, [SCHEMA, ...records(0, 300)]);
    let restarted: Promise<void> | undefined;
    captured = captureOutput();
    const c = consume(q, {
      beforeCommit: async (messages) => {
        // Mid-batch: the rows are written but not committed when the server goes away.
        if (!restarted && c.stats.applied >= 100 && messages.length > 0) {
          restarted = server.restart();
          await restarted;
        }
      },
    });
    await waitFor(
      () => c.stats.applied + c.stats.stale >= 300 && restarted !== undefined,
      60_000,
      "300 orders after the restart",
    );
    await waitFor(
      async () => (await queueDepth(client, q.aggregator.queue.url)).inFlight === 0,
      10_000,
      "queue drained",
    );
    const text = captured.text();
    captured.restore();
    await exactRows(300);
    assert.equal(c.stats.rejected, 0);
    assert.deepEqual(await queueDepth(client, q.aggregator.dlq.url), { visible: 0, inFlight: 0 });
    assert.match(text, /DC database cannot take writes/);
    assert.match(text, /DC database recovered/);
    admin = await mysql.createConnection({ uri: server.url }); // the old one died with the server
  });

  it("the password changed under a running consumer: logged once, backoff, resumes when it is back", async () => {
    const client = sqs.client(AGG, { harness: true });
    const q = await createTestQueues(client, freshConfig());
    await sendRecords(client, q.aggregator.queue.url, REGION, [SCHEMA, ...records(0, 50)]);
    captured = captureOutput();
    const c = consume(q, { concurrency: 2 });
    await waitFor(() => c.stats.applied >= 50, 20_000, "50 orders");
    await admin.query(`ALTER USER ?@'%' IDENTIFIED BY 'rotated-elsewhere'`, [dc.user]);
    // Existing sessions are cut (as a failover would): the pool must log in again.
    const [sessions] = await admin.query<RowDataPacket[]>(
      "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ?",
      [dc.user],
    );
    for (const s of sessions) await admin.query(`KILL ${Number(s.ID)}`).catch(() => undefined);
    await sendRecords(client, q.aggregator.queue.url, REGION, records(50, 50));
    await waitFor(() => c.status().state === "paused", 15_000, "paused on the credentials error");
    await new Promise((r) => setTimeout(r, 4000));
    await admin.query(`ALTER USER ?@'%' IDENTIFIED BY ?`, [dc.user, dc.password]);
    await waitFor(() => c.stats.applied >= 100, 30_000, "resumed");
    const text = captured.text();
    captured.restore();
    await exactRows(100);
    const lines = text.split("\n").filter((l) => l.includes("refused the consumer's credentials"));
    assert.ok(
      lines.length >= 1 && lines.length <= 3,
      `credentials error logged once: ${lines.length} lines`,
    );
    assert.match(lines[0]!, /ER_ACCESS_DENIED_ERROR/);
    assert.doesNotMatch(text, new RegExp(dc.password));
    assert.deepEqual(await queueDepth(client, q.aggregator.dlq.url), { visible: 0, inFlight: 0 });
    assert.equal(await count(pool, "SELECT COUNT(*) FROM orders"), 100);
  });
});
