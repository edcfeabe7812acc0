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
  /** INSERTs outstanding at once (over all regions). @default 16 */
  readonly maxInFlight?: number;
}

export interface LoadGenerator {
  readonly inserted: InsertedOrder[];
  /** Insert attempts that failed and were retried (database unavailable). */
  readonly retries: () => number;
  /** Orders per second actually inserted (first due time to last INSERT done). */
  readonly achievedRate: () => number;
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function startLoadGenerator(options: LoadGeneratorOptions): LoadGenerator {
  const inserted: InsertedOrder[] = [];
  let retries = 0;
  let running = true;
  const started = Date.now();
  let finishedAt: number | undefined;
  const interval = 1000 / Math.max(options.rate, 0.001);

  async function insertOne(pool: mysql.Pool, item: string): Promise<number> {
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
      }
    }
  }

  // Orders are issued on schedule, not one after the other: a slow INSERT (a busy server) must not
  // lower the offered rate. At most `maxInFlight` INSERTs wait at once (a storefront's connection
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
      const item = `o-${target.region}-${n}`;
      const p = insertOne(target.pool, item).then(
        (rowId) => {
          const order = { region: target.region, rowId, item, insertedAt: Date.now() };
          inserted.push(order);
        },
        () => {
          failed = true;
        },
      );
      const tracked = p.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
    }
    await Promise.all(inFlight);
    finishedAt = Date.now();
  })();

  return {
    inserted,
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
