/**
 * The whole chain with the real handlers and the real DC consumer: an envelope (SCHEMA, UPSERTs,
 * an UPDATE right after its INSERT, a DELETE) → notify → regional queue → forwarder → FIFO
 * aggregator → DC mirror table on MariaDB — hostile values intact, duplicate invocations absorbed,
 * nothing in any DLQ, no row contents in any log line.
 */
import { strict as assert } from "assert";
import type { Pool, RowDataPacket } from "mysql2/promise";
import type { RelayEnvelope } from "../../contract/envelope";
import { LAMBDA_ENV } from "../../contract/lambdaEnv";
import { createDcPoolFromUrl } from "../../dc/connection";
import { startDcConsumer, type DcConsumer } from "../../dc/consumer";
import { pollEventSourceOnce, startLocalSqs, type LocalSqs } from "../../emulators/sqs";
import { handler as forwarderHandler } from "../../lambda/forwarder";
import { createLogger } from "../../lambda/lib/observability";
import { handler as notifyHandler } from "../../lambda/notify";
import {
  assertNoRowContents,
  captureOutput,
  createTestQueues,
  freshConfig,
  hostileRow,
  queueDepth,
  type Captured,
} from "../lambda/support";
import { createScratchDatabase, type ScratchDatabase } from "../support/mysql";
import { schemaRecord, waitFor } from "./support";

const REGION = "ap-northeast-1";

describe("the whole chain: notify → forwarder → FIFO aggregator → DC mirror table", function () {
  this.timeout(60_000);
  let sqs: LocalSqs;
  let db: ScratchDatabase;
  let pool: Pool;
  let captured: Captured | undefined;
  let consumer: DcConsumer | undefined;
  const savedEnv = { ...process.env };

  before(async () => {
    sqs = await startLocalSqs();
    db = await createScratchDatabase("dc_chain");
    pool = createDcPoolFromUrl(db.url, 4);
  });
  after(async () => {
    await consumer?.stop();
    captured?.restore();
    await pool.end();
    await db.drop();
    await sqs.close();
    process.env = savedEnv;
  });

  it("delivers every change exactly, in order per row; duplicate invocations and a same-row UPDATE within the dedup window are handled", async () => {
    const config = freshConfig({ regions: [{ region: REGION }] });
    const client = sqs.client(REGION, { harness: true });
    const queues = await createTestQueues(client, config);
    const regional = queues.regions[REGION];
    // The deployed handlers, configured exactly as the program configures them (env only).
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
    const columns: [string, string][] = [
      ["id", "int(11)"],
      ["customer", "varchar(255)"],
      ["note", "text"],
      ["path", "varchar(255)"],
      ["address", "varchar(255)"],
      ["item", "varchar(255)"],
      ["email", "varchar(255)"],
      ["price", "decimal(10,2)"],
      ["nested", "json"],
    ];
    const at = () => new Date(Date.now() - 1500).toISOString();
    const row = (i: number) => ({ ...hostileRow(i), price: (12.5 + i).toFixed(2) });
    const envelope: RelayEnvelope = {
      region: REGION,
      records: [
        schemaRecord("order_data", 1, columns, ["id"]),
        ...Array.from({ length: 20 }, (_, k) => ({
          outboxId: 10 + k,
          table: "order_data",
          op: "UPSERT" as const,
          key: { id: k + 1 },
          occurredAt: at(),
          row: row(k + 1),
        })),
        // The same row updated within the 5-minute dedup window, then another deleted.
        {
          outboxId: 40,
          table: "order_data",
          op: "UPSERT",
          key: { id: 3 },
          occurredAt: at(),
          row: { ...row(3), item: "updated 🍣" },
        },
        { outboxId: 41, table: "order_data", op: "DELETE", key: { id: 4 }, occurredAt: at() },
      ],
    };
    captured = captureOutput();
    sqs.resetCalls();
    await notifyHandler(envelope);
    await notifyHandler(envelope); // Lambda's async retry of the same invocation: duplicates
    let forwarded = 0;
    while (forwarded < 2 * envelope.records.length) {
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
    consumer = startDcConsumer({
      client: sqs.client(config.aggregator.region),
      queueUrl: queues.aggregator.queue.url,
      pool,
      waitTimeSeconds: 1,
      statusIntervalMs: 0,
      logger: createLogger("order-relay-dc-consumer"),
    });
    const c = consumer;
    await waitFor(
      () => c.stats.sqsDeleted === envelope.records.length,
      20_000,
      "every change at the DC",
    );
    await consumer.stop();
    consumer = undefined;
    const text = captured.text();
    captured.restore();

    const [rows] = await pool.query<RowDataPacket[]>(
      "SELECT * FROM order_data WHERE relay_region = ? ORDER BY id",
      [REGION],
    );
    assert.equal(rows.length, 20, "one mirror row per source row despite the duplicate invocation");
    for (const r of rows) {
      const expected: Record<string, unknown> =
        r.id === 3 ? { ...row(3), item: "updated 🍣" } : row(r.id);
      for (const column of ["customer", "note", "path", "address", "item", "email", "price"]) {
        assert.equal(
          r[column],
          String(expected[column as keyof typeof expected]),
          `${column} of row ${r.id}`,
        );
      }
      const nested = typeof r.nested === "string" ? JSON.parse(r.nested) : r.nested;
      assert.deepEqual(nested, expected.nested);
      assert.equal(r.relay_deleted_at === null, r.id !== 4, "row 4 is a tombstone");
    }
    assert.equal(
      rows.find((r) => r.id === 3)!.relay_outbox_id,
      "40",
      "the UPDATE passed FIFO dedup",
    );
    assert.equal(c.stats.applied + c.stats.stale, 21, JSON.stringify(c.stats));
    assert.equal(c.stats.tombstones, 1);
    assert.equal(
      c.stats.received,
      envelope.records.length,
      "the FIFO aggregator dropped the duplicates",
    );
    for (const q of [queues.aggregator.queue, queues.aggregator.dlq, regional.dlq]) {
      assert.deepEqual(await queueDepth(client, q.url), { visible: 0, inFlight: 0 }, q.name);
    }
    assertNoRowContents(text);
  });
});
