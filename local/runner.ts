/**
 * The whole relay data path of a stack, on this machine, with the real code at every hop:
 * MariaDB (one database per region + `dc`, migrated by sql/migrate.ts with the local lambda_async
 * stand-in) → local Lambda service → real notify handler → local-aws-sqs regional queue → event
 * source stand-in → real forwarder → aggregator queue → real DC consumer → the DC's mirror tables (one per listed table).
 * A load generator plays the storefront; faults are injected at the named hops.
 *
 * `runRelay` starts the stages in local/stages/ in order — databases, queues, lambdas, dc,
 * events, faults, then the load — watches the run and verifies what arrived; everything a stage
 * started is stopped in reverse order when the run ends, however it ends (a signal included:
 * the stages' `Cleanup` is registered with cli/process.ts's `onShutdown`).
 *
 * With `signal` (the CLI passes cli/process.ts's `interrupted.signal`), an interrupted run stops
 * early: during set-up it throws `RunInterrupted` naming the stage, once the load runs it stops
 * the load and returns the report of what happened so far (`interrupted: true`).
 */
import { startLoadGenerator } from "./loadGenerator";
import { startAcks } from "./stages/acks";
import { Cleanup } from "./stages/cleanup";
import { startDatabases } from "./stages/databases";
import { dcArrivals, startDc } from "./stages/dc";
import { driveEvents } from "./stages/events";
import { dropDice, faultDice, startFaultTimeline } from "./stages/faults";
import { localNotifyArn, startLambdas } from "./stages/lambdas";
import { startQueues } from "./stages/queues";
import { verifyRun, type RunReport } from "./stages/verify";
import { watchRun, type Progress } from "./stages/watch";
import type { RelayConfig } from "../config/schema";
import { STOREFRONT_SQL, tablesOf, type SchemaName } from "./storefront";

export type { Missing, RunReport, RunSummary } from "./stages/verify";
export type { Progress, RegionProgress } from "./stages/watch";

export interface RunOptions {
  /** The stack's config; its `tables` are replaced by the schema's (local/storefront.ts). */
  readonly config: RelayConfig;
  /**
   * The storefront schema the load writes: `storefront` (orders, addresses; inserts, updates,
   * deletes) or `seed` (order_data inserts). @default "storefront" ("seed" with seedDesign)
   */
  readonly schema?: SchemaName;
  /** Total orders over all regions. */
  readonly orders: number;
  /** Orders per second over all regions. */
  readonly rate: number;
  /** Probability that a notify or forwarder invocation throws (0..1). */
  readonly failRate?: number;
  /** Seed of the fault dice (reproducible runs). */
  readonly seed?: number;
  /** Every lambda_async call fails for this long, starting `faultAtSeconds` into the run. */
  readonly lambdaOutageSeconds?: number;
  /** The aggregator queue rejects sends for this long, starting `faultAtSeconds` into the run. */
  readonly aggregatorOutageSeconds?: number;
  /** When outages start. @default 1 */
  readonly faultAtSeconds?: number;
  /** The MariaDB server is stopped and started this far into the run (own server only). */
  readonly restartDbAtSeconds?: number;
  /** Shortened retention: handed-off orders are purged after this many seconds. */
  readonly retentionSeconds?: number;
  /**
   * Probability that a handed-off batch vanishes (never invoked, no on-failure record), as when its
   * on-failure record expires in the DLQ: only the database's resend brings it to the DC.
   */
  readonly dropAfterHandoffRate?: number;
  /** The ack queues reject the DC's sends for this long, starting `faultAtSeconds` into the run. */
  readonly ackOutageSeconds?: number;
  /**
   * Shortened resend interval: a handed-off change the DC has not confirmed after this many
   * seconds is dispatched again (the stack's resendAfterMinutes would outlast the run). @default 10
   */
  readonly resendAfterSeconds?: number;
  /** How long the DC's acknowledged ids wait to share one message. @default 1 */
  readonly ackFlushSeconds?: number;
  /** Give up (and report what is missing where) after this long. */
  readonly timeoutSeconds?: number;
  /** Redrive the DLQs (real notify re-invocation for on-failure records) once nothing else moves. @default true */
  readonly redrive?: boolean;
  /** Use this server (mysql://user@host:port/) instead of starting a private MariaDB. */
  readonly mysqlUrl?: string;
  /** Visibility timeout of the local queues (the stack's are minutes long). @default 3 */
  readonly visibilityTimeoutSeconds?: number;
  /** Delays before Lambda's two async retries (AWS: ~1 and ~2 minutes). @default [1000, 2000] */
  readonly lambdaRetryDelaysMs?: readonly number[];
  /** Concurrent pollers per regional queue (Lambda's event source mapping scales pollers). @default 2 */
  readonly pollersPerQueue?: number;
  /** DC consumer instances reading the aggregator queue. @default 3 */
  readonly dcConsumers?: number;
  /**
   * Run each DC consumer as its own process (`dc/cli.ts`, as it runs in the DC) instead of inside
   * the runner: on a small machine it then gets its own share of CPU. @default false
   */
  readonly dcInProcesses?: boolean;
  /** Extra mariadbd arguments for the runner's own server (e.g. a flush policy). */
  readonly mariadbArgs?: readonly string[];
  /** INSERTs the load generator keeps outstanding. @default 16 */
  readonly loadInFlight?: number;
  /**
   * Benchmarks only: run the seed article's design through the same harness. `triggerSql`
   * (applied after the migration) makes the trigger call lambda_async once per row; the function
   * then sends one SendMessage per record straight to the aggregator queue (no regional queue, no
   * forwarder), and the DC consumer receives and deletes one message per call.
   */
  readonly seedDesign?: { readonly triggerSql: string };
  readonly onProgress?: (progress: Progress) => void;
  readonly progressIntervalMs?: number;
  readonly log?: (line: string) => void;
  /** Stops the run early (SIGINT/SIGTERM): a partial report, or `RunInterrupted` during set-up. */
  readonly signal?: AbortSignal;
}

/** The run was interrupted before the load started: nothing to report but where it stopped. */
export class RunInterrupted extends Error {
  constructor(readonly stage: string) {
    super(`interrupted while starting (${stage})`);
    this.name = "RunInterrupted";
  }
}

/** A local run resends what the DC has not confirmed after this long (see `resendAfterSeconds`). */
export const LOCAL_RESEND_AFTER_SECONDS = 10;

/**
 * How long a run may take before it gives up: twice the load, the outages and the retention, plus
 * 30 s; with dropped batches three resend intervals more (a resend may be dropped again).
 */
function timeoutMsOf(options: RunOptions): number {
  const loadSeconds = options.orders / Math.max(options.rate, 0.001);
  const resendSeconds = options.resendAfterSeconds ?? LOCAL_RESEND_AFTER_SECONDS;
  return (
    (options.timeoutSeconds ??
      Math.max(
        60,
        loadSeconds * 2 +
          (options.lambdaOutageSeconds ?? 0) +
          (options.aggregatorOutageSeconds ?? 0) +
          (options.ackOutageSeconds ?? 0) +
          (options.retentionSeconds ?? 0) +
          ((options.dropAfterHandoffRate ?? 0) > 0 ? 3 * resendSeconds : 0) +
          30,
      )) * 1000
  );
}

export async function runRelay(options: RunOptions): Promise<RunReport> {
  const log = options.log ?? (() => {});
  const seedDesign0 = options.seedDesign !== undefined;
  const schema: SchemaName = options.schema ?? (seedDesign0 ? "seed" : "storefront");
  // The run's order-relay:tables, parsed as the stack config parses them.
  const config: RelayConfig = { ...options.config, tables: tablesOf(schema) };
  const visibility = options.visibilityTimeoutSeconds ?? 3;
  const seedDesign = options.seedDesign !== undefined;
  const cleanup = new Cleanup();
  const started = Date.now();
  const checkpoint = (stage: string) => {
    if (options.signal?.aborted) throw new RunInterrupted(stage);
  };

  try {
    checkpoint("before the databases");
    const databases = await startDatabases(
      {
        config,
        functionArn: (region) => localNotifyArn(config, region),
        mysqlUrl: options.mysqlUrl,
        mariadbArgs: options.mariadbArgs,
        restartsServer: options.restartDbAtSeconds !== undefined,
        retentionSeconds: options.retentionSeconds,
        resendAfterSeconds: options.resendAfterSeconds ?? LOCAL_RESEND_AFTER_SECONDS,
        afterMigrationSql: options.seedDesign?.triggerSql,
        storefrontSql: schema === "storefront" ? STOREFRONT_SQL : undefined,
        log,
      },
      cleanup,
    );
    checkpoint("databases started");
    const local = await startQueues({ config, visibilitySeconds: visibility, log }, cleanup);
    const lambdas = startLambdas(
      {
        config,
        regionPools: databases.regionPools,
        local,
        dice: faultDice(options.failRate ?? 0, options.seed ?? 1),
        retryDelaysMs: options.lambdaRetryDelaysMs ?? [1000, 2000],
        pollersPerQueue: options.pollersPerQueue ?? 2,
        dropAfterHandoff: dropDice(options.dropAfterHandoffRate ?? 0, options.seed ?? 1),
        seedDesign,
      },
      cleanup,
    );
    checkpoint("queues and Lambdas started");
    // The DC acknowledges to the regions; their databases purge only what it confirmed.
    const acks = seedDesign
      ? undefined
      : await startAcks({ config, regionPools: databases.regionPools, local, log }, cleanup);
    await startDc(
      {
        local,
        ackQueueUrls: acks?.queueUrls,
        ackFlushSeconds: options.ackFlushSeconds,
        region: config.aggregator.region,
        dcPool: databases.dcPool,
        dcUrl: databases.dcUrl,
        count: options.dcConsumers ?? 3,
        inProcesses: options.dcInProcesses ?? false,
        visibilitySeconds: Math.max(visibility, 5),
        maxMessages: seedDesign ? 1 : undefined,
      },
      cleanup,
    );
    checkpoint("DC consumers started");
    driveEvents(
      {
        regionPools: databases.regionPools,
        eventsOn: databases.eventsOn,
        seedDesign,
        shortRetention: options.retentionSeconds !== undefined,
        purgeIntervalMinutes: config.purgeIntervalMinutes,
        log,
      },
      cleanup,
    );
    const faults = startFaultTimeline(
      {
        sqs: local.sqs,
        aggregatorQueueName: local.queues.aggregator.queue.name,
        ackQueueNames: acks?.queueNames,
        regionPools: databases.regionPools,
        server: databases.server,
        faultAtMs: (options.faultAtSeconds ?? 1) * 1000,
        lambdaOutageSeconds: options.lambdaOutageSeconds,
        aggregatorOutageSeconds: options.aggregatorOutageSeconds,
        ackOutageSeconds: options.ackOutageSeconds,
        restartDbAtSeconds: options.restartDbAtSeconds,
      },
      cleanup,
    );
    const load = startLoadGenerator({
      regions: config.regions.map(({ region }) => ({
        region,
        pool: databases.regionPools[region]!,
      })),
      orders: options.orders,
      rate: options.rate,
      maxInFlight: options.loadInFlight,
      schema,
    });
    cleanup.defer(() => load.stop());

    const arrivals = dcArrivals(databases.dcPool, config.tables, load.expected);
    const watched = await watchRun({
      config,
      databases,
      local,
      lambdas,
      faults,
      arrivals,
      load,
      started,
      timeoutMs: timeoutMsOf(options),
      redrive: options.redrive ?? true,
      waitForPurge: options.retentionSeconds !== undefined,
      onProgress: options.onProgress,
      progressIntervalMs: options.progressIntervalMs ?? 500,
      signal: options.signal,
    });
    await faults.settled();
    await load.stop();
    const durationMs = Date.now() - started;
    options.onProgress?.(watched.progress);

    return await verifyRun({
      config,
      databases,
      local,
      lambdas,
      acks,
      arrivals,
      load,
      watched,
      started,
      durationMs,
      dbRestarted: faults.dbRestarted,
      interrupted: options.signal?.aborted ?? false,
    });
  } finally {
    await cleanup.run();
  }
}
