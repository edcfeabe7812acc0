/**
 * Figure 1: INSERT throughput on `order_data` with the relay trigger vs the same table without it.
 * One private MariaDB, one database migrated like a region (sql/migrate.ts), a trigger-less copy
 * `order_plain` (same columns, same engine) next to it; interleaved rounds of autocommit
 * single-row INSERTs (the storefront's pattern) on one connection. The figure is the median of the
 * per-round ratios (robust against a noisy neighbour); absolute rates are printed for context.
 */
import mysql from "mysql2/promise";
import { migrate } from "../sql/migrate";
import type { PrivateMariaDb } from "../emulators/mariadb";
import { median, round } from "./util";

export interface TriggerFigure {
  readonly rounds: number;
  readonly perRound: number;
  readonly plainPerSecond: number;
  readonly triggerPerSecond: number;
  readonly ratios: number[];
  readonly medianRatio: number;
}

export async function triggerFigure(
  db: PrivateMariaDb,
  rounds: number,
  perRound: number,
): Promise<TriggerFigure> {
  const url = new URL(db.url);
  url.pathname = "/bench_trigger";
  await migrate({
    url: url.toString(),
    settings: {
      region: "ap-northeast-1",
      functionArn: "arn:aws:lambda:ap-northeast-1:123456789012:function:bench-notify",
      retentionHours: 24,
      dispatchBatchSize: 100,
      purgeIntervalMinutes: 5,
    },
    localLambda: true,
  });
  const conn = await mysql.createConnection({ uri: url.toString() });
  try {
    await conn.query("DROP TABLE IF EXISTS order_plain");
    await conn.query("CREATE TABLE order_plain LIKE order_data");
    // The dispatch event would read the outbox concurrently; keep the measurement to the INSERT.
    await conn.query("ALTER EVENT relay_dispatch_event DISABLE");
    const time = async (table: string) => {
      const start = process.hrtime.bigint();
      for (let i = 0; i < perRound; i++) {
        await conn.execute(`INSERT INTO ${table} (item) VALUES (?)`, [`bench ${i}`]);
      }
      return Number(process.hrtime.bigint() - start) / 1e6;
    };
    await time("order_plain"); // warm-up both
    await time("order_data");
    const ratios: number[] = [];
    let plainMs = 0;
    let triggerMs = 0;
    for (let r = 0; r < rounds; r++) {
      // Alternate which goes first so neither always runs on a warmer cache.
      const first = r % 2 === 0 ? "order_plain" : "order_data";
      const a = await time(first);
      const b = await time(first === "order_plain" ? "order_data" : "order_plain");
      const plain = first === "order_plain" ? a : b;
      const trig = first === "order_plain" ? b : a;
      plainMs += plain;
      triggerMs += trig;
      ratios.push(trig / plain);
    }
    return {
      rounds,
      perRound,
      plainPerSecond: round((rounds * perRound) / (plainMs / 1000), 0),
      triggerPerSecond: round((rounds * perRound) / (triggerMs / 1000), 0),
      ratios: ratios.map((x) => round(x, 3)),
      medianRatio: round(median(ratios), 3),
    };
  } finally {
    await conn.end();
  }
}
