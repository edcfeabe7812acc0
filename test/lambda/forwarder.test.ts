import { strict as assert } from "assert";
import { SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { toRelayMessage } from "../../contract/envelope";
import { createForwarderHandler, FORWARDER_SERVICE } from "../../lambda/forwarder";
import { createLogger, createMetrics } from "../../lambda/lib/observability";
import { fifoSafeId, relayEntry } from "../../lambda/lib/relay";
import { MAX_RECORD_BYTES, type RelayRecord } from "../../contract/envelope";
import type { RelayConfig } from "../../config/schema";
import {
  pollEventSourceOnce,
  startLocalSqs,
  type CreatedQueues,
  type LocalSqs,
} from "../../emulators/sqs";
import {
  assertNoRowContents,
  captureOutput,
  createTestQueues,
  drain,
  emfMetrics,
  freshConfig,
  idOf,
  makeRecord,
  queueDepth,
  type Captured,
} from "./support";

const REGION = "us-west-2";
const fastRetry = { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 };

/** Puts relay messages (as notify would) on the regional queue, plus raw poison bodies. */
async function seedRegional(
  client: SQSClient,
  queueUrl: string,
  rowIds: number[],
  poison: string[] = [],
) {
  const entries = [
    ...rowIds.map((i) => relayEntry(toRelayMessage(REGION, makeRecord(i)), { fifo: false })),
    ...poison.map((body) => ({ MessageBody: body })),
  ];
  for (let i = 0; i < entries.length; i += 10) {
    await client.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: entries.slice(i, i + 10).map((e, k) => ({ ...e, Id: String(k) })),
      }),
    );
  }
}

describe("forwarder handler (Powertools batch, local-aws-sqs)", function () {
  let sqs: LocalSqs;
  let captured: Captured | undefined;

  before(async () => {
    sqs = await startLocalSqs();
  });
  after(async () => {
    await sqs.close();
  });
  afterEach(() => {
    captured?.restore();
    captured = undefined;
    sqs.setFault(undefined);
  });

  async function setup(configExtra: Record<string, unknown> = {}, visibilitySeconds = 1) {
    const config: RelayConfig = freshConfig(configExtra);
    const client = sqs.client(REGION);
    const queues: CreatedQueues = await createTestQueues(client, config, visibilitySeconds);
    process.env.AWS_REGION = REGION;
    const handler = createForwarderHandler({
      client: sqs.client(config.aggregator.region),
      aggregatorQueueUrl: queues.aggregator.queue.url,
      fifo: config.aggregator.fifo,
      logger: createLogger(FORWARDER_SERVICE),
      metrics: createMetrics(FORWARDER_SERVICE),
      retry: fastRetry,
    });
    const regional = queues.regions[REGION];
    const poll = () =>
      pollEventSourceOnce({
        client,
        queueUrl: regional.queue.url,
        queueArn: regional.queue.arn,
        awsRegion: REGION,
        handler,
        waitTimeSeconds: 0,
      });
    return { config, client, queues, regional, handler, poll };
  }

  it("reports exactly the failed messages in batchItemFailures (invalid bodies + rejected entries)", async () => {
    const { client, queues, regional, handler } = await setup();
    await seedRegional(
      client,
      regional.queue.url,
      [1, 2, 3, 4, 5, 6, 7, 8],
      ["not json", '{"region":"x"}'],
    );
    const received = await drain(client, regional.queue.url, 10);
    assert.equal(received.length, 10);
    // The aggregator rejects rows 2 and 7 for good (sender fault: no retry can help).
    sqs.setFault(({ action, queueName }) =>
      action === "SendMessageBatch" && queueName === queues.aggregator.queue.name
        ? {
            kind: "failEntries",
            match: (e) => [2, 7].includes(idOf(String(e.MessageBody))),
            code: "InvalidParameterValue",
            senderFault: true,
          }
        : undefined,
    );
    const event = {
      Records: received.map((m) => ({
        messageId: m.MessageId!,
        receiptHandle: m.ReceiptHandle!,
        body: m.Body!,
        attributes: { ApproximateReceiveCount: "1" },
        messageAttributes: {},
        md5OfBody: m.MD5OfBody!,
        eventSource: "aws:sqs",
        eventSourceARN: regional.queue.arn,
        awsRegion: REGION,
      })),
    };
    const expectFailed = received
      .filter((m) => {
        try {
          return [2, 7].includes(idOf(m.Body!)) || Number.isNaN(idOf(m.Body!));
        } catch {
          return true;
        }
      })
      .map((m) => m.MessageId!)
      .sort();
    captured = captureOutput();
    const response = await handler(event);
    const text = captured.text();
    const metrics = emfMetrics(captured);
    captured.restore();

    assert.deepEqual(response.batchItemFailures.map((f) => f.itemIdentifier).sort(), expectFailed);
    assert.equal(expectFailed.length, 4);
    const forwarded = await drain(client, queues.aggregator.queue.url, 6);
    assert.deepEqual(forwarded.map((m) => idOf(m.Body!)).sort(), [1, 3, 4, 5, 6, 8]);
    for (const m of forwarded) {
      const original = received.find((r) => r.Body === m.Body);
      assert.ok(original, "body forwarded byte-identical");
      const body = JSON.parse(m.Body!);
      const key = body.dedupKey as string;
      assert.equal(key, `${REGION}:${body.outboxId}`);
      assert.equal(m.Attributes?.MessageDeduplicationId, key, "dedup id per change");
      assert.equal(m.Attributes?.MessageGroupId, body.rowKey, "group per row");
      assert.equal(m.MessageAttributes?.dedupKey?.StringValue, key);
    }
    const byName = (n: string) => metrics.filter((m) => m.name === n);
    assert.deepEqual(
      byName("Forwarded").map((m) => m.values),
      [[6]],
    );
    assert.deepEqual(
      byName("ForwardFailed").map((m) => m.values),
      [[4]],
    );
    const lag = byName("RelayLag")[0];
    assert.equal(lag.unit, "Milliseconds");
    assert.equal(lag.values.length, 6, "one RelayLag value per forwarded message");
    assert.ok(
      lag.values.every((v) => v >= 1500 && v < 60_000),
      `lag ${lag.values}`,
    );
    assert.deepEqual(lag.dims, { service: FORWARDER_SERVICE, region: REGION });
    assert.match(text, /invalid relay message; leaving it for redrive/);
    assert.match(text, /forwarded with failures/);
    assertNoRowContents(text);
  });

  it("FIFO aggregator: a message forwarded twice (at-least-once redelivery) is stored once", async () => {
    const { client, queues, regional, poll } = await setup();
    await seedRegional(client, regional.queue.url, [1, 2, 3]);
    // The same rows again, e.g. notify retried by Lambda after a timeout.
    await seedRegional(client, regional.queue.url, [2, 3]);
    captured = captureOutput();
    let polls = 0;
    while ((await queueDepth(client, regional.queue.url)).visible > 0 && polls++ < 5) await poll();
    captured.restore();
    const stored = await drain(client, queues.aggregator.queue.url, 5, 1500);
    assert.deepEqual(stored.map((m) => idOf(m.Body!)).sort(), [1, 2, 3]);
  });

  it("FIFO aggregator: an UPDATE right after its INSERT passes dedup; both keep one group, in order", async () => {
    const { client, queues, regional, poll } = await setup();
    const insert = makeRecord(5);
    const update: RelayRecord = { ...insert, outboxId: insert.outboxId + 100 } as RelayRecord;
    const entries = [insert, update, insert].map((r) =>
      relayEntry(toRelayMessage(REGION, r), { fifo: false }),
    );
    await client.send(
      new SendMessageBatchCommand({
        QueueUrl: regional.queue.url,
        Entries: entries.map((e, k) => ({ ...e, Id: String(k) })),
      }),
    );
    captured = captureOutput();
    let polls = 0;
    while ((await queueDepth(client, regional.queue.url)).visible > 0 && polls++ < 5) await poll();
    captured.restore();
    const stored = await drain(client, queues.aggregator.queue.url, 3, 1500);
    assert.deepEqual(
      stored.map((m) => JSON.parse(m.Body!).outboxId),
      [insert.outboxId, update.outboxId],
      "the insert's duplicate is dropped, the update is not",
    );
    assert.equal(new Set(stored.map((m) => m.Attributes?.MessageGroupId)).size, 1);
  });

  it("forwards records up to MAX_RECORD_BYTES: a batch of large messages is split by size", async () => {
    const { client, queues, regional, poll } = await setup();
    const big = (i: number): RelayRecord => {
      const record = makeRecord(i) as RelayRecord & { row: Record<string, unknown> };
      const base = Buffer.byteLength(JSON.stringify(record), "utf8");
      return {
        ...record,
        row: { ...record.row, blob: "z".repeat(MAX_RECORD_BYTES - base - 20) },
      } as RelayRecord;
    };
    for (const i of [1, 2, 3, 4, 5]) {
      await client.send(
        new SendMessageBatchCommand({
          QueueUrl: regional.queue.url,
          Entries: [{ ...relayEntry(toRelayMessage(REGION, big(i)), { fifo: false }), Id: "0" }],
        }),
      );
    }
    captured = captureOutput();
    sqs.resetCalls();
    const r = await poll();
    captured.restore();
    assert.equal(r.received, 5);
    assert.deepEqual(r.failed, []);
    const calls = sqs.callsByQueue()[queues.aggregator.queue.name]?.SendMessageBatch ?? 0;
    assert.ok(calls >= 2, `5 × ~255 KiB need two 1 MiB batch calls, made ${calls}`);
    const stored = await drain(client, queues.aggregator.queue.url, 5);
    assert.deepEqual(stored.map((m) => idOf(m.Body!)).sort(), [1, 2, 3, 4, 5]);
  });

  it("aggregator unreachable: messages stay on the regional queue and arrive after recovery", async () => {
    // 4 s visibility: the failed attempt (SDK retries x our retries against a dead endpoint)
    // must finish well inside it, as the forwarder's run does inside the real 6x timeout.
    const { client, queues, regional, poll } = await setup({}, 4);
    await seedRegional(client, regional.queue.url, [1, 2, 3, 4, 5]);
    sqs.setFault(({ queueName }) =>
      queueName === queues.aggregator.queue.name ? { kind: "disconnect" } : undefined,
    );
    captured = captureOutput();
    const during = await poll();
    assert.equal(during.received, 5);
    assert.equal(during.failed.length, 5, "every message reported failed");
    assert.equal(during.deleted, 0, "nothing deleted from the regional queue");
    assert.deepEqual(await queueDepth(client, regional.queue.url), { visible: 0, inFlight: 5 });

    sqs.setFault(undefined); // the region/network is back
    assert.deepEqual(await queueDepth(client, queues.aggregator.queue.url), {
      visible: 0,
      inFlight: 0,
    });
    let received = 0;
    const deadline = Date.now() + 10_000;
    while (received < 5 && Date.now() < deadline) {
      const after = await poll(); // picks them up once their visibility timeout expired
      assert.deepEqual(after.failed, []);
      received += after.received;
      if (after.received === 0) await new Promise((r) => setTimeout(r, 200));
    }
    const text = captured.text();
    captured.restore();
    assert.equal(received, 5);
    assert.deepEqual(await queueDepth(client, regional.queue.url), { visible: 0, inFlight: 0 });
    const stored = await drain(client, queues.aggregator.queue.url, 5);
    assert.deepEqual(stored.map((m) => idOf(m.Body!)).sort(), [1, 2, 3, 4, 5]);
    assert.match(text, /"failed":5/);
    assertNoRowContents(text);
  });

  it("a poison message lands in the regional DLQ after maxReceiveCount; good messages flow", async () => {
    const { config, client, regional, queues, poll } = await setup();
    const poison = JSON.stringify({ ...toRelayMessage(REGION, makeRecord(9)), dedupKey: "forged" });
    await seedRegional(client, regional.queue.url, [1], [poison]);
    captured = captureOutput();
    for (let i = 0; i < config.queue.maxReceiveCount + 1; i++) {
      await poll();
      await new Promise((r) => setTimeout(r, 1050));
    }
    await poll();
    const text = captured.text();
    captured.restore();
    const dead = await drain(client, regional.dlq.url, 1);
    assert.equal(dead.length, 1);
    assert.equal(dead[0].Body, poison);
    assert.deepEqual(await queueDepth(client, regional.queue.url), { visible: 0, inFlight: 0 });
    assert.equal((await drain(client, queues.aggregator.queue.url, 1)).length, 1);
    assert.match(text, /dedupKey: does not match/);
    assertNoRowContents(text);
  });

  it("standard (non-FIFO) aggregator: no FIFO parameters are sent", async () => {
    const { client, queues, regional, poll } = await setup({
      aggregator: { region: "eu-central-1", fifo: false },
    });
    assert.ok(!queues.aggregator.queue.name.endsWith(".fifo"));
    await seedRegional(client, regional.queue.url, [1, 2]);
    captured = captureOutput();
    const r = await poll();
    captured.restore();
    assert.deepEqual(r.failed, []);
    assert.equal((await drain(client, queues.aggregator.queue.url, 2)).length, 2);
  });
});

describe("FIFO ids", () => {
  it("keeps a valid dedup key readable and hashes anything SQS would reject", () => {
    assert.equal(fifoSafeId("ap-northeast-1:1042"), "ap-northeast-1:1042");
    assert.equal(
      fifoSafeId('ap-northeast-1:order_data:[["id",42]]'),
      'ap-northeast-1:order_data:[["id",42]]',
    );
    for (const key of [
      `eu-west-1:${"t".repeat(64)}:${"9".repeat(20)}:${"x".repeat(40)}`,
      "us-east-1:注文:1",
      "us-east-1:with space:1",
      'us-east-1:orders:[["id","山田"]]',
      `us-east-1:orders:[["uuid","${"0".repeat(120)}"]]`,
    ]) {
      const id = fifoSafeId(key);
      assert.match(id, /^sha256:[0-9a-f]{64}$/);
      assert.ok(id.length <= 128);
      assert.equal(fifoSafeId(key), id, "deterministic: duplicates share the id");
    }
    assert.notEqual(fifoSafeId("us-east-1:注文:1"), fifoSafeId("us-east-1:注文:2"));
  });
});
