/**
 * The storefront stand-in: places orders in each region, round-robin over the regions, at a fixed
 * rate. `seed`: an INSERT into `order_data` per order. `storefront` (local/storefront.ts): an order
 * and its two addresses in one transaction at checkout, then — concurrently with later orders —
 * status changes after checkout (paid, shipped, an address corrected) and, for every 7th order,
 * its deletion (addresses first). Each order has a unique reference, so a write whose outcome is
 * unknown (the server went away mid-commit) is resolved by looking the order up once the database
 * answers again: it is counted once, never written twice. After each write the generator re-reads
 * the order's rows: `expected` holds every source row's latest committed state.
 */
import { createHash } from "node:crypto";
import type mysql from "mysql2/promise";
import { keyOf, type Expected, type SchemaName } from "./storefront";

export interface InsertedOrder {
  readonly region: string;
  /** The order's number in the run (storefront) or its order_data id (seed). */
  readonly rowId: number;
  readonly item: string;
  readonly insertedAt: number;
}

export interface LoadGeneratorOptions {
  readonly regions: readonly { readonly region: string; readonly pool: mysql.Pool }[];
  /** Total orders (over all regions). */
  readonly orders: number;
  /** Orders per second (over all regions). */
  readonly rate: number;
  /** INSERTs outstanding at once (over all regions). @default 16 */
  readonly maxInFlight?: number;
  /** @default "seed" */
  readonly schema?: SchemaName;
}

export interface LoadGenerator {
  readonly inserted: InsertedOrder[];
  /** Every source row's latest committed state (null: deleted), by region|table|key. */
  readonly expected: Expected;
  /** Updates and deletes done after checkout. */
  readonly writes: () => { updates: number; deletes: number };
  /** Insert attempts that failed and were retried (database unavailable). */
  readonly retries: () => number;
  /** Orders per second actually inserted (first due time to last INSERT done). */
  readonly achievedRate: () => number;
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const uuidOf = (text: string): string => {
  const h = createHash("sha256").update(text).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
};

export function startLoadGenerator(options: LoadGeneratorOptions): LoadGenerator {
  const inserted: InsertedOrder[] = [];
  const expected: Expected = new Map();
  const schema = options.schema ?? "seed";
  let retries = 0;
  let updates = 0;
  let deletes = 0;
  let running = true;
  const started = Date.now();
  let finishedAt: number | undefined;
  const interval = 1000 / Math.max(options.rate, 0.001);

  /** Runs `work` until it succeeds (the database may be restarting); `done` checks an unknown outcome. */
  async function retrying<T>(
    work: () => Promise<T>,
    done?: () => Promise<T | undefined>,
  ): Promise<T> {
    for (;;) {
      try {
        return await work();
      } catch (error) {
        if (!running) throw error;
        retries++;
        await sleep(250);
        // The write may have committed before the connection broke: look it up first.
        if (done) {
          try {
            const result = await done();
            if (result !== undefined) return result;
          } catch {
            // still down: retry
          }
        }
      }
    }
  }

  async function insertSeed(pool: mysql.Pool, region: string, n: number): Promise<number> {
    const item = `o-${region}-${n}`;
    const find = async () => {
      const [rows] = await pool.query<mysql.RowDataPacket[]>(
        "SELECT id FROM order_data WHERE item = ?",
        [item],
      );
      return rows.length > 0 ? Number(rows[0]!.id) : undefined;
    };
    const id = await retrying(async () => {
      const [result] = await pool.query<mysql.ResultSetHeader>(
        "INSERT INTO order_data (item) VALUES (?)",
        [item],
      );
      return result.insertId;
    }, find);
    const row = { id, item };
    expected.set(`${region}|order_data|${keyOf("order_data", row)}`, {
      region,
      table: "order_data",
      key: String(id),
      order: id,
      row,
    });
    return id;
  }

  /**
   * Re-reads an order's rows (order and addresses) into `expected`. A row the load deleted is
   * expected as a tombstone; one gone otherwise was purged (not relayed): its last state stands.
   */
  async function track(
    pool: mysql.Pool,
    region: string,
    n: number,
    ref: string,
    deleted = false,
  ): Promise<void> {
    const [[orders], [addresses]] = await retrying(() =>
      Promise.all([
        pool.query<mysql.RowDataPacket[]>("SELECT * FROM sf_orders WHERE order_ref = ?", [ref]),
        pool.query<mysql.RowDataPacket[]>("SELECT * FROM sf_address WHERE order_ref = ?", [ref]),
      ]),
    );
    const put = (
      table: string,
      key: Record<string, unknown>,
      row: Record<string, unknown> | null,
    ) => {
      const id = `${region}|${table}|${keyOf(table, key)}`;
      if (row === null && !deleted && expected.has(id)) return;
      expected.set(id, {
        region,
        table,
        key: `${n}${table === "sf_address" ? `/${String(key.kind)}` : ""}`,
        order: n,
        row,
      });
    };
    put("sf_orders", { order_ref: ref }, orders[0] ? { ...orders[0] } : null);
    for (const kind of ["billing", "shipping"]) {
      const row = addresses.find((a) => a.kind === kind);
      put("sf_address", { order_ref: ref, kind }, row ? { ...row } : null);
    }
  }

  async function inTransaction(pool: mysql.Pool, statements: [string, unknown[]][]): Promise<void> {
    const c = await pool.getConnection();
    try {
      await c.beginTransaction();
      for (const [sql, values] of statements) await c.query(sql, values);
      await c.commit();
    } catch (error) {
      await c.rollback().catch(() => {});
      throw error;
    } finally {
      c.release();
    }
  }

  async function storefrontOrder(pool: mysql.Pool, region: string, n: number): Promise<number> {
    const ref = uuidOf(`${region}-${n}`);
    const exists = async () => {
      const [rows] = await pool.query<mysql.RowDataPacket[]>(
        "SELECT 1 FROM sf_orders WHERE order_ref = ?",
        [ref],
      );
      return rows.length > 0 ? n : undefined;
    };
    const token = createHash("md5").update(ref).digest();
    await retrying(async () => {
      await inTransaction(pool, [
        [
          "INSERT INTO sf_orders (order_ref, customer_email, total, currency, payment_token, extra, note) VALUES (?, ?, ?, ?, ?, ?, ?)",
          [
            ref,
            `customer${n}@example.test`,
            `${(n * 7.31 + 0.005).toFixed(6)}`,
            n % 3 === 0 ? "JPY" : "EUR",
            token,
            JSON.stringify({
              channel: n % 2 ? "web" : "app",
              items: (n % 5) + 1,
              gift: n % 4 === 0,
            }),
            n % 6 === 0 ? `Bitte klingeln — ドア ${n} "quoted" \\ back` : null,
          ],
        ],
        ...(["billing", "shipping"] as const).map((kind): [string, unknown[]] => [
          "INSERT INTO sf_address (order_ref, kind, firstname, lastname, street, city, postcode, country, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(3))",
          [
            ref,
            kind,
            `First${n}`,
            `Last${n}`,
            `${n} Main St`,
            "Zürich",
            n % 4 ? `${8000 + n}` : null,
            "CH",
          ],
        ]),
      ]);
      return n;
    }, exists);
    await track(pool, region, n, ref);
    // After checkout, concurrently with later orders: paid, then shipped or cancelled and deleted.
    const followUp = (async () => {
      await sleep(100 + (n % 5) * 60);
      if (!running) return;
      await retrying(() =>
        inTransaction(pool, [
          [
            "UPDATE sf_orders SET status = 'paid', total = total + 0.5, extra = JSON_SET(COALESCE(extra, '{}'), '$.paid', true) WHERE order_ref = ?",
            [ref],
          ],
        ]),
      );
      updates++;
      await track(pool, region, n, ref);
      await sleep(100 + (n % 3) * 80);
      if (!running) return;
      if (n % 7 === 3) {
        await retrying(() =>
          inTransaction(pool, [
            ["DELETE FROM sf_address WHERE order_ref = ?", [ref]],
            ["DELETE FROM sf_orders WHERE order_ref = ?", [ref]],
          ]),
        );
        deletes++;
        await track(pool, region, n, ref, true);
        return;
      } else {
        await retrying(() =>
          inTransaction(pool, [
            ["UPDATE sf_orders SET status = 'shipped' WHERE order_ref = ?", [ref]],
            [
              "UPDATE sf_address SET street = CONCAT(street, ' (corrected)') WHERE order_ref = ? AND kind = 'shipping'",
              [ref],
            ],
          ]),
        );
        updates++;
      }
      await track(pool, region, n, ref);
    })();
    followUps.add(followUp.catch(() => {}));
    return n;
  }
  const followUps = new Set<Promise<void>>();

  // Orders are issued on schedule, not one after the other: a slow INSERT (a busy server) must not
  // lower the offered rate. At most `maxInFlight` orders wait at once (a storefront's connection
  // pool); beyond that the generator falls behind schedule, which `achievedRate` shows.
  const maxInFlight = Math.max(1, options.maxInFlight ?? 16);
  const inFlight = new Set<Promise<void>>();
  let failed = false;
  const done = (async () => {
    for (let n = 0; n < options.orders && running && !failed; n++) {
      const due = started + n * interval;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
      if (!running || failed) break;
      const target = options.regions[n % options.regions.length]!;
      const p = (
        schema === "seed"
          ? insertSeed(target.pool, target.region, n)
          : storefrontOrder(target.pool, target.region, n)
      ).then(
        (rowId) => {
          inserted.push({
            region: target.region,
            rowId,
            item: `o-${target.region}-${n}`,
            insertedAt: Date.now(),
          });
        },
        () => {
          failed = true;
        },
      );
      const tracked = p.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
    }
    await Promise.all(inFlight);
    await Promise.all(followUps);
    finishedAt = Date.now();
  })();

  return {
    inserted,
    expected,
    writes: () => ({ updates, deletes }),
    retries: () => retries,
    achievedRate: () =>
      inserted.length / Math.max(((finishedAt ?? Date.now()) - started) / 1000, 0.001),
    done,
    async stop() {
      running = false;
      await done;
    },
  };
}
