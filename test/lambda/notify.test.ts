import { strict as assert } from "assert";
import {
  DEDUP_KEY_ATTRIBUTE,
  InvalidEnvelopeError,
  MAX_RECORD_BYTES,
  toRelayMessage,
  type RelayRecord,
} from "../../contract/envelope";
import { METRIC } from "../../contract/metrics";
import { createLogger, createMetrics } from "../../lambda/lib/observability";
import {
  createNotifyHandler,
  InvalidRecordsError,
  NOTIFY_SERVICE,
  NotifyDeliveryError,
} from "../../lambda/notify";
import { startLocalSqs, type LocalSqs } from "../../emulators/sqs";
import {
  assertNoRowContents,
  captureOutput,
  createTestQueues,
  drain,
  emfMetrics,
  freshConfig,
  idOf,
  makeEnvelope,
  makeRecord,
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
    // A database migrated before the wave-2 fields reports without them: read as 0.
    assert.deepEqual(value(METRIC.outboxQuarantined)?.values, [0]);
    assert.deepEqual(value(METRIC.purgeFailures)?.values, [0]);
    assert.deepEqual(value(METRIC.backfillIncomplete)?.values, [0]);
    assert.deepEqual(value(METRIC.unconfirmedOverdue)?.values, [0]);
  });

  it("turns the heartbeat's quarantine, purge-failure and backfill fields into their metrics", async () => {
    const { handler } = await setup();
    captured = captureOutput();
    await handler({
      region: REGION,
      heartbeat: {
        at: "2026-11-23T01:02:03.456Z",
        pending: 0,
        oldestPendingSeconds: 0,
        overdue: 0,
        consecutiveFailures: 0,
        quarantined: 2,
        purgeFailures: 4,
        backfillIncomplete: 1,
        unconfirmedOverdue: 3,
      },
    });
    const metrics = emfMetrics(captured);
    captured.restore();
    const value = (name: string) => metrics.find((m) => m.name === name);
    assert.equal(METRIC.outboxQuarantined, "OutboxQuarantined");
    assert.deepEqual(value(METRIC.outboxQuarantined)?.values, [2]);
    assert.deepEqual(value(METRIC.purgeFailures)?.values, [4]);
    assert.deepEqual(value(METRIC.backfillIncomplete)?.values, [1]);
    assert.deepEqual(value(METRIC.unconfirmedOverdue)?.values, [3]);
    assert.equal(value(METRIC.purgeFailures)?.unit, "Count");
    assert.deepEqual(value(METRIC.backfillIncomplete)?.dims, {
      service: NOTIFY_SERVICE,
      region: REGION,
    });
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
    const expected = new Map(envelope.records.map((r) => [r.outboxId, toRelayMessage(REGION, r)]));
    for (const m of messages) {
      const body = JSON.parse(m.Body!) as { outboxId: number; key: { id: number }; rowKey: string };
      assert.deepEqual(
        JSON.parse(m.Body!),
        expected.get(body.outboxId),
        "body is the contract's message",
      );
      assert.equal(
        m.MessageAttributes?.[DEDUP_KEY_ATTRIBUTE]?.StringValue,
        `${REGION}:${body.outboxId}`,
      );
      assert.equal(body.rowKey, `${REGION}:order_data:[["id",${body.key.id}]]`);
    }
    const enqueued = metrics.find((m) => m.name === "Enqueued");
    assert.ok(enqueued, "Enqueued metric emitted");
    assert.deepEqual(enqueued.values, [23]);
    assert.equal(enqueued.unit, "Count");
    assert.deepEqual(enqueued.dims, { service: NOTIFY_SERVICE, region: REGION });
    assert.match(text, /"message":"enqueued"/);
    assertNoRowContents(text);
  });

  it("enqueues UPSERT, DELETE and SCHEMA records of any key shape, each with its per-change dedup key", async () => {
    const { client, queueUrl, handler } = await setup();
    const at = "2026-11-23T01:02:03.456789Z";
    const records: RelayRecord[] = [
      {
        outboxId: 1,
        table: "orders",
        op: "SCHEMA",
        occurredAt: at,
        schema: {
          columns: [
            { name: "id", type: "char(36)", nullable: false },
            { name: "id_shop", type: "int(10) unsigned", nullable: false },
            { name: "flags", type: "bit(3)", nullable: true },
          ],
          primaryKey: ["id", "id_shop"],
        },
      },
      {
        outboxId: 2,
        table: "orders",
        op: "UPSERT",
        key: { id: "0e1f…", id_shop: 1 },
        occurredAt: at,
        row: { id: "0e1f…", id_shop: 1, flags: { $base64: "BQ==" } },
      },
      // The same row updated right after its insert: a new change, a new dedup key.
      {
        outboxId: 3,
        table: "orders",
        op: "UPSERT",
        key: { id: "0e1f…", id_shop: 1 },
        occurredAt: at,
        row: { id: "0e1f…", id_shop: 1, flags: null },
      },
      {
        outboxId: 4,
        table: "orders",
        op: "DELETE",
        key: { id: "0e1f…", id_shop: 1 },
        occurredAt: at,
      },
    ];
    captured = captureOutput();
    const result = await handler({ region: REGION, records });
    captured.restore();
    assert.equal(result.enqueued, 4);
    const bodies = (await drain(client, queueUrl, 4)).map((m) => JSON.parse(m.Body!));
    assert.deepEqual(
      bodies.map((b) => b.dedupKey).sort(),
      [1, 2, 3, 4].map((n) => `${REGION}:${n}`),
    );
    const rowKeys = new Set(bodies.filter((b) => b.op !== "SCHEMA").map((b) => b.rowKey));
    assert.equal(rowKeys.size, 1, "one row, one group key");
    assert.equal(bodies.find((b) => b.op === "SCHEMA").rowKey, `${REGION}:orders:$schema`);
  });

  it("one invalid record (a BIT column that made row null) never holds back the valid ones", async () => {
    const { client, queueUrl, handler } = await setup();
    const envelope = makeEnvelope(REGION, 1, 5) as unknown as {
      records: Record<string, unknown>[];
    };
    envelope.records[2].row = null; // the BIT defect of issue 12
    delete envelope.records[4].key; // missing field
    captured = captureOutput();
    await assert.rejects(handler(envelope), (error: unknown) => {
      assert.ok(error instanceof InvalidRecordsError, String(error));
      assert.deepEqual(
        error.invalid.map((r) => [r.index, r.outboxId]),
        [
          [2, 1003],
          [4, 1005],
        ],
      );
      assert.equal(error.enqueued, 3);
      assert.match(error.message, /records\.2 outboxId 1003: row: invalid_type/);
      return true;
    });
    const text = captured.text();
    captured.restore();
    const enqueued = await drain(client, queueUrl, 3);
    assert.deepEqual(
      enqueued.map((m) => idOf(m.Body!)).sort(),
      [1, 2, 4],
      "the valid records were enqueued",
    );
    assert.match(text, /invalid records in the relay envelope; enqueueing the valid ones/);
    assertNoRowContents(text);
  });

  it("records up to MAX_RECORD_BYTES fit: a batch of large records is split by size, never rejected as a whole", async () => {
    const { client, queueUrl, handler } = await setup();
    const big = (i: number): RelayRecord => {
      const record = makeRecord(i) as RelayRecord & { row: Record<string, unknown> };
      const base = Buffer.byteLength(JSON.stringify(record), "utf8");
      return {
        ...record,
        row: { ...record.row, blob: "y".repeat(MAX_RECORD_BYTES - base - 20) },
      } as RelayRecord;
    };
    const records = [1, 2, 3, 4, 5, 6].map(big);
    for (const r of records) assert.ok(Buffer.byteLength(JSON.stringify(r)) <= MAX_RECORD_BYTES);
    sqs.resetCalls();
    captured = captureOutput();
    const result = await handler({ region: REGION, records });
    captured.restore();
    assert.equal(result.enqueued, 6);
    // 6 × ~255 KiB: four per 1 MiB batch call at most.
    assert.ok((sqs.calls().SendMessageBatch ?? 0) >= 2, `calls: ${JSON.stringify(sqs.calls())}`);
    const messages = await drain(client, queueUrl, 6);
    assert.deepEqual(messages.map((m) => idOf(m.Body!)).sort(), [1, 2, 3, 4, 5, 6]);
  });

  it("fails loudly on a malformed envelope: clear log line without row contents, then throws", async () => {
    const { queueUrl, client, handler } = await setup();
    captured = captureOutput();
    await assert.rejects(
      handler({ records: makeEnvelope(REGION, 1, 2).records }),
      (error: unknown) => {
        assert.ok(error instanceof InvalidEnvelopeError);
        assert.match(error.message, /region: invalid_type/);
        return true;
      },
    );
    await assert.rejects(handler({ region: REGION, records: [] }), /records: too_small/);
    await assert.rejects(handler("{not json"), InvalidEnvelopeError);
    await assert.rejects(handler(undefined), InvalidEnvelopeError);
    const text = captured.text();
    captured.restore();
    const lines = text.split("\n").filter((l) => l.includes("rejected malformed relay envelope"));
    assert.equal(lines.length, 4, "one clear log line per rejected invocation");
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
          const rowId = idOf(String(entry.MessageBody));
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
      messages.map((m) => idOf(m.Body!)).sort((a, b) => a - b),
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
            match: (entry) => [2, 5].includes(idOf(String(entry.MessageBody))),
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
