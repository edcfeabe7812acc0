/**
 * Stage: the verdict. What reached the DC against what the load generator inserted: orders not
 * at the DC and where they are (outbox, Lambda, queues, DLQs), duplicates at the DC, latency,
 * throughput, SQS calls and Lambda invocations per order.
 *
 * An order not at the DC when the run ends (timed out or interrupted) is *pending* while the
 * relay still holds it — its row is still in the outbox (exact, by row id), or a Lambda event,
 * queue or DLQ holds as many messages (an upper bound: messages are not opened) — and *lost*
 * only when nothing in the relay can account for it.
 */
import type mysql from "mysql2/promise";
import type { RelayConfig } from "../../config/schema";
import type { LoadGenerator } from "../loadGenerator";
import type { Databases } from "./databases";
import type { DcArrivals } from "./dc";
import type { Acks } from "./acks";
import type { Lambdas } from "./lambdas";
import type { LocalQueues } from "./queues";
import type { Watched } from "./watch";
import { checkPurgeAudit } from "../purgeAudit";
import { mirrorLatencies } from "../storefront";

export interface Missing {
  readonly region: string;
  /** Orders of this region not at the DC. */
  readonly count: number;
  /** Of those, still in the outbox (not handed off yet): exact. */
  readonly inOutbox: number;
  /** Of those, possibly in transit (Lambda events, queues, DLQs hold at least as many messages). */
  readonly inTransit: number;
  /** The rest: nowhere in the relay. */
  readonly lost: number;
  readonly rowIds: readonly number[];
  /** Where the missing orders are (counts per place, from the databases and queue depths). */
  readonly where: Record<string, number>;
}

export interface RunSummary {
  /** Orders placed (storefront: an order and its addresses; seed: an order_data row). */
  readonly inserted: number;
  /** Orders whose every row is at the DC in its latest state (a deleted one as a tombstone). */
  readonly delivered: number;
  /** Mirror rows that share a (relay_region, key) with another: keys that collided at the DC. */
  readonly duplicatesAtDc: number;
  /** Source rows (latest state, tracked by the load generator) compared with the DC's mirror rows. */
  readonly rowsCompared: number;
  /** Of those, equal at the DC: every relayed column, or a tombstone for a deleted row. */
  readonly rowsEqual: number;
  /** Rows at both ends that differ (the first 10: table, region, order/kind, columns). */
  readonly mismatches: number;
  readonly firstMismatches: readonly {
    table: string;
    region: string;
    key: string;
    columns: string[];
  }[];
  /** Source rows with no mirror row at the DC. */
  readonly missingAtDc: number;
  /** Live mirror rows the source never had. */
  readonly extraAtDc: number;
  /** Rows compared and equal, per table. */
  readonly tables: Record<string, { compared: number; equal: number }>;
  /** Updates and deletes the load made after checkout. */
  readonly writes: { updates: number; deletes: number };
  /** Not at the DC but still in the relay (outbox, Lambda, queues, DLQs): a timed-out run's backlog. */
  readonly pending: number;
  /** Orders whose latest state is not at the DC and nowhere in the relay. */
  readonly lost: number;
  readonly latencyMs: { readonly p50: number; readonly p95: number; readonly p99: number };
  readonly ordersPerSecond: number;
  readonly sqsCallsPerOrder: number;
  /** notify, forwarder and ack invocations per order. */
  readonly lambdaInvocationsPerOrder: number;
  /** Root rows (orders) still in the regions at the end: 0 once a retention run purged them all. */
  readonly orderRowsLeft: number;
  /** Root rows (orders) the purge deleted from the regions. */
  readonly purged: number;
  /**
   * Of those, not at the DC in their latest state when they were purged (local/purgeAudit.ts):
   * must be 0.
   */
  readonly purgedBeforeDelivery: number;
  /** Outbox changes the DC acknowledged and the regions marked confirmed (relay_state.total_confirmed). */
  readonly confirmed: number;
  /** Changes handed off but not confirmed in time, dispatched again (relay_state.total_resent). */
  readonly resent: number;
  /**
   * At the end: latest changes handed off, not confirmed and older than the retention
   * (relay_status.unconfirmed_overdue) — kept past the privacy window because the DC may not have them.
   */
  readonly unconfirmedOverdue: number;
}

export interface RunReport {
  readonly summary: RunSummary;
  /** Every inserted order reached the DC (and was purged, with a shortened retention). */
  readonly completed: boolean;
  /**
   * Ended before the timeout with orders missing: nothing was left anywhere (outbox, source
   * rows, queues, DLQs, calls in flight) that could still bring them, so they are lost.
   */
  readonly settled: boolean;
  /** Stopped early by SIGINT/SIGTERM: the figures cover the run so far. */
  readonly interrupted: boolean;
  readonly durationMs: number;
  readonly missing: readonly Missing[];
  readonly details: {
    readonly stack: string;
    readonly regions: readonly string[];
    readonly eventsDrivenBy: "event_scheduler" | "runner";
    readonly notify: {
      invocations: number;
      failures: number;
      toOnFailure: number;
      /** Handed-off batches that vanished (`--drop-after-handoff-rate`) and their records. */
      dropped: number;
      droppedRecords: number;
    };
    /**
     * The acknowledgement path (purgeRequires: confirmed): ack Lambda invocations, SQS calls on
     * the ack queues (the DC's sends, the event source's receives and deletes), and both per order.
     */
    readonly acks?: {
      invocations: number;
      failures: number;
      sqsCalls: Record<string, number>;
      sqsCallsPerOrder: number;
      lambdaInvocationsPerOrder: number;
    };
    /** The first orders purged before the DC had them (`region key`), if any. */
    readonly purgedBeforeDeliveryExamples?: readonly string[];
    readonly forwarder: { invocations: number; failures: number };
    readonly sqsCalls: Record<string, number>;
    /** The harness's own SQS calls (queue set-up, progress monitoring): not in sqsCallsPerOrder. */
    readonly harnessSqsCalls: Record<string, number>;
    /** ReceiveMessage calls (in sqsCalls) that waited out their long poll empty: idle polls. */
    readonly idleReceives: number;
    /** Orders/s the load generator actually inserted. */
    readonly loadAchievedRate: number;
    /** First INSERT to last arrival at the DC (ms). */
    readonly deliverySpanMs: number;
    readonly redriven: { moved: number; reinvoked: number };
    readonly dlqAtEnd: Record<string, number>;
    readonly orderDataLeft: number;
    readonly insertRetries: number;
    readonly dbRestarted: boolean;
    /** Why the DC's tables could not be read at the end (its figures are then 0), if so. */
    readonly dcUnreadable?: string;
  };
}

export interface VerifyOptions {
  readonly config: RelayConfig;
  readonly databases: Databases;
  readonly local: LocalQueues;
  readonly lambdas: Lambdas;
  /** The ack path, when the stack purges on confirmation. */
  readonly acks?: Acks;
  readonly arrivals: DcArrivals;
  readonly load: LoadGenerator;
  readonly watched: Watched;
  /** When the run started (Date.now()) and how long it took until the watch ended. */
  readonly started: number;
  readonly durationMs: number;
  readonly dbRestarted: boolean;
  readonly interrupted?: boolean;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[index]!);
}

export async function verifyRun(o: VerifyOptions): Promise<RunReport> {
  const { config, databases, local, lambdas, load, started, durationMs } = o;
  const { progress, completed, settled, redriven } = o.watched;
  const { dcPool } = databases;
  const { queues, sqs } = local;
  const regions = config.regions.map((r) => r.region);

  // The DC's figures; a DC database that cannot be read (restarted, schema changed) leaves them
  // empty and says so, rather than losing the whole report (an interrupted run's above all).
  let dcUnreadable: string | undefined;
  const dcRows = async (sql: string): Promise<mysql.RowDataPacket[]> => {
    try {
      const [rows] = await dcPool.query<mysql.RowDataPacket[]>(sql);
      return rows;
    } catch (error) {
      dcUnreadable ??= ((error as Error).message ?? String(error)).split("\n")[0];
      return [];
    }
  };
  // Row by row: the mirror tables against the source rows' latest state.
  const comparison = await o.arrivals.compare();
  if (!comparison) await dcRows("SELECT 1 FROM relay_schemas LIMIT 1");
  const { ms: sorted, lastAppliedAt } = await mirrorLatencies(dcPool, config.tables);
  const atDc = comparison?.ordersEqual ?? o.watched.atDc;
  const inserted = load.inserted;
  const missing: Missing[] = [];
  for (const r of progress.regions) {
    const delivered = atDc.get(r.region) ?? new Set<number>();
    const rowIds = inserted
      .filter((order) => order.region === r.region && !delivered.has(order.rowId))
      .map((order) => order.rowId);
    if (rowIds.length === 0) continue;
    // Changes of the listed tables not handed off yet (an order has several rows and changes:
    // an upper bound of the orders still in the outbox).
    const pending = await databases.regionQuery(
      r.region,
      `SELECT COUNT(*) AS n FROM relay_outbox WHERE handed_off_at IS NULL AND op <> 'SCHEMA'`,
    );
    const where = {
      outboxNotHandedOff: Number(pending?.[0]?.n ?? 0),
      lambdaInFlightEvents: lambdas.notify.perRegion[r.region]?.inFlight ?? 0,
      regionalQueueMessages: r.queued,
      regionalDlqMessages: r.dlq,
      aggregatorQueueMessages: progress.aggregatorQueued,
      aggregatorDlqMessages: progress.aggregatorDlq,
    };
    const inOutbox = Math.min(rowIds.length, where.outboxNotHandedOff);
    const transitCapacity =
      where.lambdaInFlightEvents * config.dispatchBatchSize +
      where.regionalQueueMessages +
      where.regionalDlqMessages +
      where.aggregatorQueueMessages +
      where.aggregatorDlqMessages;
    const inTransit = Math.min(rowIds.length - inOutbox, transitCapacity);
    missing.push({
      region: r.region,
      count: rowIds.length,
      inOutbox,
      inTransit,
      lost: rowIds.length - inOutbox - inTransit,
      rowIds: rowIds.slice(0, 50),
      where,
    });
  }
  const delivered = inserted.filter((order) => atDc.get(order.region)?.has(order.rowId)).length;
  let orderDataLeft = 0;
  for (const region of regions) {
    const rows = await databases.regionQuery(
      region,
      `SELECT COUNT(*) AS n FROM \`${config.tables[0]!.name}\``,
    );
    orderDataLeft += Number(rows?.[0]?.n ?? 0);
  }
  // What the regions' relay_state and relay_status say at the end.
  let confirmed = 0;
  let resent = 0;
  let unconfirmedOverdue = 0;
  for (const region of regions) {
    const rows = await databases.regionQuery(
      region,
      "SELECT total_confirmed, total_resent, unconfirmed_overdue FROM relay_status",
    );
    confirmed += Number(rows?.[0]?.total_confirmed ?? 0);
    resent += Number(rows?.[0]?.total_resent ?? 0);
    unconfirmedOverdue += Number(rows?.[0]?.unconfirmed_overdue ?? 0);
  }
  const audit = await checkPurgeAudit({
    regionPools: databases.regionPools,
    dcPool,
    rootTable: config.tables[0]!.name,
  }).catch((error: unknown) => {
    dcUnreadable ??= ((error as Error).message ?? String(error)).split("\n")[0];
    return { purged: 0, purgedBeforeDelivery: 0, examples: [] as string[] };
  });
  const calls = sqs.calls();
  const totalCalls = Object.values(calls).reduce((a, b) => a + b, 0);
  const n = Math.max(inserted.length, 1);
  const dlqAtEnd: Record<string, number> = {};
  for (const region of regions)
    dlqAtEnd[queues.regions[region]!.dlq.name] = progress.regions.find(
      (r) => r.region === region,
    )!.dlq;
  dlqAtEnd[queues.aggregator.dlq.name] = progress.aggregatorDlq;
  const firstInsert = inserted.length
    ? Math.min(...inserted.map((order) => order.insertedAt))
    : started;
  const notifyStats = lambdas.notify.stats;
  const ackInvocations = o.acks?.stats.invocations ?? 0;
  let acks: RunReport["details"]["acks"];
  if (o.acks) {
    const byQueue = sqs.callsByQueue();
    const ackCalls: Record<string, number> = {};
    for (const name of o.acks.queueNames) {
      for (const [action, count] of Object.entries(byQueue[name] ?? {})) {
        // Queue depth reads are the harness's progress monitoring, not the system's.
        if (action === "GetQueueAttributes") continue;
        ackCalls[action] = (ackCalls[action] ?? 0) + count;
      }
    }
    const ackTotal = Object.values(ackCalls).reduce((a, b) => a + b, 0);
    acks = {
      invocations: ackInvocations,
      failures: o.acks.stats.failures,
      sqsCalls: ackCalls,
      sqsCallsPerOrder: Math.round((ackTotal / n) * 1000) / 1000,
      lambdaInvocationsPerOrder: Math.round((ackInvocations / n) * 1000) / 1000,
    };
  }
  const lost = missing.reduce((a, m) => a + m.lost, 0);
  const summary: RunSummary = {
    inserted: inserted.length,
    delivered,
    duplicatesAtDc: comparison?.duplicatesAtDc ?? 0,
    rowsCompared: comparison?.rowsCompared ?? load.expected.size,
    rowsEqual: comparison?.rowsEqual ?? 0,
    mismatches: comparison?.mismatchCount ?? 0,
    firstMismatches: comparison?.mismatches ?? [],
    missingAtDc: comparison?.missingAtDc ?? load.expected.size,
    extraAtDc: comparison?.extraAtDc ?? 0,
    tables: comparison?.perTable ?? {},
    writes: load.writes(),
    pending: inserted.length - delivered - lost,
    lost,
    latencyMs: {
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
    },
    ordersPerSecond:
      Math.round((delivered / Math.max((started + durationMs - firstInsert) / 1000, 0.001)) * 10) /
      10,
    sqsCallsPerOrder: Math.round((totalCalls / n) * 100) / 100,
    lambdaInvocationsPerOrder:
      Math.round(
        ((notifyStats.invocations + lambdas.forwarderStats.invocations + ackInvocations) / n) * 100,
      ) / 100,
    orderRowsLeft: orderDataLeft,
    purged: audit.purged,
    purgedBeforeDelivery: audit.purgedBeforeDelivery,
    confirmed,
    resent,
    unconfirmedOverdue,
  };
  return {
    summary,
    completed,
    settled,
    interrupted: o.interrupted ?? false,
    durationMs,
    missing,
    details: {
      stack: config.stack,
      regions,
      eventsDrivenBy: databases.eventsOn ? "event_scheduler" : "runner",
      notify: {
        invocations: notifyStats.invocations,
        failures: notifyStats.failures,
        toOnFailure: notifyStats.toOnFailure,
        dropped: notifyStats.dropped,
        droppedRecords: notifyStats.droppedRecords,
      },
      ...(acks ? { acks } : {}),
      ...(audit.examples.length > 0 ? { purgedBeforeDeliveryExamples: audit.examples } : {}),
      forwarder: lambdas.forwarderStats,
      sqsCalls: calls,
      harnessSqsCalls: sqs.harnessCalls(),
      idleReceives: sqs.emptyReceives(),
      loadAchievedRate: Math.round(load.achievedRate() * 10) / 10,
      deliverySpanMs: Math.max(0, Math.round(lastAppliedAt - firstInsert)),
      redriven,
      dlqAtEnd,
      orderDataLeft,
      insertRetries: load.retries(),
      dbRestarted: o.dbRestarted,
      ...(dcUnreadable !== undefined ? { dcUnreadable } : {}),
    },
  };
}
