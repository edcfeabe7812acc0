/**
 * Stage: the relay's scheduled events. The server's event scheduler runs them when it is ON;
 * otherwise (a shared server with event_scheduler OFF) the runner calls the procedures on the
 * same cadence. With a shortened retention the runner also calls `relay_purge()` every second:
 * the purge event's shortest schedule is one minute.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type mysql from "mysql2/promise";
import type { Cleanup } from "./cleanup";

export interface EventsOptions {
  readonly regionPools: Readonly<Record<string, mysql.Pool>>;
  /** The server's event scheduler is ON. */
  readonly eventsOn: boolean;
  /** Benchmarks: the seed design has no dispatch (its trigger calls lambda_async itself). */
  readonly seedDesign: boolean;
  /** The run shortened the retention: purge every second. */
  readonly shortRetention: boolean;
  readonly purgeIntervalMinutes: number;
  readonly log: (line: string) => void;
}

export function driveEvents(o: EventsOptions, cleanup: Cleanup): void {
  const pools = Object.values(o.regionPools);
  let driving = true;
  const drivers: Promise<void>[] = [];
  const drive = async (sql: string, everyMs: number) => {
    while (driving) {
      await Promise.all(pools.map((pool) => pool.query(sql).catch(() => undefined)));
      // Sleep in short steps so stopping never waits for a long (purge) interval.
      const until = Date.now() + everyMs;
      while (driving && Date.now() < until) await sleep(Math.min(100, until - Date.now()));
    }
  };
  if (!o.eventsOn && !o.seedDesign) drivers.push(drive("CALL relay_dispatch()", 1000));
  if (!o.eventsOn || o.shortRetention) {
    drivers.push(
      drive("CALL relay_purge()", o.shortRetention ? 1000 : o.purgeIntervalMinutes * 60_000),
    );
  }
  cleanup.defer(async () => {
    driving = false;
    await Promise.all(drivers);
  });
  o.log(
    o.eventsOn
      ? "dispatch/purge: MariaDB event scheduler (relay_dispatch_event every 1 s)"
      : "dispatch/purge: event_scheduler is OFF on this server — the runner calls relay_dispatch() every 1 s",
  );
}
