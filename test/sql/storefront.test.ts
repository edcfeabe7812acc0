/**
 * A realistic multi-table storefront (test/sql/storefront.ts: PrestaShop-like orders, addresses
 * with a foreign key to their order, order items with a composite character key, payment tokens
 * keyed by BINARY(16)) through the relay on a real MariaDB: inserts, updates and deletes of every
 * table reach the DC model exactly and in order, a rolled-back change never does, storefront
 * upgrades (ALTER TABLE add / drop / rename columns) never fail a write, and the values are the
 * contract's exact encodings. Every payload is validated with parseEnvelope.
 */
import assert from "node:assert/strict";
import type mysql from "mysql2/promise";
import {
  ASYNC_INVOKE_PAYLOAD_LIMIT_BYTES,
  canonicalKey,
  MAX_RECORD_BYTES,
  parseHeartbeat,
  type SchemaRecord,
} from "../../contract/envelope";
import {
  applyToDc,
  assertDcMatchesSource,
  assertWellFormed,
  dcRows,
  drain,
  relayDb,
  sleep,
  upserts,
  type RelayDb,
  type Rows,
} from "./relay-db";
import { STOREFRONT_SCHEMA, STOREFRONT_TABLES, TABLE_NAMES } from "./storefront";

const uuid = (n: number) => `${String(n).padStart(8, "0")}-e89b-12d3-a456-426614174000`;
const token = (n: number) => Buffer.from(`${String(n).padStart(4, "0")}-payment-tok`.slice(0, 16));

async function placeOrder(sql: mysql.Connection, n: number, extra: Record<string, unknown> = {}) {
  const [result] = await sql.query<mysql.ResultSetHeader>("INSERT INTO ps_orders SET ?", [
    {
      reference: `REF${String(n).padStart(6, "0")}`,
      id_customer: 100 + n,
      payment: "Bank wire",
      total_paid: "19.990000",
      date_add: "2026-11-23 01:02:03",
      ...extra,
    },
  ]);
  const id = result.insertId;
  await sql.query("INSERT INTO ps_address SET ?", [
    {
      id_address: uuid(n),
      id_order: id,
      alias: "home",
      firstname: "Hanako",
      lastname: "Yamada",
      address1: "1-2-3 Shibuya",
      city: "Tokyo",
      phone: "+81-3-0000-0000",
      date_add: "2026-11-23 01:02:03.456",
    },
  ]);
  await sql.query(
    "INSERT INTO ps_order_detail (id_order, product_reference, product_name, product_quantity, unit_price_tax_incl) VALUES (?, '000123', 'Tea', 2, 4.5), (?, '0123', 'Cup', 1, 10)",
    [id, id],
  );
  await sql.query("INSERT INTO ps_payment_token SET ?", [
    { token: token(n), id_order: id, card_last4: "4242", expires: "2028-01-31" },
  ]);
  return id;
}

describe("sql: a multi-table storefront schema (real MariaDB)", function () {
  this.timeout(60_000);
  let r: RelayDb;
  before(async () => {
    r = await relayDb("relay_store", { schema: STOREFRONT_SCHEMA, tables: STOREFRONT_TABLES });
  });
  beforeEach(async () => {
    await r.reset(TABLE_NAMES, { schema: true });
  });
  after(async () => {
    await r.close();
  });

  it("relays inserts, updates and deletes of every table; the DC converges to the source, value for value", async () => {
    // The storefront's session is in Tokyo time; TIMESTAMPs still travel as UTC.
    await r.sql.query("SET time_zone = '+09:00'");
    const first = await placeOrder(r.sql, 1, {
      total_paid: "12345678901234.123456",
      ledger_amount: "1234567890123456789012345678901234.123456789012345678901234567890",
      loyalty_points: "18446744073709551615",
      gift_message: 'ご注文ありがとうございます 🎁 — "quoted" \\ back\nslash',
      flags: Buffer.from([0b10, 0b1]),
      weight: 0.1,
      invoice_pdf: Buffer.from([0x25, 0x50, 0x44, 0x46, 0xff, 0xfe, 0x00, 0x80, 0xc3]),
      extra: JSON.stringify({ note: "日本語", nested: [1, 2.5, null, { deep: true }] }),
      module: "",
      date_upd: "2026-11-23 10:00:00.123456",
    });
    await r.dispatch();
    const second = await placeOrder(r.sql, 2);
    await r.sql.query(
      "UPDATE ps_orders SET status = 'shipped', current_state = 4 WHERE id_order = ?",
      [first],
    );
    await r.dispatch();
    await r.sql.query("UPDATE ps_orders SET status = 'completed' WHERE id_order = ?", [first]);
    await r.sql.query("UPDATE ps_address SET address2 = 'Room 101' WHERE id_address = ?", [
      uuid(1),
    ]);
    await r.sql.query(
      "UPDATE ps_order_detail SET product_quantity = 3 WHERE id_order = ? AND product_reference = '0123'",
      [first],
    );
    await r.sql.query("DELETE FROM ps_payment_token WHERE token = ?", [token(2)]);
    await r.sql.query(
      "DELETE FROM ps_order_detail WHERE id_order = ? AND product_reference = '000123'",
      [second],
    );
    await r.dispatch();

    const records = await r.records();
    assertWellFormed(records);
    for (const table of STOREFRONT_TABLES) {
      await assertDcMatchesSource(r.db.url, records, table.name, table.excludeColumns);
    }
    // The contract's exact encodings.
    const order = dcRows(applyToDc(records), "ps_orders").get(canonicalKey({ id_order: first }))!;
    assert.equal(order.status, "completed", "the latest state, not the first");
    assert.equal(order.total_paid, "12345678901234.123456");
    assert.equal(
      order.ledger_amount,
      "1234567890123456789012345678901234.123456789012345678901234567890",
    );
    assert.equal(order.loyalty_points, "18446744073709551615");
    assert.equal(order.current_state, 4);
    assert.equal(order.gift_message, 'ご注文ありがとうございます 🎁 — "quoted" \\ back\nslash');
    assert.deepEqual(order.flags, { $base64: Buffer.from([0b10, 0b1]).toString("base64") });
    assert.deepEqual(order.invoice_pdf, { $base64: "JVBERv/+AIDD" });
    assert.deepEqual(order.extra, { note: "日本語", nested: [1, 2.5, null, { deep: true }] });
    assert.equal(order.weight, 0.1);
    assert.equal(order.module, "", '"" stays ""');
    assert.equal(order.total_paid_tax_incl, null, "NULL stays null");
    assert.equal(order.date_add, "2026-11-23 01:02:03", "DATETIME as written");
    assert.match(String(order.date_upd), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const [[{ utc }]] = await r.sql.query<Rows>(
      "SELECT CAST(CONVERT_TZ(date_upd, @@session.time_zone, '+00:00') AS CHAR) AS utc FROM ps_orders WHERE id_order = ?",
      [first],
    );
    assert.equal(order.date_upd, `${String(utc).replace(" ", "T")}Z`, "TIMESTAMP in UTC");
    // Keys: objects of the key columns; character codes and binary keys never collide.
    const keys = (table: string) =>
      records
        .filter((x) => x.op !== "SCHEMA" && x.table === table)
        .map((x) => x.op !== "SCHEMA" && x.key);
    assert.deepEqual(
      new Set(keys("ps_order_detail").map((k) => JSON.stringify(k))),
      new Set(
        [first, second].flatMap((id) =>
          ["000123", "0123"].map((ref) => JSON.stringify({ id_order: id, product_reference: ref })),
        ),
      ),
    );
    assert.deepEqual(keys("ps_payment_token")[0], {
      token: { $base64: token(1).toString("base64") },
    });
    assert.deepEqual(keys("ps_address")[0], { id_address: uuid(1) });
    // Deletes travel as keys only.
    const deletes = records.filter((x) => x.op === "DELETE");
    assert.ok(deletes.every((d) => !("row" in d)));
    assert.deepEqual(
      deletes.map((d) => [d.table, d.key]),
      [
        ["ps_payment_token", { token: { $base64: token(2).toString("base64") } }],
        ["ps_order_detail", { id_order: second, product_reference: "000123" }],
      ],
    );
    // SCHEMA: information_schema COLUMN_TYPE, nullability, key; excluded columns absent.
    const schemas = new Map(
      records.filter((x): x is SchemaRecord => x.op === "SCHEMA").map((s) => [s.table, s.schema]),
    );
    assert.deepEqual([...schemas.keys()].sort(), [...TABLE_NAMES].sort());
    const orderSchema = schemas.get("ps_orders")!;
    assert.deepEqual(orderSchema.primaryKey, ["id_order"]);
    const type = (name: string) => orderSchema.columns.find((c) => c.name === name);
    assert.deepEqual(type("total_paid"), {
      name: "total_paid",
      type: "decimal(20,6)",
      nullable: false,
    });
    assert.deepEqual(type("extra"), { name: "extra", type: "json", nullable: true });
    assert.equal(type("loyalty_points")?.type, "bigint(20) unsigned");
    assert.ok(!schemas.get("ps_address")!.columns.some((c) => c.name === "phone"), "excluded");
    assert.ok(upserts(records).every((u) => u.table !== "ps_address" || !("phone" in u.row)));
    assert.deepEqual(schemas.get("ps_order_detail")!.primaryKey, ["id_order", "product_reference"]);
  });

  it("a rolled-back change never reaches the DC; a change of the key is a DELETE and an UPSERT", async () => {
    const id = await placeOrder(r.sql, 1);
    await r.dispatch();
    const tx = await r.connect();
    await tx.beginTransaction();
    await placeOrder(tx, 2);
    await tx.query("UPDATE ps_orders SET status = 'cancelled' WHERE id_order = ?", [id]);
    await tx.query("DELETE FROM ps_payment_token WHERE id_order = ?", [id]);
    await r.dispatch(); // while the transaction is open
    await tx.rollback();
    await r.dispatch();
    const before = (await r.records()).length;
    // A key update: the old key goes away at the DC, the new one appears.
    await r.sql.query(
      "UPDATE ps_order_detail SET product_reference = '00123' WHERE id_order = ? AND product_reference = '0123'",
      [id],
    );
    await r.dispatch();
    const records = await r.records();
    assert.ok(
      !records.slice(0, before).some((x) => x.op === "DELETE"),
      "nothing rolled back was sent",
    );
    assert.ok(
      !upserts(records).some(
        (u) => u.row.status === "cancelled" || u.row.reference === "REF000002",
      ),
    );
    assert.deepEqual(
      records.slice(before).map((x) => [x.op, x.op !== "SCHEMA" && x.key]),
      [
        ["DELETE", { id_order: id, product_reference: "0123" }],
        ["UPSERT", { id_order: id, product_reference: "00123" }],
      ],
    );
    for (const table of STOREFRONT_TABLES) {
      await assertDcMatchesSource(r.db.url, records, table.name, table.excludeColumns);
    }
  });
  // Last: it alters the shared schema.
  it("a storefront upgrade adds, drops and renames columns between writes: no write fails, the new shape is announced before its rows", async () => {
    const id = await placeOrder(r.sql, 1);
    await r.dispatch();
    const ddl = [
      "ALTER TABLE ps_orders ADD COLUMN coupon VARCHAR(20) NULL AFTER payment",
      "ALTER TABLE ps_orders DROP COLUMN module",
      "ALTER TABLE ps_orders CHANGE COLUMN gift_message gift_note TEXT NULL",
      "ALTER TABLE ps_address MODIFY COLUMN postcode VARCHAR(16) NULL",
      "ALTER TABLE ps_orders ADD COLUMN blob2 LONGBLOB NULL, ALGORITHM = INSTANT",
      "ALTER TABLE ps_orders ADD COLUMN channel VARCHAR(10) NOT NULL DEFAULT 'web'",
    ];
    for (const [i, statement] of ddl.entries()) {
      await r.sql.query(statement);
      // Every kind of write still works, right after the DDL, without a migration.
      await placeOrder(r.sql, 10 + i);
      await r.sql.query(
        "UPDATE ps_orders SET current_state = current_state + 1 WHERE id_order = ?",
        [id],
      );
      await r.sql.query("UPDATE ps_address SET alias = ? WHERE id_order = ?", [`a${i}`, id]);
      if (i % 2 === 0) await r.dispatch();
    }
    await r.sql.query("UPDATE ps_orders SET coupon = 'XMAS', gift_note = 'hi' WHERE id_order = ?", [
      id,
    ]);
    await r.dispatch();
    // Rows not written since the upgrade need the new columns' values (channel's NOT NULL
    // default, a renamed column's data): each changed shape started a resync of the table, which
    // dispatch carries out by itself (no operator, no migration).
    await drain(r);
    const records = await r.records();
    assertWellFormed(records); // rows always match the latest SCHEMA before them
    for (const table of STOREFRONT_TABLES) {
      await assertDcMatchesSource(r.db.url, records, table.name, table.excludeColumns);
    }
    // ps_address only changed a column's length… which is a modified type: resynced too.
    const [states] = await r.sql.query<Rows>(
      "SELECT table_name, backfill_state FROM relay_tables ORDER BY table_name",
    );
    assert.ok(states.every((t) => t.backfill_state === "complete"));
    const schemas = records.filter(
      (x): x is SchemaRecord => x.op === "SCHEMA" && x.table === "ps_orders",
    );
    const last = schemas.at(-1)!.schema.columns.map((c) => c.name);
    assert.ok(last.includes("coupon") && last.includes("gift_note") && last.includes("blob2"));
    assert.ok(!last.includes("module") && !last.includes("gift_message"));
    assert.ok(schemas.length >= 3, `${schemas.length} ps_orders SCHEMA records`);
    const row = dcRows(applyToDc(records), "ps_orders").get(canonicalKey({ id_order: id }))!;
    assert.equal(row.coupon, "XMAS");
    assert.equal(row.gift_note, "hi");
  });
});

describe("sql: purge, quarantine, backfill and resync on the storefront schema (real MariaDB)", function () {
  this.timeout(60_000);
  let r: RelayDb;
  before(async () => {
    r = await relayDb("relay_store_ops", {
      schema: `${STOREFRONT_SCHEMA} ALTER TABLE ps_orders MODIFY invoice_pdf LONGBLOB NULL`,
      tables: STOREFRONT_TABLES,
    });
  });
  beforeEach(async () => {
    await r.reset(TABLE_NAMES, { schema: true });
  });
  after(async () => {
    await r?.close();
  });
  const purge = () => r.sql.query("CALL relay_purge()");
  const status = async () => {
    const [[s]] = await r.sql.query<Rows>("SELECT * FROM relay_status");
    return s;
  };
  const heartbeat = async () => {
    await r.sql.query("CALL relay_heartbeat()");
    const [rows] = await r.sql.query<Rows>(
      "SELECT payload FROM lambda_invocations WHERE payload LIKE '%\"heartbeat\"%' ORDER BY id DESC LIMIT 1",
    );
    return parseHeartbeat(JSON.parse(String(rows[0].payload))).heartbeat;
  };

  it("purges every table, children before parents (foreign keys never block), and never relays its own deletes", async () => {
    await r.migrate({ settings: { retentionHours: 0 } });
    const sent = await placeOrder(r.sql, 1);
    const busy = await placeOrder(r.sql, 2);
    await r.dispatch();
    // A change of a child not yet handed off keeps the child, and so its parent.
    await r.sql.query("CALL local_lambda_fail(TRUE)");
    await r.sql.query("UPDATE ps_address SET alias = 'office' WHERE id_order = ?", [busy]);
    await r.dispatch();
    await sleep(5);
    await purge();
    const left = async (table: string) =>
      (await r.sql.query<Rows>(`SELECT id_order FROM ${table} ORDER BY id_order`))[0].map((x) =>
        Number(x.id_order),
      );
    assert.deepEqual(await left("ps_orders"), [busy], "order 1 and all its rows are gone");
    assert.deepEqual(await left("ps_address"), [busy]);
    assert.deepEqual(await left("ps_order_detail"), [], "items handed off: purged on their own");
    assert.deepEqual(await left("ps_payment_token"), []);
    let s = await status();
    assert.equal(Number(s.purge_failures), 0);
    assert.ok(s.last_purge_at, "last_purge_at set by a run without errors");
    assert.equal(
      Number(s.last_purge_deleted),
      8,
      "order 1 (5 rows), order 2's items and token (3)",
    );
    // Once the child's change is handed off, both go.
    await r.sql.query("CALL local_lambda_fail(FALSE)");
    await r.dispatch();
    await sleep(5);
    await purge();
    for (const table of TABLE_NAMES) assert.deepEqual(await left(table), [], table);
    // The purge's own deletes were not captured: nothing left in the outbox, no DELETE sent.
    assert.equal(await r.count("relay_outbox"), 0);
    await r.dispatch();
    assert.ok(!(await r.records()).some((x) => x.op === "DELETE"));
    s = await status();
    assert.equal(Number(s.total_purged), 10);
    assert.ok(sent > 0);
  });

  it("a failing purge is recorded (error, time, runs in a row), in relay_status and the heartbeat; the next good run clears it", async () => {
    // ps_address is not listed: its foreign key blocks the purge of its orders (ERROR 1451).
    await r.migrate({
      settings: {
        retentionHours: 0,
        tables: STOREFRONT_TABLES.filter((t) => t.name !== "ps_address"),
      },
    });
    await placeOrder(r.sql, 1);
    await r.dispatch();
    await sleep(5);
    await purge();
    await purge();
    const s = await status();
    assert.equal(Number(s.purge_failures), 2);
    assert.match(
      String(s.last_purge_error),
      /^ps_orders: 1451: Cannot delete or update a parent row/,
    );
    assert.ok(s.last_purge_error_at);
    assert.equal(s.last_purge_at, null, "never a run without errors");
    assert.equal(await r.count("ps_order_detail"), 0, "other tables were purged meanwhile");
    assert.equal((await heartbeat()).purgeFailures, 2);
    // Listing the child table (the fix the error names) lets the purge through.
    await r.migrate({ settings: { retentionHours: 0 } });
    await r.dispatch();
    await sleep(5);
    await purge();
    assert.equal(Number((await status()).purge_failures), 0);
    assert.equal(await r.count("ps_orders"), 0);
    assert.equal((await heartbeat()).purgeFailures, 0);
  });

  it("quarantines a row too large for one payload while later rows flow; kept until an operator releases or skips it", async () => {
    await r.migrate({ settings: { retentionHours: 0 } });
    const small = await placeOrder(r.sql, 1);
    const big = await placeOrder(r.sql, 2, { invoice_pdf: Buffer.alloc(MAX_RECORD_BYTES, 0xab) });
    const edge = await placeOrder(r.sql, 3, {
      // 60 KB of text that JSON escapes six-fold: small raw, too large encoded (measured).
      gift_message: "\u0001".repeat(60_000),
    });
    const after = await placeOrder(r.sql, 4);
    // Larger than a batch's byte cap (max_payload_bytes) but within MAX_RECORD_BYTES: sent alone.
    const alone = await placeOrder(r.sql, 5, { invoice_pdf: Buffer.alloc(170_000, 0xef) });
    await r.dispatch();
    const records = await r.records();
    const sentOrders = upserts(records)
      .filter((u) => u.table === "ps_orders")
      .map((u) => u.key.id_order);
    assert.deepEqual(
      sentOrders,
      [small, after, alone],
      "later rows flow past the quarantined ones",
    );
    for (const i of await r.invocations()) {
      assert.ok(Buffer.byteLength(i.payload) <= ASYNC_INVOKE_PAYLOAD_LIMIT_BYTES);
    }
    const [carrier] = (await r.invocations()).filter((i) =>
      i.envelope.records.some((x) => x.op === "UPSERT" && x.key.id_order === alone),
    );
    assert.equal(carrier.envelope.records.length, 1, "in a payload of its own");
    assert.ok(Buffer.byteLength(carrier.payload) > 200_000);
    const [quarantined] = await r.sql.query<Rows>(
      "SELECT id, key_json, quarantine_reason, quarantine_bytes FROM relay_outbox WHERE quarantined_at IS NOT NULL ORDER BY id",
    );
    assert.deepEqual(
      quarantined.map((q) => JSON.parse(String(q.key_json))),
      [{ id_order: big }, { id_order: edge }],
    );
    assert.match(
      String(quarantined[0].quarantine_reason),
      /^UPSERT record of at least \d+ bytes exceeds MAX_RECORD_BYTES \(261120\)/,
    );
    assert.match(
      String(quarantined[1].quarantine_reason),
      /^UPSERT record of \d+ bytes exceeds MAX_RECORD_BYTES/,
    );
    assert.ok(Number(quarantined[1].quarantine_bytes) > MAX_RECORD_BYTES);
    assert.equal(Number((await status()).quarantined), 2);
    assert.equal((await heartbeat()).quarantined, 2);
    // Never purged meanwhile (the rest is).
    await sleep(5);
    await purge();
    assert.deepEqual(
      (await r.sql.query<Rows>("SELECT id_order FROM ps_orders ORDER BY id_order"))[0].map(
        (x) => x.id_order,
      ),
      [big, edge],
      "only the quarantined rows stay",
    );
    // The operator shrinks one row and releases it; skips the other.
    await r.sql.query("UPDATE ps_orders SET gift_message = 'short' WHERE id_order = ?", [edge]);
    await r.sql.query("CALL relay_release_quarantine(?)", [quarantined[1].id]);
    await r.sql.query("CALL relay_skip_quarantine(?, 'sent by hand')", [quarantined[0].id]);
    await assert.rejects(
      r.sql.query("CALL relay_skip_quarantine(?, '')", [quarantined[0].id]),
      /no quarantined change/,
    );
    await r.dispatch();
    const released = upserts(await r.records()).filter(
      (u) => u.table === "ps_orders" && u.key.id_order === edge,
    );
    assert.equal(
      released.length,
      1,
      "the release and the shrinking UPDATE: one record, the latest state",
    );
    assert.equal(released.at(-1)!.row.gift_message, "short");
    const [resolved] = await r.sql.query<Rows>(
      "SELECT quarantine_resolution AS q FROM relay_outbox WHERE id IN (?) ORDER BY id",
      [quarantined.map((q) => q.id)],
    );
    assert.match(String(resolved[0].q), /^skipped .* sent by hand$/);
    assert.match(String(resolved[1].q), /^released /);
    assert.equal(Number((await status()).quarantined), 0);
    await sleep(5);
    await purge();
    assert.equal(await r.count("ps_orders"), 0);
  });

  it("backfills existing rows on install, resumes an interrupted backfill, reports it until verified complete", async () => {
    const main = r;
    r = await relayDb("relay_store_backfill", { schema: STOREFRONT_SCHEMA, migrate: false });
    try {
      // A storefront that already has orders and items when the relay is installed.
      const rows = 2000;
      for (let start = 1; start <= rows; start += 1000) {
        const values = Array.from({ length: 1000 }, (_, k) => [
          `R${start + k}`,
          start + k,
          "card",
          "2026-11-01",
        ]);
        await r.sql.query(
          "INSERT INTO ps_orders (reference, id_customer, payment, date_add) VALUES ?",
          [values],
        );
      }
      await r.sql.query(
        `INSERT INTO ps_order_detail (id_order, product_reference, product_name)
       SELECT id_order, LPAD(id_order, 6, '0'), 'item' FROM ps_orders`,
      );
      const ordersOnly = { tables: [STOREFRONT_TABLES[0]] };
      const withItems = { tables: [STOREFRONT_TABLES[0], STOREFRONT_TABLES[2]] };
      await r.migrate({ settings: ordersOnly });
      assert.equal(
        await r.count("relay_outbox", "table_name = 'ps_orders' AND op = 'UPSERT'"),
        rows,
      );

      // A table added to the list later: its backfill is interrupted (connection lost) half way.
      await r.sql.query("UPDATE relay_settings SET backfill_chunk_rows = 20");
      const lines: string[] = [];
      const running = r.migrate({ settings: withItems, log: (l) => lines.push(l) });
      running.catch(() => {}); // awaited below
      for (let i = 0; i < 500; i++) {
        const [[t]] = await r.sql.query<Rows>(
          "SELECT backfill_rows AS n FROM relay_tables WHERE table_name = 'ps_order_detail'",
        );
        if (t && Number(t.n) > 0) break;
        await sleep(10);
      }
      const [victims] = await r.sql.query<Rows>(
        `SELECT ID AS id FROM information_schema.PROCESSLIST
        WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND COMMAND = 'Query'`,
      );
      assert.equal(victims.length, 1, "the migration is backfilling");
      await r.sql.query(`KILL CONNECTION ${Number(victims[0].id)}`);
      await assert.rejects(running, "an interrupted migration never says it is up to date");
      const [[progress]] = await r.sql.query<Rows>(
        "SELECT backfill_state, backfill_rows, backfill_last_key FROM relay_tables WHERE table_name = 'ps_order_detail'",
      );
      assert.equal(progress.backfill_state, "running");
      assert.ok(Number(progress.backfill_rows) > 0 && Number(progress.backfill_rows) < rows);
      assert.ok(JSON.parse(String(progress.backfill_last_key)).product_reference);
      assert.equal(Number((await status()).backfill_incomplete), 1);
      assert.equal((await heartbeat()).backfillIncomplete, 1);

      // The next migration resumes where it stopped, and verifies.
      lines.length = 0;
      await r.migrate({ settings: withItems, log: (l) => lines.push(l) });
      assert.ok(
        lines.some(
          (l) =>
            l === `backfilling ps_order_detail (resuming after ${progress.backfill_rows} rows)`,
        ),
        lines.join("\n"),
      );
      assert.ok(lines.some((l) => l.startsWith("backfill of ps_order_detail verified complete")));
      assert.equal(
        await r.count("relay_outbox", "table_name = 'ps_order_detail' AND op = 'UPSERT'"),
        rows,
        "each row once",
      );
      assert.equal(Number((await status()).backfill_incomplete), 0);

      // Verification catches rows a pass missed (here: entries lost behind the recorded progress).
      await r.sql.query(
        "DELETE FROM relay_outbox WHERE table_name = 'ps_order_detail' AND op = 'UPSERT' AND id % 7 = 0",
      );
      const missing =
        rows - (await r.count("relay_outbox", "table_name = 'ps_order_detail' AND op = 'UPSERT'"));
      await r.sql.query(
        `UPDATE relay_tables SET backfill_state = 'running',
              backfill_last_key = JSON_OBJECT('id_order', ${rows}, 'product_reference', LPAD(${rows}, 6, '0'))
        WHERE table_name = 'ps_order_detail'`,
      );
      await r.sql.query("CALL relay_backfill()");
      const [[done]] = await r.sql.query<Rows>(
        "SELECT backfill_state, backfill_missing FROM relay_tables WHERE table_name = 'ps_order_detail'",
      );
      assert.deepEqual([done.backfill_state, Number(done.backfill_missing)], ["complete", 0]);
      assert.equal(
        await r.count("relay_outbox", "table_name = 'ps_order_detail' AND op = 'UPSERT'"),
        rows,
      );
      assert.ok(missing > 0);
      // Everything reaches the DC.
      await r.sql.query("UPDATE relay_settings SET batch_size = 500, dispatch_max_ms = 60000");
      await r.dispatch();
      const records = await r.records();
      await assertDcMatchesSource(r.db.url, records, "ps_orders");
      await assertDcMatchesSource(r.db.url, records, "ps_order_detail");
    } finally {
      await r.close();
      r = main;
    }
  });

  it("relay_resync re-sends the current state of every row of a table, SCHEMA first", async () => {
    for (let n = 1; n <= 3; n++) await placeOrder(r.sql, n);
    await r.dispatch();
    const before = (await r.records()).length;
    await r.sql.query("CALL relay_resync('ps_address')");
    await r.dispatch();
    const again = (await r.records()).slice(before);
    assert.equal(again[0].op, "SCHEMA");
    assert.equal(again[0].table, "ps_address");
    assert.deepEqual(
      again.slice(1).map((x) => [x.op, x.table, x.op !== "SCHEMA" && x.key.id_address]),
      [1, 2, 3].map((n) => ["UPSERT", "ps_address", uuid(n)]),
    );
    await assert.rejects(r.sql.query("CALL relay_resync('ps_customer')"), /not a listed table/);
    await assertDcMatchesSource(r.db.url, await r.records(), "ps_address", ["phone"]);
  });
});
