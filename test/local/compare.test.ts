/**
 * npm start's row-by-row check (local/storefront.ts compareRows) on a stand-in DC pool: equal rows,
 * a changed column, a missing row, a tombstone for a deleted row, a live row where the source
 * deleted it, an extra row; DECIMAL trailing zeros, JSON key order, binary and TIMESTAMP values.
 */
import { strict as assert } from "assert";
import type mysql from "mysql2/promise";
import { compareRows, keyOf, type Expected, tablesOf, STACK_TABLES } from "../../local/storefront";

function fakePool(tables: Record<string, Record<string, unknown>[]>): mysql.Pool {
  return {
    async query(sql: string, values?: unknown[]) {
      if (sql.includes("information_schema"))
        return [tables[String(values?.[0])] ? [{ one: 1 }] : []];
      const name = /FROM `([^`]+)`/.exec(sql)![1]!;
      return [tables[name] ?? []];
    },
  } as unknown as mysql.Pool;
}

const placed = new Date("2026-12-01T10:00:00.123456Z");
const order = (ref: string, extra: Record<string, unknown> = {}) => ({
  order_ref: ref,
  status: "paid",
  total: "7.310000",
  payment_token: Buffer.from("00ff", "hex"),
  extra: '{"a": 1, "b": [1, 2]}',
  placed_at: placed,
  ...extra,
});
const live = { relay_region: "r1", relay_deleted_at: null, relay_outbox_id: 1 };

describe("npm start: DC mirror rows against the source, row by row", () => {
  const tables = tablesOf("storefront").filter((t) => t.name === "sf_orders");
  const expect = (entries: [string, Record<string, unknown> | null][]): Expected =>
    new Map(
      entries.map(([ref, row], i) => [
        `r1|sf_orders|${keyOf("sf_orders", { order_ref: ref })}`,
        { region: "r1", table: "sf_orders", key: String(i), order: i, row },
      ]),
    );

  it("the run's tables come in the stack config's order-relay:tables shape, parent included", () => {
    assert.deepEqual(
      tablesOf("storefront").map((t) => [t.name, t.parent?.table]),
      [
        ["sf_orders", undefined],
        ["sf_address", "sf_orders"],
      ],
    );
    assert.ok(Array.isArray(STACK_TABLES.seed["order-relay:tables"]));
  });

  it("equal rows, normalised values; a tombstone matches a deleted row", async () => {
    const pool = fakePool({
      sf_orders: [
        {
          ...live,
          ...order("a", { total: "7.31", extra: '{"b":[1,2],"a":1}' }),
        },
        { ...live, order_ref: "b", relay_deleted_at: new Date() },
      ],
    });
    const c = (await compareRows(
      pool,
      tables,
      expect([
        ["a", order("a")],
        ["b", null],
      ]),
    ))!;
    assert.deepEqual(
      [c.rowsCompared, c.rowsEqual, c.mismatchCount, c.missingAtDc, c.extraAtDc],
      [2, 2, 0, 0, 0],
    );
    assert.deepEqual([...c.ordersEqual.get("r1")!].sort(), [0, 1]);
  });

  it("reports a changed column, a missing row, a live row the source deleted and an extra row", async () => {
    const pool = fakePool({
      sf_orders: [
        { ...live, ...order("a", { status: "checkout" }) },
        { ...live, ...order("c") },
        { ...live, ...order("x") },
      ],
    });
    const c = (await compareRows(
      pool,
      tables,
      expect([
        ["a", order("a")],
        ["b", order("b")],
        ["c", null],
      ]),
    ))!;
    assert.equal(c.rowsCompared, 3);
    assert.equal(c.rowsEqual, 0);
    assert.equal(c.missingAtDc, 1);
    assert.equal(c.mismatchCount, 2);
    assert.equal(c.extraAtDc, 1);
    assert.deepEqual(
      c.mismatches.map((m) => [m.key, m.columns]),
      [
        ["0", ["status"]],
        ["2", ["(deleted)"]],
      ],
    );
    // No personal values in the report: the load's order numbers and column names only.
    assert.doesNotMatch(JSON.stringify(c.mismatches), /checkout|paid/);
  });
});
