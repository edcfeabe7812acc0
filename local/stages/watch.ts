/**
 * Stage: watching the run. Snapshots of every hop (outbox, queues, DLQs, Lambda, the DC) four
 * times a second until every inserted order is at the DC (and, with a shortened retention,
 * purged), the faults are over and — with redrive on — the DLQs are empty; until nothing is left
 * anywhere that could still reach the DC; or until the timeout.
 * Once nothing but the DLQs holds undelivered orders, they are redriven.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { RelayConfig } from "../../config/schema";
import { redrive } from "../../ops/redrive";
import type { LoadGenerator } from "../loadGenerator";
import type { Databases } from "./databases";
import type { Arrivals, DcArrivals } from "./dc";
import type { FaultTimeline } from "./faults";
import type { Lambdas } from "./lambdas";
import type { LocalQueues } from "./queues";

export interface RegionProgress {
  readonly region: string;
  readonly inserted: number;
  readonly handedOff: number;
  readonly pendingOutbox: number;
  readonly queued: number;
  readonly dlq: number;
  readonly atDc: number;
  /** Age of the oldest order not yet at the DC, ms (0 when none). */
  readonly lagMs: number;
  readonly purged: number;
  /** Rows left in the first listed (root) table. */
  readonly rootRowsLeft: number;
  /** Outbox rows left, handed off or not: anything the region could still send. */
  readonly outboxLeft: number;
  /** lambda_async calls recorded but not yet taken by the local Lambda service. */
  readonly callsWaiting: number;
}

export interface Progress {
  readonly elapsedMs: number;
  readonly regions: readonly RegionProgress[];
  readonly aggregatorQueued: number;
  readonly aggregatorDlq: number;
  readonly lambdaInFlight: number;
  readonly faults: readonly string[];
}

export interface WatchOptions {
  readonly config: RelayConfig;
  readonly databases: Databases;
  readonly local: LocalQueues;
  readonly lambdas: Lambdas;
  readonly faults: FaultTimeline;
  readonly arrivals: DcArrivals;
  readonly load: LoadGenerator;
  /** When the run started (Date.now()). */
  readonly started: number;
  readonly timeoutMs: number;
  /** Redrive the DLQs once nothing else moves. */
  readonly redrive: boolean;
  /** The run shortened the retention: wait for the purge too. */
  readonly waitForPurge: boolean;
  readonly onProgress?: (progress: Progress) => void;
  readonly progressIntervalMs: number;
  /** Stop watching (an interrupted run): the last snapshot is returned as is. */
  readonly signal?: AbortSignal;
}

export interface Watched {
  /** The last snapshot. */
  readonly progress: Progress;
  /** Everything arrived before the timeout. */
  readonly completed: boolean;
  /**
   * The run ended before the timeout with orders missing, because nothing could reach the DC
   * any more: no outbox row, source row, recorded or running call, queued message or DLQ record
   * was left.
   */
  readonly settled: boolean;
  /** What the last snapshot saw at the DC. */
  readonly atDc: Arrivals;
  readonly redriven: { moved: number; reinvoked: number };
}

export async function watchRun(o: WatchOptions): Promise<Watched> {
  const { config, databases, local, lambdas, faults, load } = o;
  const { queues } = local;
  const regions = config.regions.map((r) => r.region);
  const elapsed = () => Date.now() - o.started;
  let lastAtDc: Arrivals = new Map();
  let redriven = { moved: 0, reinvoked: 0 };
  let quietSince = Date.now();

  const snapshot = async (): Promise<Progress> => {
    const atDc = (await o.arrivals.sinceLast()) ?? lastAtDc;
    lastAtDc = atDc;
    const perRegion: RegionProgress[] = [];
    for (const region of regions) {
      const orders = load.inserted.filter((order) => order.region === region);
      const delivered = atDc.get(region) ?? new Set<number>();
      let oldest = Number.POSITIVE_INFINITY;
      for (const order of orders)
        if (!delivered.has(order.rowId) && order.insertedAt < oldest) oldest = order.insertedAt;
      const state = (
        await databases.regionQuery(
          region,
          `SELECT total_handed_off, total_purged, (SELECT COUNT(*) FROM relay_outbox WHERE handed_off_at IS NULL) AS pending, (SELECT COUNT(*) FROM relay_outbox) AS outbox_left, (SELECT COUNT(*) FROM lambda_invocations) AS calls_waiting, (SELECT COUNT(*) FROM \`${config.tables[0]!.name}\`) AS root_left FROM relay_state WHERE id = 1`,
        )
      )?.[0];
      perRegion.push({
        region,
        inserted: orders.length,
        handedOff: Number(state?.total_handed_off ?? 0),
        pendingOutbox: Number(state?.pending ?? 0),
        queued: await local.depth(queues.regions[region]!.queue.url),
        dlq: await local.depth(queues.regions[region]!.dlq.url),
        atDc: orders.filter((order) => delivered.has(order.rowId)).length,
        lagMs: Number.isFinite(oldest) ? Date.now() - oldest : 0,
        purged: Number(state?.total_purged ?? 0),
        rootRowsLeft: Number(state?.root_left ?? 0),
        outboxLeft: Number(state?.outbox_left ?? 0),
        callsWaiting: Number(state?.calls_waiting ?? 0),
      });
    }
    return {
      elapsedMs: elapsed(),
      regions: perRegion,
      aggregatorQueued: await local.depth(queues.aggregator.queue.url),
      aggregatorDlq: await local.depth(queues.aggregator.dlq.url),
      lambdaInFlight: lambdas.notify.stats.inFlight,
      faults: [...faults.notes],
    };
  };

  const redriveAll = async () => {
    const add = (r: { moved: number; reinvoked: number }) => {
      redriven = { moved: redriven.moved + r.moved, reinvoked: redriven.reinvoked + r.reinvoked };
    };
    for (const region of regions) {
      add(
        await redrive({
          client: local.sqs.client(region),
          dlqUrl: queues.regions[region]!.dlq.url,
          targetUrl: queues.regions[region]!.queue.url,
        }),
      );
    }
    add(
      await redrive({
        client: local.aggregatorClient,
        dlqUrl: queues.aggregator.dlq.url,
        targetUrl: queues.aggregator.queue.url,
        fifo: config.aggregator.fifo,
      }),
    );
    faults.note(`redriven: ${redriven.moved} moved, ${redriven.reinvoked} re-invoked`);
  };

  let lastProgressAt = 0;
  // A first look, so the loop's first snapshot reads only what arrived since.
  await snapshot();
  let progress: Progress;
  let completed = false;
  let settled = false;
  let settledSince: number | undefined;
  let loadDone = false;
  void load.done.then(() => (loadDone = true));
  for (;;) {
    await sleep(250);
    progress = await snapshot();
    if (o.signal?.aborted) break;
    if (o.onProgress && Date.now() - lastProgressAt >= o.progressIntervalMs) {
      lastProgressAt = Date.now();
      o.onProgress(progress);
    }
    const inDlq = progress.aggregatorDlq + progress.regions.reduce((n, r) => n + r.dlq, 0);
    const allDelivered = progress.regions.every((r) => r.atDc === r.inserted);
    const purgeDone =
      !o.waitForPurge || progress.regions.every((r) => r.purged > 0 && r.rootRowsLeft === 0);
    // With redrive on, a DLQ must be empty too (a leftover on-failure record is re-invoked:
    // harmless, the aggregator's dedup and the DC's upsert absorb what was already delivered).
    const dlqClear = !o.redrive || inDlq === 0;
    if (loadDone && allDelivered && purgeDone && faults.over && dlqClear) {
      completed = true;
      break;
    }
    // Redrive once nothing but the DLQs holds undelivered orders.
    const busy =
      progress.lambdaInFlight > 0 ||
      progress.aggregatorQueued > 0 ||
      progress.regions.some((r) => r.pendingOutbox > 0 || r.queued > 0) ||
      faults.aggregatorDown ||
      !loadDone;
    // Nothing left anywhere that could still reach the DC (e.g. purged on hand-off, then the
    // batch vanished): waiting for the timeout would change nothing. Held for a second, so a
    // call between two snapshots is not missed.
    const nothingLeft =
      !busy &&
      faults.over &&
      inDlq === 0 &&
      progress.regions.every(
        (r) => r.outboxLeft === 0 && r.rootRowsLeft === 0 && r.callsWaiting === 0,
      );
    if (!nothingLeft) settledSince = undefined;
    else if (settledSince === undefined) settledSince = Date.now();
    else if (Date.now() - settledSince >= 1000) {
      settled = true;
      break;
    }
    if (busy || inDlq === 0) quietSince = Date.now();
    else if (o.redrive && Date.now() - quietSince > 1000) {
      await redriveAll();
      quietSince = Date.now();
    }
    if (elapsed() > o.timeoutMs) break;
  }
  return { progress, completed, settled, atDc: lastAtDc, redriven };
}
