/**
 * The storefront stand-in: INSERTs orders into each region's `order_data`, round-robin over the
 * regions, at a fixed rate. Each order has a unique item (`o-<region>-<n>`), so an insert whose
 * outcome is unknown (the server went away mid-commit) is resolved by looking the item up once the
 * database answers again: it is counted once, never inserted twice.
 */
import type mysql from "mysql2/promise";

export interface InsertedOrder {
  readonly region: string;
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
  readonly onInserted?: (order: InsertedOrder) => void;
}

export interface LoadGenerator {
  readonly inserted: InsertedOrder[];
  /** Insert attempts that failed and were retried (database unavailable). */
  readonly retries: () => number;
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function startLoadGenerator(options: LoadGeneratorOptions): LoadGenerator {
  const inserted: InsertedOrder[] = [];
  let retries = 0;
  let running = true;
  const started = Date.now();
  const interval = 1000 / Math.max(options.rate, 0.001);

  async function insertOne(pool: mysql.Pool, region: string, item: string): Promise<number> {
    for (;;) {
      try {
        const [result] = await pool.query<mysql.ResultSetHeader>(
          "INSERT INTO order_data (item) VALUES (?)",
          [item],
        );
        return result.insertId;
      } catch (error) {
        if (!running) throw error;
        retries++;
        await sleep(250);
        // The INSERT may have committed before the connection broke: look it up first.
        try {
          const [rows] = await pool.query<mysql.RowDataPacket[]>(
            "SELECT id FROM order_data WHERE item = ?",
            [item],
          );
          if (rows.length > 0) return Number(rows[0]!.id);
        } catch {
          // still down: retry
        }
        void region;
      }
    }
  }

  const done = (async () => {
    for (let n = 0; n < options.orders && running; n++) {
      const due = started + n * interval;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      if (!running) break;
      const target = options.regions[n % options.regions.length]!;
      const item = `o-${target.region}-${n}`;
      try {
        const rowId = await insertOne(target.pool, target.region, item);
        const order = { region: target.region, rowId, item, insertedAt: Date.now() };
        inserted.push(order);
        options.onInserted?.(order);
      } catch {
        break;
      }
    }
  })();

  return {
    inserted,
    retries: () => retries,
    done,
    async stop() {
      running = false;
      await done;
    },
  };
}
