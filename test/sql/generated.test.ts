/**
 * Generated storefront tables (fast-check): random primary keys (integer, BIGINT UNSIGNED,
 * character codes with leading zeros, binary, UUID, DATE/DATETIME/TIMESTAMP, DECIMAL; one to
 * three columns, odd names) and random columns (text in utf8mb4 and latin1, BLOB, JSON, BIT,
 * FLOAT/DOUBLE, DECIMAL(65,30), ENUM/SET, YEAR, TIME, TIMESTAMP, NULLs) under random inserts,
 * updates, deletes, rolled-back transactions and ALTER TABLE between writes, with hostile values.
 * Properties: no storefront write ever fails because of the relay (only the table's own
 * duplicate-key errors happen), and after dispatch the DC model — built only from validated
 * envelopes — holds exactly the table's rows, value for value (an independent TypeScript
 * encoding of what mysql2 reads), every row's changes in outboxId order, each row after a SCHEMA
 * of its shape.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import type mysql from "mysql2/promise";
import { assertDcMatchesSource, assertWellFormed, drain, relayDb, type RelayDb } from "./relay-db";

interface ColumnType {
  readonly sql: string;
  readonly value: fc.Arbitrary<unknown>;
}

const hostileText = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 12 }),
  fc.constantFrom(
    "",
    " ",
    "'",
    '"',
    "\\",
    "\\\\n",
    "\u0000",
    "\u0001\u001f",
    "😀👍🏽🇯🇵",
    "注文：日本語",
    "'); DROP TABLE t; --",
    '{"looks":"like json"}',
    "trailing ",
  ),
);
const latin1Text = fc.string({
  unit: fc.constantFrom(..."abcXYZ 019'\"\\éÄßçñ¿".split("")),
  maxLength: 10,
});
const pad = (n: number, width: number) => String(n).padStart(width, "0");
const date = fc
  .record({
    y: fc.integer({ min: 1000, max: 9999 }),
    m: fc.integer({ min: 1, max: 12 }),
    d: fc.integer({ min: 1, max: 28 }),
  })
  .map(({ y, m, d }) => `${y}-${pad(m, 2)}-${pad(d, 2)}`);
const time = fc
  .record({
    h: fc.integer({ min: 0, max: 23 }),
    m: fc.integer({ min: 0, max: 59 }),
    s: fc.integer({ min: 0, max: 59 }),
    f: fc.integer({ min: 0, max: 999 }),
  })
  .map(({ h, m, s, f }) => `${pad(h, 2)}:${pad(m, 2)}:${pad(s, 2)}.${pad(f, 3)}`);
/** TIMESTAMP range, written in the storefront session's zone (+09:00, no DST). */
const timestamp = fc
  .record({
    y: fc.integer({ min: 1971, max: 2037 }),
    m: fc.integer({ min: 1, max: 12 }),
    d: fc.integer({ min: 1, max: 28 }),
    t: time,
  })
  .map(({ y, m, d, t }) => `${y}-${pad(m, 2)}-${pad(d, 2)} ${t}`);

const KEY_TYPES: Record<string, ColumnType> = {
  int: { sql: "INT NOT NULL", value: fc.integer() },
  bigint_unsigned: {
    sql: "BIGINT UNSIGNED NOT NULL",
    value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String),
  },
  code: { sql: "CHAR(6) NOT NULL", value: fc.stringMatching(/^[0-9]{1,6}$/) },
  text_bin: {
    sql: "VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL",
    value: hostileText.filter((s) => [...s].length <= 20),
  },
  binary16: {
    sql: "BINARY(16) NOT NULL",
    value: fc.uint8Array({ maxLength: 16 }).map((b) => Buffer.from(b)),
  },
  uuid: { sql: "CHAR(36) CHARACTER SET ascii NOT NULL", value: fc.uuid() },
  date: { sql: "DATE NOT NULL", value: date },
  datetime3: {
    sql: "DATETIME(3) NOT NULL",
    value: fc.tuple(date, time).map(([d, t]) => `${d} ${t}`),
  },
  timestamp: { sql: "TIMESTAMP(3) NOT NULL", value: timestamp },
  decimal: {
    sql: "DECIMAL(12,3) NOT NULL",
    value: fc.integer({ min: -999999999, max: 999999999 }).map((n) => (n / 1000).toFixed(3)),
  },
};

const nullable = (a: fc.Arbitrary<unknown>) => fc.option(a, { nil: null, freq: 4 });
const VALUE_TYPES: Record<string, ColumnType> = {
  text: { sql: "TEXT NULL", value: nullable(hostileText) },
  latin1: { sql: "VARCHAR(20) CHARACTER SET latin1 NULL", value: nullable(latin1Text) },
  blob: {
    sql: "BLOB NULL",
    value: nullable(fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b))),
  },
  json: {
    sql: "JSON NULL",
    value: nullable(fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v))),
  },
  bit12: { sql: "BIT(12) NULL", value: nullable(fc.integer({ min: 0, max: 4095 })) },
  float: { sql: "FLOAT NULL", value: nullable(fc.constantFrom(0, 0.1, -1.5, 3.25, 1e10, 123.456)) },
  double: {
    sql: "DOUBLE NULL",
    value: nullable(fc.double({ noNaN: true, noDefaultInfinity: true })),
  },
  exact: {
    sql: "DECIMAL(65,30) NULL",
    value: nullable(
      fc
        .tuple(
          fc.bigInt({ min: -(10n ** 35n) + 1n, max: 10n ** 35n - 1n }),
          fc.bigInt({ min: 0n, max: 10n ** 30n - 1n }),
        )
        .map(([i, f]) => `${i}.${String(f).padStart(30, "0")}`),
    ),
  },
  bigint: {
    sql: "BIGINT NULL",
    value: nullable(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String)),
  },
  tiny: { sql: "TINYINT NULL", value: nullable(fc.integer({ min: -128, max: 127 })) },
  choice: { sql: "ENUM('a', 'b', '') NULL", value: nullable(fc.constantFrom("a", "b", "")) },
  flags: { sql: "SET('x', 'y') NULL", value: nullable(fc.constantFrom("", "x", "y", "x,y")) },
  year: { sql: "YEAR NULL", value: nullable(fc.integer({ min: 1901, max: 2155 })) },
  time2: { sql: "TIME(2) NULL", value: nullable(time.map((t) => t.slice(0, 11))) },
  ts6: { sql: "TIMESTAMP(6) NULL DEFAULT NULL", value: nullable(timestamp) },
  datetime: {
    sql: "DATETIME NULL",
    value: nullable(fc.tuple(date, time).map(([d, t]) => `${d} ${t.slice(0, 8)}`)),
  },
};

const NAMES = [
  "id",
  "a b",
  "it's",
  'q"uote',
  "we`ird",
  "日本",
  "back\\slash",
  "x",
  "y",
  "z",
  "k1",
  "k2",
];
const ident = (name: string) => `\`${name.replace(/`/g, "``")}\``;

interface Shape {
  keys: { name: string; type: string }[];
  values: { name: string; type: string }[];
}

const shape: fc.Arbitrary<Shape> = fc
  .tuple(
    fc.uniqueArray(fc.constantFrom(...NAMES), { minLength: 3, maxLength: 8 }),
    fc.array(fc.constantFrom(...Object.keys(KEY_TYPES)), { minLength: 3, maxLength: 3 }),
    fc.array(fc.constantFrom(...Object.keys(VALUE_TYPES)), { minLength: 5, maxLength: 5 }),
    fc.integer({ min: 1, max: 3 }),
  )
  .map(([names, keyTypes, valueTypes, keyCount]) => {
    const k = Math.min(keyCount, names.length - 1);
    return {
      keys: names.slice(0, k).map((name, i) => ({ name, type: keyTypes[i] })),
      values: names.slice(k, k + 5).map((name, i) => ({ name, type: valueTypes[i] })),
    };
  });

type Op =
  | { kind: "insert"; key: unknown[]; values: unknown[] }
  | { kind: "update"; pick: number; values: unknown[]; rollback: boolean }
  | { kind: "rekey"; pick: number; key: unknown[] }
  | { kind: "delete"; pick: number; rollback: boolean }
  | { kind: "alter"; which: number }
  | { kind: "dispatch" };

function ops(s: Shape): fc.Arbitrary<Op[]> {
  const key = fc.tuple(...s.keys.map((k) => KEY_TYPES[k.type].value));
  const values = fc.tuple(...s.values.map((v) => VALUE_TYPES[v.type].value));
  const pick = fc.nat();
  return fc.array(
    fc.oneof(
      { weight: 6, arbitrary: fc.record({ kind: fc.constant("insert" as const), key, values }) },
      {
        weight: 3,
        arbitrary: fc.record({
          kind: fc.constant("update" as const),
          pick,
          values,
          rollback: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
        }),
      },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("rekey" as const), pick, key }) },
      {
        weight: 2,
        arbitrary: fc.record({
          kind: fc.constant("delete" as const),
          pick,
          rollback: fc.boolean(),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({ kind: fc.constant("alter" as const), which: fc.nat({ max: 2 }) }),
      },
      { weight: 2, arbitrary: fc.constant({ kind: "dispatch" as const }) },
    ),
    { minLength: 8, maxLength: 30 },
  );
}

function bitValue(type: string, value: unknown): unknown {
  return type === "bit12" && typeof value === "number"
    ? Buffer.from([value >> 8, value & 0xff])
    : value;
}

describe("sql: generated tables, keys and values (fast-check, real MariaDB)", function () {
  this.timeout(120_000);
  let r: RelayDb;
  before(async () => {
    r = await relayDb("relay_generated");
  });
  after(async () => {
    await r?.close();
  });

  it("every change of any key shape and value reaches the DC exactly; the storefront's writes never fail", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        shape.chain((s) => fc.tuple(fc.constant(s), ops(s))),
        async ([s, operations]) => {
          const table = `gen_${run++}`;
          const columns = [
            ...s.keys.map((k) => `${ident(k.name)} ${KEY_TYPES[k.type].sql}`),
            ...s.values.map((v) => `${ident(v.name)} ${VALUE_TYPES[v.type].sql}`),
          ];
          await r.sql.query(
            `CREATE TABLE ${table} (${columns.join(", ")}, PRIMARY KEY (${s.keys.map((k) => ident(k.name)).join(", ")})) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci`,
          );
          await r.migrate({ settings: { tables: [{ name: table, excludeColumns: [] }] } });
          const store = await r.connect();
          await store.query("SET time_zone = '+09:00'");
          const keyWhere = s.keys.map((k) => `${ident(k.name)} = ?`).join(" AND ");
          /** Keys of the rows as the server holds them (read back, not assumed). */
          const liveKeys = async () =>
            (
              await store.query<mysql.RowDataPacket[]>(
                `SELECT ${s.keys.map((k) => ident(k.name)).join(", ")} FROM ${table} ORDER BY 1`,
              )
            )[0].map((row) => s.keys.map((k) => row[k.name]));
          let added = 0;
          const write = async (statement: () => Promise<unknown>) => {
            try {
              await statement();
            } catch (error) {
              // The table's own rules may refuse a generated row (a duplicate key); never the relay.
              assert.equal((error as { code?: string }).code, "ER_DUP_ENTRY", String(error));
            }
          };
          try {
            for (const op of operations) {
              const keys = await liveKeys();
              const target =
                "pick" in op && keys.length > 0 ? keys[op.pick % keys.length] : undefined;
              if (op.kind === "insert") {
                await write(() =>
                  store.query(
                    `INSERT INTO ${table} (${[...s.keys, ...s.values].map((c) => ident(c.name)).join(", ")}) VALUES (?)`,
                    [[...op.key, ...s.values.map((c, i) => bitValue(c.type, op.values[i]))]],
                  ),
                );
              } else if (op.kind === "update" && target) {
                const set = s.values.map((v) => `${ident(v.name)} = ?`).join(", ");
                if (op.rollback) await store.beginTransaction();
                await write(() =>
                  store.query(`UPDATE ${table} SET ${set} WHERE ${keyWhere}`, [
                    ...s.values.map((c, i) => bitValue(c.type, op.values[i])),
                    ...target,
                  ]),
                );
                if (op.rollback) await store.rollback();
              } else if (op.kind === "rekey" && target) {
                const set = s.keys.map((k) => `${ident(k.name)} = ?`).join(", ");
                await write(() =>
                  store.query(`UPDATE ${table} SET ${set} WHERE ${keyWhere}`, [
                    ...op.key,
                    ...target,
                  ]),
                );
              } else if (op.kind === "delete" && target) {
                if (op.rollback) await store.beginTransaction();
                await store.query(`DELETE FROM ${table} WHERE ${keyWhere}`, target);
                if (op.rollback) await store.rollback();
              } else if (op.kind === "alter") {
                // A storefront upgrade between writes: add, rename or drop a non-key column.
                const ddl = [
                  `ALTER TABLE ${table} ADD COLUMN \`added ${added++}\` VARCHAR(10) NULL DEFAULT NULL`,
                  `ALTER TABLE ${table} CHANGE COLUMN ${ident(s.values[0].name)} ${ident(`${s.values[0].name}_v${added}`)} ${VALUE_TYPES[s.values[0].type].sql}`,
                  `ALTER TABLE ${table} DROP COLUMN ${ident(s.values.at(-1)!.name)}`,
                ][op.which];
                await store.query(ddl);
                // The generator's bookkeeping follows the new shape.
                if (op.which === 1)
                  s.values[0] = { ...s.values[0], name: `${s.values[0].name}_v${added}` };
                if (op.which === 2) s.values.pop();
                if (s.values.length === 0) break;
              } else if (op.kind === "dispatch") {
                await r.dispatch();
              }
            }
            await drain(r);
            const records = (await r.records()).filter((x) => x.table === table);
            assertWellFormed(records);
            await assertDcMatchesSource(r.db.url, records, table);
          } finally {
            await store.end();
          }
        },
      ),
      { numRuns: 12, seed: Number(process.env.FC_SEED ?? 20261201), endOnFailure: true },
    );
  });
});
