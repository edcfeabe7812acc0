import { strict as assert } from "assert";
import { DEDUP_KEY_ATTRIBUTE, InvalidEnvelopeError, toRelayMessage } from "../../contract/envelope";
import { createLogger, createMetrics } from "../../lambda/lib/observability";
import { createNotifyHandler, NOTIFY_SERVICE, NotifyDeliveryError } from "../../lambda/notify";
import { startLocalSqs, type LocalSqs } from "../../emulators/sqs";
import {
  assertNoRowContents,
  captureOutput,
  createTestQueues,
  drain,
  emfMetrics,
  freshConfig,
  makeEnvelope,
  queueDepth,
  type Captured,
} from "./support";

const REGION = "ap-northeast-1";
const fastRetry = { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 20 };

describe("notify handler (local-aws-sqs, real @aws-sdk/client-sqs)", function () {
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

  async function setup() {
    const config = freshConfig();
    const client = sqs.client(REGION);
    const queues = await createTestQueues(client, config);
    const queueUrl = queues.regions[REGION].queue.url;
    process.env.AWS_REGION = REGION;
    const handler = createNotifyHandler({
      client,
      queueUrl,
      logger: createLogger(NOTIFY_SERVICE),
      metrics: createMetrics(NOTIFY_SERVICE),
      retry: fastRetry,
    });
    return { client, queueUrl, handler };
  }

  it("turns a database heartbeat into metrics and enqueues nothing", async () => {
    const { client, queueUrl, handler } = await setup();
    sqs.resetCalls();
    captured = captureOutput();
    const result = await handler({
      region: REGION,
      heartbeat: {
        at: "2026-11-23T01:02:03.456Z",
        pending: 7,
        oldestPendingSeconds: 42,
        overdue: 1,
        consecutiveFailures: 3,
      },
    });
    const metrics = emfMetrics(captured);
    captured.restore();
    assert.deepEqual(result, { region: REGION, enqueued: 0, calls: 0 });
    assert.equal(sqs.calls().SendMessageBatch ?? 0, 0);
    assert.equal((await drain(client, queueUrl, 1, 300)).length, 0);
    const value = (name: string) => metrics.find((m) => m.name === name);
    assert.deepEqual(value("Heartbeat")?.values, [1]);
    assert.deepEqual(value("OutboxPending")?.values, [7]);
    assert.deepEqual(value("OutboxOldestPendingSeconds")?.values, [42]);
    assert.deepEqual(value("OutboxOverdue")?.values, [1]);
    assert.equal(value("Heartbeat")?.dims.region, REGION);
  });

  it("rejects a malformed heartbeat loudly", async () => {
    const { handler } = await setup();
    captured = captureOutput();
    await assert.rejects(
      handler({ region: REGION, heartbeat: { at: "yesterday", pending: -1 } }),
      InvalidEnvelopeError,
    );
    const text = captured.text();
    captured.restore();
    assert.match(text, /rejected malformed relay heartbeat/);
  });

  it("enqueues every record (10 per SendMessageBatch) with the contract body and dedupKey attribute", async () => {
    const { client, queueUrl, handler } = await setup();
    const envelope = makeEnvelope(REGION, 1, 23);
    sqs.resetCalls();
    captured = captureOutput();
    const result = await handler(envelope);
    const text = captured.text();
    const metrics = emfMetrics(captured);
    captured.restore();

    assert.deepEqual(result, { region: REGION, enqueued: 23, calls: 3 });
    assert.equal(sqs.calls().SendMessageBatch, 3, "23 records = 3 batch calls");
    const messages = await drain(client, queueUrl, 23);
    assert.equal(messages.length, 23);
    const expected = new Map(
      envelope.records.map((r) => [r.rowId, JSON.stringify(toRelayMessage(REGION, r))]),
    );
    for (const m of messages) {
      const body = JSON.parse(m.Body!);
      assert.equal(m.Body, expected.get(body.rowId), "body is byte-identical to the contract");
      assert.equal(
        m.MessageAttributes?.[DEDUP_KEY_ATTRIBUTE]?.StringValue,
        `${REGION}:order_data:${body.rowId}`,
      );
    }
    const enqueued = metrics.find((m) => m.name === "Enqueued");
    assert.ok(enqueued, "Enqueued metric emitted");
    assert.deepEqual(enqueued.values, [23]);
    assert.equal(enqueued.unit, "Count");
    assert.deepEqual(enqueued.dims, { service: NOTIFY_SERVICE, region: REGION });
    assert.match(text, /"message":"enqueued"/);
    assertNoRowContents(text);
  });

  it("fails loudly on a malformed envelope: clear log line without row contents, then throws", async () => {
    const { queueUrl, client, handler } = await setup();
    const bad = makeEnvelope(REGION, 1, 2) as unknown as { records: Record<string, unknown>[] };
    delete bad.records[1].rowId; // missing field
    bad.records[0].op = "DELETE"; // wrong literal
    captured = captureOutput();
    await assert.rejects(handler(bad), (error: unknown) => {
      assert.ok(error instanceof InvalidEnvelopeError);
      assert.match(error.message, /records\.1\.rowId/);
      assert.match(error.message, /records\.0\.op/);
      return true;
    });
    await assert.rejects(handler("{not json"), InvalidEnvelopeError);
    await assert.rejects(handler(undefined), InvalidEnvelopeError);
    const text = captured.text();
    captured.restore();
    const lines = text.split("\n").filter((l) => l.includes("rejected malformed relay envelope"));
    assert.equal(lines.length, 3, "one clear log line per rejected invocation");
    assert.match(lines[0], /"level":"ERROR"/);
    assertNoRowContents(text);
    assert.deepEqual(
      await queueDepth(client, queueUrl),
      { visible: 0, inFlight: 0 },
      "nothing sent",
    );
  });

  it("retries partial batch failures and throttling with backoff until everything is sent", async () => {
    const { client, queueUrl, handler } = await setup();
    let throttled = 0;
    const failedOnce = new Set<string>();
    sqs.setFault(({ action }) => {
      if (action !== "SendMessageBatch") return undefined;
      if (throttled < 2) {
        throttled++;
        return { kind: "error", status: 400, code: "RequestThrottled", message: "slow down" };
      }
      return {
        kind: "failEntries",
        // Server-side fault for rows 3 and 17 on their first attempt only.
        match: (entry) => {
          const rowId = JSON.parse(String(entry.MessageBody)).rowId as number;
          const key = String(rowId);
          if ((rowId === 3 || rowId === 17) && !failedOnce.has(key)) {
            failedOnce.add(key);
            return true;
          }
          return false;
        },
        code: "InternalError",
        senderFault: false,
      };
    });
    captured = captureOutput();
    const result = await handler(makeEnvelope(REGION, 1, 20));
    captured.restore();
    assert.equal(result.enqueued, 20);
    assert.equal(failedOnce.size, 2);
    const messages = await drain(client, queueUrl, 20);
    assert.deepEqual(
      messages.map((m) => JSON.parse(m.Body!).rowId as number).sort((a, b) => a - b),
      Array.from({ length: 20 }, (_, i) => i + 1),
      "each record exactly once",
    );
  });

  it("throws naming the outbox ids still unsent after retries (async retry / on-failure destination take over)", async () => {
    const { client, queueUrl, handler } = await setup();
    sqs.setFault(({ action }) =>
      action === "SendMessageBatch"
        ? {
            kind: "failEntries",
            match: (entry) => [2, 5].includes(JSON.parse(String(entry.MessageBody)).rowId),
            code: "InternalError",
            senderFault: false,
          }
        : undefined,
    );
    captured = captureOutput();
    await assert.rejects(handler(makeEnvelope(REGION, 1, 6)), (error: unknown) => {
      assert.ok(error instanceof NotifyDeliveryError);
      assert.deepEqual(error.failedOutboxIds.sort(), [1002, 1005]);
      assert.match(error.message, /2 of 6 records not enqueued/);
      return true;
    });
    const text = captured.text();
    captured.restore();
    assert.match(text, /records not enqueued after retries/);
    assert.match(text, /"attempts":4/);
    assertNoRowContents(text);
    assert.equal((await drain(client, queueUrl, 4)).length, 4, "the others were sent");
  });
});
