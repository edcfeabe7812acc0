import { strict as assert } from "assert";
import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import mysql, { type Pool, type RowDataPacket } from "mysql2/promise";
import { ensureDcSchema, startDcConsumer, type DcConsumer } from "../../dc/consumer";
import { parseCli, UsageError } from "../../dc/cli";
import { toRelayMessage } from "../../contract/envelope";
import { handler as forwarderHandler } from "../../lambda/forwarder";
import { handler as notifyHandler } from "../../lambda/notify";
import { createLogger } from "../../lambda/lib/observability";
import { fifoSafeId, relayEntry } from "../../lambda/lib/relay";
import { LAMBDA_ENV } from "../../contract/lambdaEnv";
import { createScratchDatabase, type ScratchDatabase } from "../support/mysql";
import { pollEventSourceOnce, startLocalSqs, type LocalSqs } from "../../emulators/sqs";
import {
  assertNoRowContents,
  captureOutput,
  createTestQueues,
  drain,
  freshConfig,
  makeEnvelope,
  makeRecord,
  queueDepth,
  type Captured,
} from "../lambda/support";

const REGION = "ap-northeast-1";
const AGG_REGION = "eu-central-1";

async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("DC consumer and the whole chain (local-aws-sqs + real MariaDB)", function () {
  let sqs: LocalSqs;
  let db: ScratchDatabase;
  let pool: Pool;
  let captured: Captured | undefined;
  let consumer: DcConsumer | undefined;
  const savedEnv = { ...process.env };

  before(async () => {
    sqs = await startLocalSqs();
    db = await createScratchDatabase("dc_consumer");
    pool = mysql.createPool({ uri: db.url, charset: "utf8mb4", connectionLimit: 4, timezone: "Z" });
    await ensureDcSchema(pool); // the consumer does it too; done here so queries never race it
  });
  after(async () => {
    await pool.end();
    await db.drop();
    await sqs.close();
    process.env = savedEnv;
  });
  afterEach(async () => {
    await consumer?.stop();
    consumer = undefined;
    captured?.restore();
    captured = undefined;
    sqs.setFault(undefined);
  });

  async function rows(region = REGION): Promise<RowDataPacket[]> {
    const [result] = await pool.query<RowDataPacket[]>(
      "SELECT * FROM relay_rows WHERE region = ? ORDER BY row_id",
      [region],
    );
    return result;
  }

  function consume(
    client: SQSClient,
    queueUrl: string,
    extra: Partial<Parameters<typeof startDcConsumer>[0]> = {},
  ) {
    consumer = startDcConsumer({
      client,
      queueUrl,
      pool,
      waitTimeSeconds: 1, // tests: short polls so stop() and assertions are quick
      logger: createLogger("order-relay-dc-consumer"),
      ...extra,
    });
    return consumer;
  }

  it("envelope → notify → regional queue → forwarder → FIFO aggregator → DC rows, hostile values intact, duplicates → one row", async () => {
    const config = freshConfig({ regions: [{ region: REGION }] });
    const client = sqs.client(REGION);
    const queues = await createTestQueues(client, config);
    const regional = queues.regions[REGION];
    // The deployed handlers, configured exactly as the program configures them (env only);
    // the SDK reaches the local server through its standard AWS_ENDPOINT_URL_SQS setting.
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
      AWS_ACCESS_KEY_ID: "local",
      AWS_SECRET_ACCESS_KEY: "local",
      AWS_REGION: REGION,
      POWERTOOLS_METRICS_NAMESPACE: "OrderRelay",
      POWERTOOLS_LOG_LEVEL: "INFO",
      [LAMBDA_ENV.queueUrl]: regional.queue.url,
      [LAMBDA_ENV.aggregatorQueueUrl]: queues.aggregator.queue.url,
      [LAMBDA_ENV.aggregatorRegion]: config.aggregator.region,
      [LAMBDA_ENV.aggregatorFifo]: String(config.aggregator.fifo),
    });
    const envelope = makeEnvelope(REGION, 1, 25);
    captured = captureOutput();
    sqs.resetCalls();
    await notifyHandler(envelope);
    await notifyHandler(envelope); // Lambda async retry of the same invocation: duplicates
    let forwarded = 0;
    while (forwarded < 50) {
      const r = await pollEventSourceOnce({
        client,
        queueUrl: regional.queue.url,
        queueArn: regional.queue.arn,
        awsRegion: REGION,
        handler: forwarderHandler,
        waitTimeSeconds: 1,
      });
      assert.deepEqual(r.failed, []);
      forwarded += r.received;
    }
    const c = consume(sqs.client(AGG_REGION), queues.aggregator.queue.url);
    await waitFor(async () => (await rows()).length === 25 && c.stats.deleted === 25);
    const text = captured.text();
    const calls = sqs.calls();
    captured.restore();

    const stored = await rows();
    assert.equal(stored.length, 25, "one row per order despite the duplicate invocation");
    for (const [i, row] of stored.entries()) {
      const record = envelope.records[i];
      assert.equal(row.table_name, "order_data");
      assert.equal(Number(row.row_id), record.rowId);
      assert.equal(Number(row.outbox_id), record.outboxId);
      assert.equal(row.dedup_key, `${REGION}:order_data:${record.rowId}`);
      const json = typeof row.row_json === "string" ? JSON.parse(row.row_json) : row.row_json;
      assert.deepEqual(json, record.row, "hostile values intact");
      assert.equal(
        new Date(`${row.occurred_at.toISOString?.() ?? row.occurred_at}`).getTime(),
        Date.parse(record.occurredAt),
      );
    }
    assert.equal(c.stats.inserted, 25);
    assert.equal(c.stats.duplicates, 0, "the FIFO aggregator already dropped the duplicates");
    assert.deepEqual(await queueDepth(client, queues.aggregator.queue.url), {
      visible: 0,
      inFlight: 0,
    });
    assertNoRowContents(text);
    // 2 invocations x 3 SendMessageBatch + 5 forwarder batches; reported for the benchmark.
    assert.equal(calls.SendMessageBatch, 6 + 5);
  });

  it("a duplicate that reaches the DC (after the FIFO window) is absorbed by the upsert", async () => {
    const config = freshConfig({ regions: [{ region: REGION }] });
    const client = sqs.client(AGG_REGION);
    const queues = await createTestQueues(client, config);
    const message = toRelayMessage("us-west-2", makeRecord(7));
    const entry = relayEntry(message, { fifo: true });
    await client.send(
      new SendMessageCommand({
        QueueUrl: queues.aggregator.queue.url,
        ...entry,
        MessageBody: entry.MessageBody!,
      }),
    );
    // Same row, new dedup id: what a redelivery after the 5-minute window looks like.
    await client.send(
      new SendMessageCommand({
        QueueUrl: queues.aggregator.queue.url,
        ...entry,
        MessageBody: entry.MessageBody!,
        MessageDeduplicationId: `${fifoSafeId(message.dedupKey)}-late`,
      }),
    );
    captured = captureOutput();
    const c = consume(client, queues.aggregator.queue.url);
    await waitFor(() => c.stats.deleted === 2);
    captured.restore();
    const stored = await rows("us-west-2");
    assert.equal(stored.length, 1);
    assert.equal(stored[0].deliveries, 2);
    assert.equal(c.stats.inserted + c.stats.duplicates, 2);
  });

  it("a poison message is logged, never deleted, lands in the aggregator DLQ after maxReceiveCount; others flow", async () => {
    const config = freshConfig({ regions: [{ region: REGION }] });
    const client = sqs.client(AGG_REGION);
    const queues = await createTestQueues(client, config);
    const poison = `{"customer":"${"O'Brien DROP TABLE"}", "not": "a relay message"}`;
    await client.send(
      new SendMessageCommand({
        QueueUrl: queues.aggregator.queue.url,
        MessageBody: poison,
        MessageGroupId: "p",
        MessageDeduplicationId: "p",
      }),
    );
    const good = relayEntry(toRelayMessage("sa-east-1", makeRecord(3)), { fifo: true });
    await client.send(
      new SendMessageCommand({
        QueueUrl: queues.aggregator.queue.url,
        ...good,
        MessageBody: good.MessageBody!,
      }),
    );
    captured = captureOutput();
    const c = consume(client, queues.aggregator.queue.url);
    await waitFor(
      async () => (await drain(client, queues.aggregator.dlq.url, 1, 100)).length === 1,
      15_000,
    );
    const text = captured.text();
    captured.restore();
    assert.equal(c.stats.invalid, config.aggregator.maxReceiveCount);
    assert.equal((await rows("sa-east-1")).length, 1, "the good message was written");
    const warnings = text
      .split("\n")
      .filter((l) => l.includes("invalid relay message; not deleting it"));
    assert.equal(
      warnings.length,
      config.aggregator.maxReceiveCount,
      "one clear log line per receive",
    );
    assert.match(warnings[0], /"receiveCount":"1"/);
    assertNoRowContents(text);
  });

  it("a slow batch keeps its messages invisible (heartbeat) and stop() finishes the in-flight batch", async () => {
    const config = freshConfig({ regions: [{ region: REGION }] });
    const client = sqs.client(AGG_REGION);
    const queues = await createTestQueues(client, config);
    for (const i of [1, 2, 3]) {
      const e = relayEntry(toRelayMessage("ca-central-1", makeRecord(i)), { fifo: true });
      await client.send(
        new SendMessageCommand({
          QueueUrl: queues.aggregator.queue.url,
          ...e,
          MessageBody: e.MessageBody!,
        }),
      );
    }
    let entered!: () => void;
    const inCommit = new Promise<void>((r) => (entered = r));
    captured = captureOutput();
    const c = consume(client, queues.aggregator.queue.url, {
      // The write takes 2.5 s, the visibility timeout is 1 s: without the heartbeat the
      // messages would be handed out again meanwhile.
      beforeCommit: async () => {
        entered();
        await new Promise((r) => setTimeout(r, 2500));
      },
    });
    await inCommit;
    const stopping = c.stop(); // SIGINT/SIGTERM path: must finish this batch first
    const secondReader = await drain(client, queues.aggregator.queue.url, 1, 1800);
    assert.equal(secondReader.length, 0, "nothing redelivered while the batch is in flight");
    await stopping;
    consumer = undefined;
    captured.restore();
    assert.ok(c.stats.heartbeats >= 2, `heartbeats: ${c.stats.heartbeats}`);
    assert.equal(c.stats.deleted, 3, "committed and deleted before stop() resolved");
    assert.equal((await rows("ca-central-1")).length, 3);
    assert.deepEqual(await queueDepth(client, queues.aggregator.queue.url), {
      visible: 0,
      inFlight: 0,
    });
  });
});

describe("dc:consume flags", () => {
  it("explains every missing or bad value at once, without echoing the MySQL URL", () => {
    assert.throws(
      () => parseCli(["--wait-seconds", "30", "--mysql-url", "mysql://u:s3cret@h/"], {}),
      (error: unknown) => {
        assert.ok(error instanceof UsageError);
        assert.match(error.message, /--queue-url is required/);
        assert.match(error.message, /--mysql-url: names no database/);
        assert.match(error.message, /--region is required/);
        assert.match(error.message, /--wait-seconds: "30" must be an integer from 0 to 20/);
        assert.doesNotMatch(error.message, /s3cret/);
        return true;
      },
    );
    assert.throws(() => parseCli(["--bogus"], {}), /Unknown option '--bogus'/);
  });

  it("takes flags or env, and the region from an SQS URL", () => {
    const s = parseCli(
      [
        "--queue-url",
        "https://sqs.eu-central-1.amazonaws.com/123456789012/order-relay-prod-aggregator.fifo",
        "--mysql-url",
        "mysql://dc:pw@db.internal:3306/dc",
        "--wait-seconds",
        "5",
      ],
      {},
    );
    assert.equal(s.region, "eu-central-1");
    assert.equal(s.waitTimeSeconds, 5);
    assert.equal(s.maxMessages, 10);
    assert.equal(s.ensureSchema, true);
    const e = parseCli([], {
      DC_QUEUE_URL: "http://127.0.0.1:1/000/q",
      DC_MYSQL_URL: "mysql://root@127.0.0.1/x",
      AWS_REGION: "us-east-1",
    });
    assert.equal(e.waitTimeSeconds, 20);
  });
});
