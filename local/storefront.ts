/**
 * The local run's storefront schemas and the row-by-row check of the DC's mirror tables.
 *
 * `storefront` (the default): `sf_orders` keyed by a UUID (CHAR(36)), `sf_address` keyed by
 * (order_ref, kind) with a foreign key to its order (listed with `parent`, so the purge removes
 * addresses first), DECIMAL, TIMESTAMP(6), DATETIME(3), VARBINARY, JSON, ENUM, TEXT columns.
 * `seed`: the seed article's `order_data (id, item)`.
 *
 * The tables come in the stack config's shape (`order-relay:tables`) and are parsed by the same
 * schema the stack config uses. The load generator tracks each row's latest committed state (it
 * re-reads the row after each of its writes; a deleted row is expected as a tombstone), so the
 * comparison holds after the purge too (the purge's deletes are not relayed).
 */
import type mysql from "mysql2/promise";
import { relayTablesSchema, type RelayTable } from "../contract/databaseSettings";

export type SchemaName = "storefront" | "seed";
export const SCHEMA_NAMES: readonly SchemaName[] = ["storefront", "seed"];

export const STOREFRONT_SQL = `
CREATE TABLE IF NOT EXISTS sf_orders (
  order_ref CHAR(36) CHARACTER SET ascii NOT NULL,
  customer_email VARCHAR(255) NOT NULL,
  status ENUM('checkout', 'paid', 'shipped', 'cancelled') NOT NULL DEFAULT 'checkout',
  total DECIMAL(20,6) NOT NULL,
  currency CHAR(3) NOT NULL DEFAULT 'EUR',
  payment_token VARBINARY(16) NULL,
  extra JSON NULL,
  note TEXT NULL,
  placed_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  PRIMARY KEY (order_ref)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
CREATE TABLE IF NOT EXISTS sf_address (
  order_ref CHAR(36) CHARACTER SET ascii NOT NULL,
  kind ENUM('billing', 'shipping') NOT NULL,
  firstname VARCHAR(255) NOT NULL,
  lastname VARCHAR(255) NOT NULL,
  street VARCHAR(128) NOT NULL,
  city VARCHAR(64) NOT NULL,
  postcode VARCHAR(12) NULL,
  country CHAR(2) NOT NULL,
  created_at DATETIME(3) NOT NULL,
  PRIMARY KEY (order_ref, kind),
  CONSTRAINT sf_address_order FOREIGN KEY (order_ref) REFERENCES sf_orders (order_ref)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci`;

/** The run's `order-relay:tables`, as a stack file would hold them. */
export const STACK_TABLES: Record<SchemaName, { "order-relay:tables": unknown }> = {
  storefront: {
    "order-relay:tables": [
      { name: "sf_orders" },
      { name: "sf_address", parent: { table: "sf_orders", column: "order_ref" } },
    ],
  },
  seed: { "order-relay:tables": [{ name: "order_data" }] },
};

/** The tables of a schema, parsed like the stack config's `tables`. */
export function tablesOf(schema: SchemaName): RelayTable[] {
  return relayTablesSchema.parse(STACK_TABLES[schema]["order-relay:tables"]);
}

/** What the comparison needs of a listed table. */
export type ListedTable = { readonly name: string; readonly excludeColumns: readonly string[] };

export interface TableShape {
  readonly key: readonly string[];
  /** Columns whose text is JSON (compared parsed). */
  readonly json?: readonly string[];
}

export const SHAPES: Record<string, TableShape> = {
  sf_orders: { key: ["order_ref"], json: ["extra"] },
  sf_address: { key: ["order_ref", "kind"] },
  order_data: { key: ["id"] },
};

/** One source row's latest state as the generator last read it (null: deleted). */
export interface ExpectedRow {
  readonly region: string;
  readonly table: string;
  readonly key: string;
  /** The load generator's order number the row belongs to. */
  readonly order: number;
  readonly row: Record<string, unknown> | null;
}

/** Expected rows by `region|table|key`. */
export type Expected = Map<string, ExpectedRow>;

function stable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stable);
  if (value && typeof value === "object")
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, stable((value as Record<string, unknown>)[k])]),
    );
  return value;
}

/** A column value in a comparable form (the same from the source and the mirror). */
export function normalize(value: unknown, json: boolean): string {
  if (value === null || value === undefined) return "null";
  if (Buffer.isBuffer(value)) return `x${value.toString("hex")}`;
  if (value instanceof Date) return `t${value.toISOString()}`;
  if (json) {
    try {
      const parsed: unknown = typeof value === "string" ? JSON.parse(value) : value;
      return `j${JSON.stringify(stable(parsed))}`;
    } catch {
      return `s${String(value)}`;
    }
  }
  if (typeof value === "string" && /^-?\d+\.\d+$/.test(value))
    return `n${value.replace(/0+$/, "").replace(/\.$/, "")}`;
  if (typeof value === "number" || typeof value === "bigint") return `n${String(value)}`;
  return `s${String(value)}`;
}

export function keyOf(table: string, row: Record<string, unknown>): string {
  return JSON.stringify(SHAPES[table]!.key.map((k) => normalize(row[k], false)));
}

export interface RowComparison {
  readonly rowsCompared: number;
  readonly rowsEqual: number;
  /** Rows present at both ends with a different value (table, region, key, columns): first 10. */
  readonly mismatches: readonly {
    table: string;
    region: string;
    key: string;
    columns: string[];
  }[];
  readonly mismatchCount: number;
  readonly missingAtDc: number;
  readonly extraAtDc: number;
  /** Mirror rows whose (relay_region, key) compares equal to another's: keys that collided. */
  readonly duplicatesAtDc: number;
  readonly perTable: Record<string, { compared: number; equal: number }>;
  /** Order numbers whose every row is equal at the DC, per region. */
  readonly ordersEqual: Map<string, Set<number>>;
}

/** The DC's mirror tables against the expected source rows, row by row. */
export async function compareRows(
  dcPool: mysql.Pool,
  tables: readonly ListedTable[],
  expected: Expected,
): Promise<RowComparison | undefined> {
  const dcRows = new Map<string, Record<string, unknown>>();
  let duplicatesAtDc = 0;
  try {
    for (const t of tables) {
      const [exists] = await dcPool.query<mysql.RowDataPacket[]>(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?",
        [t.name],
      );
      if (exists.length === 0) continue;
      const [rows] = await dcPool.query<mysql.RowDataPacket[]>(`SELECT * FROM \`${t.name}\``);
      for (const row of rows) {
        const id = `${String(row.relay_region)}|${t.name}|${keyOf(t.name, row)}`;
        if (dcRows.has(id)) duplicatesAtDc++;
        dcRows.set(id, row);
      }
    }
  } catch {
    return undefined;
  }
  let rowsCompared = 0;
  let rowsEqual = 0;
  let missingAtDc = 0;
  let mismatchCount = 0;
  const mismatches: RowComparison["mismatches"][number][] = [];
  const perTable: RowComparison["perTable"] = {};
  const badOrders = new Map<string, Set<number>>();
  const allOrders = new Map<string, Set<number>>();
  const excluded = new Map(tables.map((t) => [t.name, new Set(t.excludeColumns)]));
  for (const [id, e] of expected) {
    rowsCompared++;
    const stats = (perTable[e.table] ??= { compared: 0, equal: 0 });
    stats.compared++;
    (allOrders.get(e.region) ?? allOrders.set(e.region, new Set()).get(e.region)!).add(e.order);
    const dc = dcRows.get(id);
    dcRows.delete(id);
    let equal: boolean;
    if (!dc) {
      missingAtDc++;
      equal = false;
    } else if (e.row === null) {
      equal = dc.relay_deleted_at !== null;
      if (!equal) {
        mismatchCount++;
        if (mismatches.length < 10)
          mismatches.push({ table: e.table, region: e.region, key: e.key, columns: ["(deleted)"] });
      }
    } else {
      const json = new Set(SHAPES[e.table]?.json ?? []);
      const columns = Object.keys(e.row).filter(
        (c) =>
          !excluded.get(e.table)?.has(c) &&
          normalize(e.row![c], json.has(c)) !== normalize(dc[c], json.has(c)),
      );
      if (dc.relay_deleted_at !== null) columns.push("(tombstone)");
      equal = columns.length === 0;
      if (!equal) {
        mismatchCount++;
        if (mismatches.length < 10)
          mismatches.push({ table: e.table, region: e.region, key: e.key, columns });
      }
    }
    if (equal) {
      rowsEqual++;
      stats.equal++;
    } else
      (badOrders.get(e.region) ?? badOrders.set(e.region, new Set()).get(e.region)!).add(e.order);
  }
  // Left at the DC: rows the source never had (tombstones of rows the load never saw don't count).
  let extraAtDc = 0;
  for (const row of dcRows.values()) if (row.relay_deleted_at === null) extraAtDc++;
  const ordersEqual = new Map<string, Set<number>>();
  for (const [region, orders] of allOrders) {
    const bad = badOrders.get(region);
    ordersEqual.set(region, new Set([...orders].filter((o) => !bad?.has(o))));
  }
  return {
    rowsCompared,
    rowsEqual,
    mismatches,
    mismatchCount,
    missingAtDc,
    extraAtDc,
    duplicatesAtDc,
    perTable,
    ordersEqual,
  };
}

/** Latency of the mirror rows: capture (relay_changed_at) to the DC's write (relay_applied_at). */
export async function mirrorLatencies(
  dcPool: mysql.Pool,
  tables: readonly ListedTable[],
): Promise<{ ms: number[]; lastAppliedAt: number }> {
  const ms: number[] = [];
  let lastAppliedAt = 0;
  for (const t of tables) {
    try {
      const [rows] = await dcPool.query<mysql.RowDataPacket[]>(
        `SELECT TIMESTAMPDIFF(MICROSECOND, relay_changed_at, relay_applied_at) / 1000 AS ms, UNIX_TIMESTAMP(relay_applied_at) * 1000 AS at FROM \`${t.name}\``,
      );
      for (const r of rows) {
        ms.push(Math.max(0, Number(r.ms)));
        lastAppliedAt = Math.max(lastAppliedAt, Number(r.at));
      }
    } catch {
      // no mirror table yet
    }
  }
  return { ms: ms.sort((a, b) => a - b), lastAppliedAt };
}
