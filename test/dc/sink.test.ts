/**
 * The DC sink with the real consumer (in-process), local SQS and the shared private MariaDB:
 * mirror tables created and evolved from SCHEMA records, exact values compared by query,
 * versioned apply (out-of-order, duplicates, tombstones, --deletes apply), changes that arrive
 * before their schema, and messages the DC cannot apply going to the DLQ without holding up the
 * others.
 */
import { strict as assert } from "assert";
import type { Pool, RowDataPacket } from "mysql2/promise";
import { createDcPoolFromUrl } from "../../dc/connection";
import { startDcConsumer, type DcConsumer, type DcConsumerOptions } from "../../dc/consumer";
import { createLogger } from "../../lambda/lib/observability";
import { startLocalSqs, type CreatedQueues, type LocalSqs } from "../../emulators/sqs";
import {
  assertNoRowContents,
  captureOutput,
  createTestQueues,
  drain,
  freshConfig,
  HOSTILE,
  queueDepth,
  type Captured,
} from "../lambda/support";
import { createScratchDatabase, type ScratchDatabase } from "../support/mysql";
import { AT, count, del, schemaRecord, sendRaw, sendRecords, upsert, waitFor } from "./support";

const REGION = "ap-northeast-1";
const AGG = "eu-central-1";

/** Every type issue 13 names, with values at their edges. */
const TYPED_COLUMNS: [string, string][] = [
  ["id", "bigint(20) unsigned"],
  ["shop", "int(11)"],
  ["total", "decimal(65,30)"],
  ["small", "decimal(26,8)"],
  ["big", "bigint(20) unsigned"],
  ["neg", "bigint(20)"],
  ["at_dt", "datetime(6)"],
  ["at_ts", "timestamp(6)"],
  ["day", "date"],
  ["bin", "varbinary(32)"],
  ["blob_col", "longblob"],
  ["flags", "bit(3)"],
  ["doc", "json"],
  ["name", "varchar(255)"],
  ["note", "text"],
  ["status", "enum('new','paid','it''s done')"],
  ["ratio", "double"],
];
const NON_UTF8 = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0xc3, 0x28, 0x0a, 0x27, 0x5c]);
const TYPED_ROW = {
  total: "99999999999999999999999999999999999.999999999999999999999999999999",
  small: "123456789012345678.12345678",
  big: "18446744073709551615",
  neg: "-9223372036854775808",
  at_dt: "9999-12-31 23:59:59.999999",
  at_ts: "2038-01-19T03:14:07.999999Z",
  day: "2026-02-28",
  bin: { $base64: NON_UTF8.toString("base64") },
  blob_col: { $base64: Buffer.alloc(70_000, 0xfe).toString("base64") },
  flags: { $base64: Buffer.from([0b101]).toString("base64") },
  doc: { name: HOSTILE.japanese, emoji: HOSTILE.emoji, nested: [1, null, { q: HOSTILE.quote }] },
  name: `${HOSTILE.japanese} ${HOSTILE.emoji} ${HOSTILE.quote}`,
  note: "",
  status: "it's done",
  ratio: 0.1 + 0.2,
};

describe("DC sink: typed mirror tables (real consumer, local SQS, MariaDB)", function () {
  this.timeout(60_000);
  let sqs: LocalSqs;
  let db: ScratchDatabase;
  let pool: Pool;
  let consumer: DcConsumer | undefined;
  let captured: Captured | undefined;

  before(async () => {
    sqs = await startLocalSqs();
  });
  after(async () => {
    await sqs.close();
  });
  beforeEach(async () => {
    db = await createScratchDatabase("dc_sink");
    pool = createDcPoolFromUrl(db.url, 6);
  });
  afterEach(async () => {
    await consumer?.stop();
    consumer = undefined;
    captured?.restore();
    captured = undefined;
    await pool.end();
    await db.drop();
  });

  async function queues(): Promise<CreatedQueues> {
    return createTestQueues(sqs.client(AGG, { harness: true }), freshConfig());
  }

  function consume(q: CreatedQueues, extra: Partial<DcConsumerOptions> = {}): DcConsumer {
    consumer = startDcConsumer({
      client: sqs.client(AGG),
      queueUrl: q.aggregator.queue.url,
      pool,
      concurrency: 2,
      waitTimeSeconds: 1,
      statusIntervalMs: 0,
      pendingSweepMs: 300,
      backoff: { initialMs: 100, maxMs: 1000 },
      logger: createLogger("order-relay-dc-consumer"),
      ...extra,
    });
    return consumer;
  }

  async function idle(c: DcConsumer, q: CreatedQueues): Promise<void> {
    await waitFor(
      async () => {
        const d = await queueDepth(sqs.client(AGG, { harness: true }), q.aggregator.queue.url);
        return d.visible === 0 && d.inFlight === 0 && c.status().batchesInFlight === 0;
      },
      20_000,
      "the aggregator queue to drain",
    );
  }

  async function query(sql: string, params: unknown[] = []): Promise<RowDataPacket[]> {
    const [rows] = await pool.query<RowDataPacket[]>(sql, params);
    return rows;
  }

  it("creates the mirror table from SCHEMA, every type exact by query, then follows an added and a dropped column", async () => {
    const q = await queues();
    const client = sqs.client(AGG, { harness: true });
    await sendRecords(client, q.aggregator.queue.url, REGION, [
      schemaRecord("orders", 1, TYPED_COLUMNS, ["id", "shop"]),
      upsert("orders", 2, { id: "18446744073709551615", shop: 1 }, TYPED_ROW),
      upsert(
        "orders",
        3,
        { id: 2, shop: 1 },
        {
          ...Object.fromEntries(TYPED_COLUMNS.map(([c]) => [c, null])),
          id: 2,
          shop: 1,
        },
      ),
    ]);
    captured = captureOutput();
    const c = consume(q);
    await waitFor(() => c.stats.applied === 2, 15_000, "2 rows applied");

    // Mid-stream: the storefront adds a column (SCHEMA first, as the relay sends it)…
    const withCoupon: [string, string][] = [...TYPED_COLUMNS, ["coupon", "varchar(20)"]];
    await sendRecords(client, q.aggregator.queue.url, REGION, [
      schemaRecord("orders", 10, withCoupon, ["id", "shop"]),
      upsert("orders", 11, { id: 3, shop: 1 }, { ...TYPED_ROW, coupon: "WELCOME-🍣" }),
    ]);
    await waitFor(() => c.stats.applied === 3, 15_000, "the row with the new column");
    // …and later drops one: it stays at the DC, NULL from then on.
    const withoutNote = withCoupon.filter(([n]) => n !== "note");
    const { note: _dropped, ...rowWithoutNote } = TYPED_ROW;
    void _dropped;
    await sendRecords(client, q.aggregator.queue.url, REGION, [
      schemaRecord("orders", 20, withoutNote, ["id", "shop"]),
      upsert("orders", 21, { id: 3, shop: 1 }, { ...rowWithoutNote, coupon: "SECOND" }),
    ]);
    await waitFor(() => c.stats.applied === 4, 15_000, "the row without the dropped column");
    await idle(c, q);
    const text = captured.text();
    captured.restore();

    const columns = await query(
      `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type, IS_NULLABLE AS nullable FROM information_schema.COLUMNS
        WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'orders' ORDER BY ORDINAL_POSITION`,
    );
    const typeOf = Object.fromEntries(columns.map((r) => [r.name, r.type]));
    assert.equal(typeOf.total, "decimal(65,30)");
    assert.match(typeOf.big, /^bigint(\(20\))? unsigned$/);
    assert.equal(typeOf.at_ts, "timestamp(6)");
    assert.equal(typeOf.at_dt, "datetime(6)");
    assert.equal(typeOf.bin, "varbinary(32)");
    assert.equal(typeOf.flags, "bit(3)");
    assert.equal(typeOf.coupon, "varchar(20)", "added by ALTER TABLE before its first row");
    assert.ok("note" in typeOf, "a dropped source column stays at the DC");
    for (const b of ["relay_region", "relay_outbox_id", "relay_changed_at", "relay_deleted_at"]) {
      assert.ok(b in typeOf, b);
    }
    const [pk] = await query(
      `SELECT GROUP_CONCAT(COLUMN_NAME ORDER BY ORDINAL_POSITION) AS k FROM information_schema.KEY_COLUMN_USAGE
        WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'orders' AND CONSTRAINT_NAME = 'PRIMARY'`,
    );
    assert.equal(pk!.k, "relay_region,id,shop");

    // Every value equal by query: the source values as parameters, compared by the server.
    const exact = await count(
      pool,
      `SELECT COUNT(*) FROM orders WHERE relay_region = ? AND id = ? AND shop = 1
         AND total = CAST(? AS DECIMAL(65,30)) AND small = CAST(? AS DECIMAL(26,8))
         AND big = CAST(? AS UNSIGNED) AND neg = CAST(? AS SIGNED)
         AND at_dt = ? AND at_ts = ? AND day = ? AND bin = ? AND blob_col = ? AND flags = b'101'
         AND JSON_EXTRACT(doc, '$.emoji') = ? AND name = ? AND note = '' AND status = ?
         AND ratio = ? AND relay_outbox_id = 2 AND relay_deleted_at IS NULL`,
      [
        REGION,
        "18446744073709551615",
        TYPED_ROW.total,
        TYPED_ROW.small,
        TYPED_ROW.big,
        TYPED_ROW.neg,
        TYPED_ROW.at_dt,
        "2038-01-19 03:14:07.999999",
        TYPED_ROW.day,
        NON_UTF8,
        Buffer.alloc(70_000, 0xfe),
        HOSTILE.emoji,
        TYPED_ROW.name,
        TYPED_ROW.status,
        TYPED_ROW.ratio,
      ],
    );
    assert.equal(exact, 1, "row 1 equals the source in every column");
    const [row] = await query(
      "SELECT CAST(total AS CHAR) AS total, CAST(big AS CHAR) AS big, HEX(bin) AS bin, doc, name, at_ts, changed FROM (SELECT *, relay_changed_at AS changed FROM orders) o WHERE id = '18446744073709551615'",
    );
    assert.equal(row!.total, TYPED_ROW.total);
    assert.equal(row!.big, TYPED_ROW.big);
    assert.equal(row!.bin, NON_UTF8.toString("hex").toUpperCase());
    assert.deepEqual(typeof row!.doc === "string" ? JSON.parse(row!.doc) : row!.doc, TYPED_ROW.doc);
    assert.equal(row!.name, TYPED_ROW.name, "Japanese and 4-byte emoji intact");
    assert.equal(row!.at_ts, "2038-01-19 03:14:07.999999", "TIMESTAMP as UTC");
    assert.equal(row!.changed, AT.replace("T", " ").replace("Z", ""));
    // NULL is NULL and "" is "".
    assert.equal(
      await count(
        pool,
        "SELECT COUNT(*) FROM orders WHERE id = 2 AND note IS NULL AND name IS NULL AND total IS NULL",
      ),
      1,
    );
    assert.equal(await count(pool, "SELECT COUNT(*) FROM orders WHERE note = ''"), 1);
    // The evolved rows.
    const [evolved] = await query("SELECT coupon, note, relay_outbox_id FROM orders WHERE id = 3");
    assert.deepEqual({ ...evolved }, { coupon: "SECOND", note: null, relay_outbox_id: "21" });
    // What the DC learned survives a restart.
    const schemas = await query(
      "SELECT relay_region, source_table, schema_outbox_id FROM relay_schemas",
    );
    assert.deepEqual(
      schemas.map((r) => ({ ...r })),
      [{ relay_region: REGION, source_table: "orders", schema_outbox_id: "20" }],
    );
    assert.equal(c.stats.schemasApplied, 3);
    assertNoRowContents(text);
  });

  it("applies by outboxId: older and duplicate deliveries are no-ops, deletes become tombstones, a later insert revives", async () => {
    const q = await queues();
    const client = sqs.client(AGG, { harness: true });
    const cols: [string, string][] = [
      ["id", "varchar(36)"],
      ["status", "varchar(20)"],
    ];
    const key = { id: "000123" };
    await sendRecords(client, q.aggregator.queue.url, REGION, [
      schemaRecord("orders", 1, cols, ["id"]),
      upsert("orders", 30, key, { status: "completed" }),
      // Late, older deliveries of the same row (a redrive, a resend): never regress it.
      upsert("orders", 20, key, { status: "processing" }),
      del("orders", 25, key),
      // A different key that only differs by leading zeros stays a different row.
      upsert("orders", 31, { id: "0123" }, { status: "new" }),
      // A delete of a row the DC never saw: a tombstone of the key alone.
      del("orders", 40, { id: "never-seen" }),
    ]);
    captured = captureOutput();
    const c = consume(q);
    await idle(c, q);
    // The same change again after the FIFO window (new dedup id): a duplicate that reaches the DC.
    await sendRecords(
      client,
      q.aggregator.queue.url,
      REGION,
      [upsert("orders", 30, key, { status: "completed" })],
      {
        dedupSuffix: "-late",
      },
    );
    await idle(c, q);
    const state = async () =>
      (
        await query(
          "SELECT id, status, relay_outbox_id AS v, relay_deleted_at AS d FROM orders ORDER BY id",
        )
      ).map((r) => ({ ...r }));
    assert.deepEqual(await state(), [
      { id: "000123", status: "completed", v: "30", d: null },
      { id: "0123", status: "new", v: "31", d: null },
      { id: "never-seen", status: null, v: "40", d: AT.replace("T", " ").replace("Z", "") },
    ]);
    assert.equal(c.stats.stale, 3, "the older upsert, the older delete and the duplicate");

    await sendRecords(client, q.aggregator.queue.url, REGION, [del("orders", 50, key)]);
    await idle(c, q);
    // A change older than the DELETE arriving after it (the regional queues are standard
    // queues: they may reorder a row's changes before the FIFO aggregator).
    await sendRecords(client, q.aggregator.queue.url, REGION, [
      upsert("orders", 45, key, { status: "late-and-older" }),
    ]);
    await idle(c, q);
    const [tomb] = await query(
      "SELECT status, relay_outbox_id AS v, relay_deleted_at IS NOT NULL AS dead FROM orders WHERE id = '000123'",
    );
    // Still deleted (50 is the newest change); the columns hold the newest UPSERT (45), exactly
    // as if 45 had arrived before the DELETE: the result does not depend on arrival order.
    assert.deepEqual({ ...tomb }, { status: "late-and-older", v: "50", dead: 1 });
    await sendRecords(client, q.aggregator.queue.url, REGION, [
      upsert("orders", 60, key, { status: "reinserted" }),
    ]);
    await idle(c, q);
    const [alive] = await query(
      "SELECT status, relay_deleted_at AS d FROM orders WHERE id = '000123'",
    );
    assert.deepEqual({ ...alive }, { status: "reinserted", d: null });
    captured.restore();
    assert.deepEqual(await queueDepth(client, q.aggregator.dlq.url), { visible: 0, inFlight: 0 });
  });

  it("--deletes apply removes rows, and a late older change never brings one back", async () => {
    const q = await queues();
    const client = sqs.client(AGG, { harness: true });
    const cols: [string, string][] = [
      ["order_id", "char(36)"],
      ["line", "smallint(6)"],
      ["sku", "varchar(20)"],
    ];
    const k = (line: number) => ({ order_id: "0e1f2a3b-0000-4000-8000-000000000001", line });
    await sendRecords(client, q.aggregator.queue.url, REGION, [
      schemaRecord("order_items", 1, cols, ["order_id", "line"]),
      upsert("order_items", 2, k(1), { sku: "A" }),
      upsert("order_items", 3, k(2), { sku: "B" }),
    ]);
    captured = captureOutput();
    const c = consume(q, { deletes: "apply", tablePrefix: "dc_" });
    await idle(c, q);
    await sendRecords(client, q.aggregator.queue.url, REGION, [del("order_items", 10, k(1))]);
    await idle(c, q);
    assert.deepEqual(
      (await query("SELECT line FROM dc_order_items")).map((r) => r.line),
      [2],
    );
    await sendRecords(client, q.aggregator.queue.url, REGION, [
      upsert("order_items", 5, k(1), { sku: "A-old" }),
    ]);
    await idle(c, q);
    assert.deepEqual(
      (await query("SELECT line FROM dc_order_items")).map((r) => r.line),
      [2],
      "the older upsert did not resurrect the deleted row",
    );
    await sendRecords(client, q.aggregator.queue.url, REGION, [
      upsert("order_items", 11, k(1), { sku: "A-new" }),
    ]);
    await idle(c, q);
    captured.restore();
    assert.deepEqual(
      (await query("SELECT line, sku FROM dc_order_items ORDER BY line")).map((r) => ({ ...r })),
      [
        { line: 1, sku: "A-new" },
        { line: 2, sku: "B" },
      ],
    );
    assert.equal(c.stats.rowsDeleted, 1);
  });

  it("changes that arrive before their table's (or column's) SCHEMA wait at the DC, then apply — none to the DLQ", async () => {
    const q = await queues();
    const client = sqs.client(AGG, { harness: true });
    const cols: [string, string][] = [
      ["id", "int(11)"],
      ["item", "varchar(50)"],
    ];
    captured = captureOutput();
    const c = consume(q);
    await sendRecords(client, q.aggregator.queue.url, REGION, [
      upsert("late_schema", 5, { id: 1 }, { item: "first" }),
      del("late_schema", 6, { id: 2 }),
    ]);
    await waitFor(() => c.stats.parked === 2, 10_000, "2 parked changes");
    await idle(c, q);
    assert.equal(
      await count(pool, "SELECT COUNT(*) FROM relay_pending"),
      2,
      "kept at the DC, deleted from SQS",
    );
    await sendRecords(client, q.aggregator.queue.url, REGION, [
      schemaRecord("late_schema", 1, cols, ["id"]),
    ]);
    await waitFor(() => c.stats.replayed === 2, 10_000, "parked changes applied");
    // A row with a column whose SCHEMA has not arrived yet waits too.
    await sendRecords(client, q.aggregator.queue.url, REGION, [
      upsert("late_schema", 12, { id: 1 }, { item: "second", gift: 1 }),
    ]);
    await waitFor(() => c.stats.parked === 3, 10_000, "the row with an unknown column parked");
    await sendRecords(client, q.aggregator.queue.url, REGION, [
      schemaRecord("late_schema", 11, [...cols, ["gift", "tinyint(1)"]], ["id"]),
    ]);
    await waitFor(() => c.stats.replayed === 3, 10_000, "applied after the new SCHEMA");
    await idle(c, q);
    captured.restore();
    assert.deepEqual(
      (
        await query(
          "SELECT id, item, gift, relay_deleted_at IS NOT NULL AS dead FROM late_schema ORDER BY id",
        )
      ).map((r) => ({ ...r })),
      [
        { id: 1, item: "second", gift: 1, dead: 0 },
        { id: 2, item: null, gift: null, dead: 1 },
      ],
    );
    assert.equal(await count(pool, "SELECT COUNT(*) FROM relay_pending"), 0);
    assert.deepEqual(await queueDepth(client, q.aggregator.dlq.url), { visible: 0, inFlight: 0 });
  });

  it("poison messages — not JSON, a type the DC cannot widen, a value its column rejects — reach the DLQ after maxReceiveCount; the others flow, no crash loop", async () => {
    const config = freshConfig();
    const client = sqs.client(AGG, { harness: true });
    const q = await createTestQueues(client, config);
    const cols: [string, string][] = [
      ["id", "int(11)"],
      ["qty", "int(11)"],
      ["code", "varchar(5)"],
    ];
    await sendRecords(client, q.aggregator.queue.url, REGION, [schemaRecord("p", 1, cols, ["id"])]);
    captured = captureOutput();
    const c = consume(q);
    await idle(c, q);
    await sendRaw(client, q.aggregator.queue.url, [
      `{"customer":"${HOSTILE.quote}", "not": "a relay message"`,
    ]);
    await sendRecords(client, q.aggregator.queue.url, REGION, [
      // int → varchar: no type holds both exactly.
      schemaRecord(
        "p",
        2,
        [
          ["id", "int(11)"],
          ["qty", "varchar(10)"],
          ["code", "varchar(5)"],
          ["extra", "date"],
        ],
        ["id"],
      ),
      // A value its column rejects in strict mode (never silently truncated).
      upsert("p", 3, { id: 1 }, { qty: 1, code: `${HOSTILE.email}` }),
      upsert("p", 4, { id: 2 }, { qty: 2, code: "ok" }),
      upsert("p", 5, { id: 3 }, { qty: 3, code: "fine" }),
    ]);
    await waitFor(
      async () => (await queueDepth(client, q.aggregator.dlq.url)).visible === 3,
      30_000,
      "3 messages in the DLQ",
    );
    await idle(c, q);
    const text = captured.text();
    captured.restore();
    const dead = await drain(client, q.aggregator.dlq.url, 3, 2000);
    const kinds = dead.map((m) => {
      try {
        const body = JSON.parse(m.Body!);
        return `${body.op}:${body.outboxId}`;
      } catch {
        return "not-json";
      }
    });
    assert.deepEqual(kinds.sort(), ["SCHEMA:2", "UPSERT:3", "not-json"]);
    assert.deepEqual(
      (await query("SELECT id, qty, code FROM p ORDER BY id")).map((r) => ({ ...r })),
      [
        { id: 2, qty: 2, code: "ok" },
        { id: 3, qty: 3, code: "fine" },
      ],
    );
    // The safe part of the rejected SCHEMA (the new column) was applied; the unsafe one reported.
    assert.ok((await query("SHOW COLUMNS FROM p LIKE 'extra'")).length === 1);
    assert.match(text, /column qty: int at the DC cannot hold varchar\(10\)/);
    assert.match(text, /MySQL rejected the write: ER_DATA_TOO_LONG/);
    assert.equal(c.status().state, "running", "still consuming");
    const rejections = text.split("\n").filter((l) => l.includes("leaving it for redrive"));
    assert.equal(rejections.length, 2 * config.aggregator.maxReceiveCount, "one line per receive");
    assertNoRowContents(text);
    assert.doesNotMatch(text, /alice\.secret/);
  });

  it("a slow batch keeps its messages invisible (heartbeat) and stop() finishes the in-flight batch", async () => {
    const q = await queues();
    const client = sqs.client(AGG, { harness: true });
    await sendRecords(client, q.aggregator.queue.url, REGION, [
      schemaRecord("slow", 1, [["id", "int"]], ["id"]),
      ...[2, 3, 4].map((i) => upsert("slow", i, { id: i }, {})),
    ]);
    let entered!: () => void;
    const inCommit = new Promise<void>((r) => (entered = r));
    captured = captureOutput();
    const c = consume(q, {
      concurrency: 1,
      // The write takes 2.5 s, the visibility timeout is 1 s: without the heartbeat the messages
      // would be handed out again meanwhile.
      beforeCommit: async (messages) => {
        if (messages.length === 0) return;
        entered();
        await new Promise((r) => setTimeout(r, 2500));
      },
    });
    await inCommit;
    const stopping = c.stop(); // the SIGINT/SIGTERM path: must finish this batch first
    const secondReader = await drain(client, q.aggregator.queue.url, 1, 1800);
    assert.equal(secondReader.length, 0, "nothing redelivered while the batch is in flight");
    await stopping;
    consumer = undefined;
    captured.restore();
    assert.ok(c.stats.applied === 3, `applied ${c.stats.applied}`);
    assert.equal(c.stats.sqsDeleted, 4, "committed and deleted before stop() resolved");
    assert.equal(await count(pool, "SELECT COUNT(*) FROM slow"), 3);
    assert.equal(c.status().state, "stopped");
  });
});
