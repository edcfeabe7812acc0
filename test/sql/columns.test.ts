/**
 * Capture by key on tables whose shape is not the seed's: every column is relayed (whatever its
 * name), excluded columns never are, columns added later are relayed without a migration, the
 * generated triggers (sql/capture.ts, their only definition) are left alone when unchanged and
 * follow the table list, and the migration refuses what it cannot capture with one line naming
 * the table and the fix.
 */
import * as assert from "assert";
import type mysql from "mysql2/promise";
import { canonicalKey, parseHeartbeat } from "../../contract/envelope";
import { CAPTURE_TRIGGER_PATTERN } from "../../sql/capture";
import { migrate, MigrationError } from "../../sql/migrate";
import { createScratchDatabase, type ScratchDatabase } from "../support/mysql";
import {
  applyToDc,
  assertDcMatchesSource,
  assertWellFormed,
  dcRows,
  drain,
  relayDb,
  SETTINGS,
  upserts,
  type RelayDb,
  type Rows,
} from "./relay-db";

const triggersOf = async (sql: mysql.Connection) =>
  (
    await sql.query<Rows>(
      "SELECT TRIGGER_NAME AS name, EVENT_OBJECT_TABLE AS t FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY 2, 1",
    )
  )[0].map((row) => `${row.t}:${String(row.name)}`);

describe("sql: capture on any table shape (real MariaDB)", function () {
  this.timeout(60_000);
  let r: RelayDb;
  let scratch: ScratchDatabase | undefined;
  afterEach(async () => {
    await r?.close();
    await scratch?.drop();
    scratch = undefined;
  });

  it("relays every column of a wider order_data (odd names included), never an excluded one; a second run changes nothing", async () => {
    r = await relayDb("relay_columns", {
      migrate: false,
      schema: `CREATE TABLE order_data (
         id INT AUTO_INCREMENT PRIMARY KEY,
         item VARCHAR(50) NOT NULL,
         \`customer email\` VARCHAR(100) NULL,
         \`it's "odd"\` VARCHAR(10) NULL,
         \`back\\slash\` INT NULL,
         amount DECIMAL(10,2) NOT NULL DEFAULT 0,
         ordered_at DATETIME(3) NULL,
         card_number VARCHAR(19) NULL
       ) DEFAULT CHARSET = utf8mb4;
       INSERT INTO order_data (item, \`customer email\`, amount, ordered_at, card_number)
         VALUES ('before', 'a@example.com', 12.50, '2026-11-23 01:02:03.456', '4242424242424242')`,
    });
    const lines: string[] = [];
    await r.migrate({
      settings: { tables: [{ name: "order_data", excludeColumns: ["card_number", "gone"] }] },
      log: (line) => lines.push(line),
    });
    assert.ok(lines.includes("capture triggers created for order_data (key id)"), lines.join("\n"));
    assert.ok(
      lines.includes(
        "warning: order_data: excluded column gone does not exist (nothing to exclude)",
      ),
    );
    assert.ok(lines.some((l) => l.startsWith("backfill of order_data verified complete (1 row")));
    await r.sql.query(
      "INSERT INTO order_data (item, `customer email`, `it's \"odd\"`, `back\\slash`, amount, ordered_at, card_number) VALUES ('after', 'it''s@example.com', 'q\"', 7, 7, NULL, '5555')",
    );
    await r.dispatch();
    const records = await r.records();
    assertWellFormed(records);
    const [before, after] = upserts(records).map((rec) => rec.row);
    assert.deepStrictEqual(Object.keys(before).sort(), [
      "amount",
      "back\\slash",
      "customer email",
      "id",
      'it\'s "odd"',
      "item",
      "ordered_at",
    ]);
    assert.strictEqual(before["customer email"], "a@example.com");
    assert.strictEqual(before.amount, "12.50", "DECIMAL as its exact text");
    assert.strictEqual(before.ordered_at, "2026-11-23 01:02:03.456", "DATETIME as written");
    assert.strictEqual(after['it\'s "odd"'], 'q"');
    assert.strictEqual(after["back\\slash"], 7);
    assert.ok(!JSON.stringify(records).includes("4242"), "an excluded column never leaves");
    await assertDcMatchesSource(r.db.url, records, "order_data", ["card_number"]);

    const triggers = await triggersOf(r.sql);
    lines.length = 0;
    const again = await r.migrate({
      settings: { tables: [{ name: "order_data", excludeColumns: ["card_number", "gone"] }] },
      log: (line) => lines.push(line),
    });
    assert.deepStrictEqual(again.capture, [
      { table: "order_data", triggers: "unchanged", keyColumns: ["id"] },
    ]);
    assert.ok(!lines.some((l) => /capture|backfill/.test(l)), lines.join("\n"));
    assert.deepStrictEqual(await triggersOf(r.sql), triggers);
    assert.strictEqual(await r.count("relay_outbox", "op = 'UPSERT'"), 2, "no duplicates");
  });

  it("a column the storefront adds later is relayed without a migration", async () => {
    r = await relayDb("relay_columns_add");
    await r.sql.query("INSERT INTO order_data (item) VALUES ('before')");
    await r.dispatch();
    await r.sql.query("ALTER TABLE order_data ADD COLUMN coupon VARCHAR(20) NULL");
    await r.sql.query("INSERT INTO order_data (item, coupon) VALUES ('with coupon', 'XMAS')");
    await r.dispatch();
    const records = await r.records();
    assertWellFormed(records);
    const rows = upserts(records).map((rec) => rec.row);
    assert.deepStrictEqual(rows.at(-1), { id: 2, item: "with coupon", coupon: "XMAS" });
    assert.deepStrictEqual(
      records.filter((rec) => rec.op === "SCHEMA").length,
      2,
      "the install-time SCHEMA, then the new shape before its first row",
    );
  });

  it("keys with odd column names, composite and binary, never collide", async () => {
    r = await relayDb("relay_columns_keys", {
      migrate: false,
      schema: `CREATE TABLE \`odd$keys\` (
         \`we"ird key\` VARCHAR(10) NOT NULL,
         \`注文\` BINARY(4) NOT NULL,
         n BIGINT UNSIGNED NOT NULL,
         v TEXT NULL,
         PRIMARY KEY (\`we"ird key\`, \`注文\`, n)
       ) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci`,
    });
    await r.migrate({ settings: { tables: [{ name: "odd$keys", excludeColumns: [] }] } });
    const insert = (k: string, b: Buffer, n: string, v: string) =>
      r.sql.query("INSERT INTO `odd$keys` VALUES (?, ?, ?, ?)", [k, b, n, v]);
    await insert("000123", Buffer.from([0, 1, 2, 3]), "18446744073709551615", "a");
    await insert("0123", Buffer.from([0, 1, 2, 3]), "18446744073709551615", "b");
    await insert("0123", Buffer.from([0, 1, 2, 4]), "18446744073709551615", "c");
    await insert("0123", Buffer.from([0, 1, 2, 4]), "18446744073709551614", "d");
    await r.sql.query("UPDATE `odd$keys` SET v = 'B' WHERE `we\"ird key` = '0123' AND v = 'b'");
    await r.sql.query("DELETE FROM `odd$keys` WHERE v = 'c'");
    await r.dispatch();
    const records = await r.records();
    assertWellFormed(records);
    await assertDcMatchesSource(r.db.url, records, "odd$keys");
    const dc = dcRows(applyToDc(records), "odd$keys");
    assert.strictEqual(dc.size, 3);
    assert.deepStrictEqual(
      dc.get(
        canonicalKey({
          'we"ird key': "0123",
          注文: { $base64: "AAECAw==" },
          n: "18446744073709551615",
        }),
      )?.v,
      "B",
    );
  });

  it("follows the table list: a table dropped from it loses its triggers, one added back is re-verified", async () => {
    r = await relayDb("relay_columns_list", {
      schema: "CREATE TABLE extra (code CHAR(6) PRIMARY KEY, note VARCHAR(20))",
      tables: [
        { name: "order_data", excludeColumns: [] },
        { name: "extra", excludeColumns: [] },
      ],
    });
    const ours = async () =>
      (await triggersOf(r.sql)).filter((t) => CAPTURE_TRIGGER_PATTERN.test(t.split(":")[1]));
    assert.strictEqual((await ours()).length, 6);
    await r.sql.query("INSERT INTO extra VALUES ('000001', 'captured')");
    await r.migrate({ settings: { tables: [{ name: "order_data", excludeColumns: [] }] } });
    assert.deepStrictEqual(
      (await ours()).map((t) => t.split(":")[0]),
      ["order_data", "order_data", "order_data"],
    );
    await r.sql.query("INSERT INTO extra VALUES ('000002', 'not captured')"); // no trigger now
    await r.dispatch(); // the change captured while listed still goes out
    assert.deepStrictEqual(
      upserts(await r.records()).map((u) => [u.table, u.key]),
      [["extra", { code: "000001" }]],
    );
    const [[state]] = await r.sql.query<Rows>(
      "SELECT listed FROM relay_tables WHERE table_name = 'extra'",
    );
    assert.strictEqual(Number(state.listed), 0);
    // Listed again: what happened meanwhile is backfilled, verified.
    const result = await r.migrate({
      settings: {
        tables: [
          { name: "order_data", excludeColumns: [] },
          { name: "extra", excludeColumns: [] },
        ],
      },
    });
    assert.strictEqual(result.capture[1].backfilled, 1);
    await r.dispatch();
    await assertDcMatchesSource(r.db.url, await r.records(), "extra");
  });

  it("a table re-created by a storefront upgrade (capture triggers gone) is reported until db:migrate reinstalls capture", async () => {
    r = await relayDb("relay_columns_recreate");
    await r.sql.query("INSERT INTO order_data (item) VALUES ('before')");
    await r.dispatch();
    // A change still pending when the table is dropped: its row is gone, so it goes as a DELETE.
    await r.sql.query("INSERT INTO order_data (item) VALUES ('pending')");
    await r.sql.query("DROP TABLE order_data");
    await r.dispatch();
    assert.deepStrictEqual(
      (await r.records()).slice(-1).map((x) => [x.op, x.op !== "SCHEMA" && x.key]),
      [["DELETE", { id: 2 }]],
    );
    await r.sql.query(
      "CREATE TABLE order_data (id INT AUTO_INCREMENT PRIMARY KEY, item VARCHAR(50) NOT NULL, note TEXT)",
    );
    await r.sql.query("INSERT INTO order_data (item, note) VALUES ('unseen', 'x')"); // no trigger
    await r.sql.query("CALL relay_heartbeat()");
    const [[payload]] = await r.sql.query<Rows>(
      "SELECT payload FROM lambda_invocations WHERE payload LIKE '%heartbeat%' ORDER BY id DESC LIMIT 1",
    );
    assert.strictEqual(
      parseHeartbeat(JSON.parse(String(payload.payload))).heartbeat.backfillIncomplete,
      1,
    );
    const [[state]] = await r.sql.query<Rows>(
      "SELECT backfill_state, backfill_error FROM relay_tables WHERE table_name = 'order_data'",
    );
    assert.strictEqual(state.backfill_state, "incomplete");
    assert.match(String(state.backfill_error), /capture triggers missing .* run db:migrate/);
    const result = await r.migrate();
    assert.strictEqual(result.capture[0].triggers, "created");
    assert.strictEqual(result.capture[0].backfilled, 1);
    await drain(r);
    const records = await r.records();
    assertWellFormed(records);
    await assertDcMatchesSource(r.db.url, records, "order_data");
  });

  it("a primary key changed by an upgrade holds the table back (writes still work) until db:migrate re-keys capture", async () => {
    r = await relayDb("relay_columns_rekey");
    await r.sql.query("INSERT INTO order_data (item) VALUES ('one'), ('two')");
    await r.dispatch();
    await r.sql.query(
      "ALTER TABLE order_data ADD COLUMN shop INT NOT NULL DEFAULT 1, DROP PRIMARY KEY, ADD PRIMARY KEY (id, shop)",
    );
    await r.sql.query("INSERT INTO order_data (item, shop) VALUES ('three', 2)"); // still captured
    await r.sql.query("UPDATE order_data SET item = 'two!' WHERE id = 2");
    const sent = (await r.records()).length;
    await r.dispatch();
    assert.strictEqual((await r.records()).length, sent, "held back: nothing sent by the old key");
    const [[status]] = await r.sql.query<Rows>(
      "SELECT stale_tables, pending, last_error FROM relay_status",
    );
    assert.strictEqual(Number(status.stale_tables), 1);
    assert.strictEqual(Number(status.pending), 2);
    assert.match(
      String(status.last_error),
      /order_data held back: primary key of order_data is \["id", ?"shop"\], capture was installed for \["id"\]: run the migration/,
    );
    const result = await r.migrate();
    assert.deepStrictEqual(result.capture[0].keyColumns, ["id", "shop"]);
    assert.strictEqual(result.capture[0].triggers, "regenerated");
    assert.strictEqual(result.capture[0].backfilled, 3, "every row again, under its new key");
    await drain(r);
    const records = await r.records();
    const schemas = records.filter((x) => x.op === "SCHEMA");
    assert.deepStrictEqual(schemas.at(-1)!.op === "SCHEMA" && schemas.at(-1)!.schema.primaryKey, [
      "id",
      "shop",
    ]);
    await assertDcMatchesSource(r.db.url, records, "order_data");
  });

  it("refuses what it cannot capture, with one line naming the table and the fix, before changing anything", async () => {
    scratch = await createScratchDatabase("relay_columns_refuse");
    const admin = await (
      await import("mysql2/promise")
    ).createConnection({
      uri: scratch.url,
      multipleStatements: true,
    });
    try {
      await admin.query(`
        CREATE TABLE orders (id INT PRIMARY KEY, note TEXT);
        CREATE TABLE nokey (a INT, b INT);
        CREATE TABLE prefix (t TEXT NOT NULL, PRIMARY KEY (t(10)));
        CREATE TABLE floaty (f DOUBLE PRIMARY KEY);
        CREATE TABLE order_lines (id_order INT, line INT, PRIMARY KEY (id_order, line));
        CREATE VIEW orders_view AS SELECT * FROM orders;`);
      const cases: [unknown[], RegExp][] = [
        [
          [{ name: "ps_orders" }],
          /"ps_orders" is not a table in .* — create the storefront's schema first, or fix the name/,
        ],
        [[{ name: "nokey" }], /"nokey" has no primary key — .*ALTER TABLE nokey ADD PRIMARY KEY/],
        [
          [{ name: "prefix" }],
          /"prefix": primary-key column "t" is indexed by a prefix \(t\(10\)\)/,
        ],
        [[{ name: "floaty" }], /"floaty": primary-key column "f" is DOUBLE, an approximate number/],
        [[{ name: "orders_view" }], /"orders_view" is a view — list the base table/],
        [
          [{ name: "orders", excludeColumns: ["id"] }],
          /"orders": excludeColumns lists primary-key column "id" — key columns are always relayed/,
        ],
        [
          [
            { name: "orders" },
            { name: "order_lines", parent: { table: "orders", column: "order_id" } },
          ],
          /"order_lines": parent.column "order_id" is not a column of order_lines — name the column that holds the orders key/,
        ],
        [
          [
            { name: "order_lines" },
            { name: "orders", parent: { table: "order_lines", column: "id" } },
          ],
          /"orders": parent "order_lines" has a composite primary key \(id_order, line\)/,
        ],
      ];
      for (const [tables, message] of cases) {
        await assert.rejects(
          migrate({ url: scratch.url, settings: { ...SETTINGS, tables: tables as never } }),
          (error: unknown) => {
            assert.ok(error instanceof MigrationError, String(error));
            assert.match(error.message, /^order-relay:tables: /);
            assert.match(error.message, message);
            assert.doesNotMatch(error.message, /\n/);
            return true;
          },
        );
      }
      const [tables] = await admin.query<Rows>("SHOW TABLES LIKE 'relay%'");
      assert.deepStrictEqual(tables, [], "nothing created");
    } finally {
      await admin.end();
    }
  });

  it("never creates order_data outside local runs: a missing table is a clear error", async () => {
    scratch = await createScratchDatabase("relay_no_order_data");
    await assert.rejects(migrate({ url: scratch.url, settings: SETTINGS }), (error: Error) => {
      assert.match(
        error.message,
        /^order-relay:tables: "order_data" is not a table in .* create the storefront's schema first.*--create-order-data/,
      );
      return true;
    });
    const admin = await (await import("mysql2/promise")).createConnection({ uri: scratch.url });
    const [tables] = await admin.query("SHOW TABLES");
    await admin.end();
    assert.deepStrictEqual(tables, [], "nothing created");
  });
});
