/**
 * The whole relay data path of a stack, on this machine, with the real code at every hop:
 * MariaDB (one database per region + `dc`, migrated by sql/migrate.ts with the local lambda_async
 * stand-in) → local Lambda service → real notify handler → local-aws-sqs regional queue → event
 * source stand-in → real forwarder → aggregator queue → real DC consumer → `dc.relay_rows`.
 * A load generator plays the storefront; faults are injected at the named hops.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { GetQueueAttributesCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import mysql from "mysql2/promise";
import { queueSpecs } from "../config/names";
import type { RelayConfig } from "../config/schema";
import { startDcConsumer } from "../dc/consumer";
import { ensureDcSchema } from "../dc/consumer";
import { createForwarderHandler } from "../lambda/forwarder";
import { createNotifyHandler } from "../lambda/notify";
import { isHeartbeat, parseEnvelope, toRelayMessage } from "../contract/envelope";
import { relayEntry } from "../lambda/lib/relay";
import type { SqsEvent } from "../lambda/lib/sqs-event";
import { migrate } from "../sql/migrate";
import { startPrivateMariaDb, type PrivateMariaDb } from "../emulators/mariadb";
import {
  createQueuesFromSpecs,
  startEventSource,
  startLocalSqs,
  type FaultHook,
} from "../emulators/sqs";
import { redrive } from "../ops/redrive";
import { startLambdaService } from "./lambdaService";
import { startLoadGenerator, type InsertedOrder } from "./loadGenerator";

export interface RunOptions {
  readonly config: RelayConfig;
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
}

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
}

export interface Progress {
  readonly elapsedMs: number;
  readonly regions: readonly RegionProgress[];
  readonly aggregatorQueued: number;
  readonly aggregatorDlq: number;
  readonly lambdaInFlight: number;
  readonly faults: readonly string[];
}

export interface Missing {
  readonly region: string;
  readonly count: number;
  readonly rowIds: readonly number[];
  /** Where the missing orders are (counts per place, from the databases and queue depths). */
  readonly where: Record<string, number>;
}

export interface RunSummary {
  readonly inserted: number;
  readonly delivered: number;
  readonly duplicatesAtDc: number;
  readonly lost: number;
  readonly latencyMs: { readonly p50: number; readonly p95: number; readonly p99: number };
  readonly ordersPerSecond: number;
  readonly sqsCallsPerOrder: number;
  readonly lambdaInvocationsPerOrder: number;
  readonly purged: number;
}

export interface RunReport {
  readonly summary: RunSummary;
  readonly completed: boolean;
  readonly durationMs: number;
  readonly missing: readonly Missing[];
  readonly details: {
    readonly stack: string;
    readonly regions: readonly string[];
    readonly eventsDrivenBy: "event_scheduler" | "runner";
    readonly notify: { invocations: number; failures: number; toOnFailure: number };
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
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** mulberry32: a small seeded PRNG so fault runs are reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[index]!);
}

function urlWithDatabase(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

function makePool(url: string): mysql.Pool {
  const pool = mysql.createPool({ uri: url, connectionLimit: 8, timezone: "Z" });
  // DATETIME defaults (the DC's received_at) in UTC, like the trigger's occurred_at.
  (
    pool as unknown as {
      pool: { on(e: string, f: (c: { query(sql: string): void }) => void): void };
    }
  ).pool.on("connection", (connection) => connection.query("SET time_zone = '+00:00'"));
  return pool;
}

/** The account id in the local function ARNs (AWS's documentation example account). */
const LOCAL_ACCOUNT = "123456789012";

const silentLogger = (service: string) => new Logger({ serviceName: service, logLevel: "SILENT" });
function silentMetrics(service: string): Metrics {
  const previous = process.env.POWERTOOLS_METRICS_DISABLED;
  process.env.POWERTOOLS_METRICS_DISABLED = "true";
  try {
    return new Metrics({ namespace: "OrderRelay", serviceName: service });
  } finally {
    if (previous === undefined) delete process.env.POWERTOOLS_METRICS_DISABLED;
    else process.env.POWERTOOLS_METRICS_DISABLED = previous;
  }
}

/** DC consumers as child processes running `dc/cli.ts` against the local SQS endpoint. */
function startDcProcesses(o: {
  count: number;
  endpoint: string;
  region: string;
  queueUrl: string;
  mysqlUrl: string;
  visibilitySeconds: number;
  maxMessages: number;
}): { stop(): Promise<void> } {
  // tsx's loader in the consumer's own node process (no tsx CLI wrapper process in between).
  const tsxLoader = pathToFileURL(
    path.join(__dirname, "..", "node_modules", "tsx", "dist", "loader.mjs"),
  ).href;
  const cli = path.join(__dirname, "..", "dc", "cli.ts");
  const children: ChildProcess[] = [];
  for (let i = 0; i < o.count; i++) {
    children.push(
      spawn(
        process.execPath,
        [
          "--import",
          tsxLoader,
          cli,
          "--queue-url",
          o.queueUrl,
          "--mysql-url",
          o.mysqlUrl,
          "--region",
          o.region,
          "--wait-seconds",
          "1",
          "--visibility-seconds",
          String(o.visibilitySeconds),
          "--max-messages",
          String(o.maxMessages),
          "--skip-schema",
        ],
        {
          stdio: "ignore",
          env: {
            ...process.env,
            AWS_ENDPOINT_URL_SQS: o.endpoint,
            AWS_ACCESS_KEY_ID: "local",
            AWS_SECRET_ACCESS_KEY: "local",
            AWS_REGION: o.region,
            POWERTOOLS_LOG_LEVEL: "ERROR",
            TZ: "UTC",
          },
        },
      ),
    );
  }
  return {
    stop: () =>
      Promise.all(
        children.map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              const kill = setTimeout(() => child.kill("SIGKILL"), 10_000);
              child.once("exit", () => {
                clearTimeout(kill);
                resolve();
              });
              child.kill("SIGTERM");
            }),
        ),
      ).then(() => undefined),
  };
}

/**
 * The seed article's Lambda (benchmarks only): one SendMessage per record, straight to the one
 * queue the DC reads (here the aggregator queue, with the relay's FIFO ids so dedup still holds).
 */
function seedNotify(
  client: import("@aws-sdk/client-sqs").SQSClient,
  queueUrl: string,
  fifo: boolean,
): (payload: unknown) => Promise<unknown> {
  return async (payload: unknown) => {
    // The seed had no heartbeat; the relay's is not an order.
    if (isHeartbeat(payload)) return { enqueued: 0 };
    const envelope = parseEnvelope(payload);
    for (const record of envelope.records) {
      const entry = relayEntry(toRelayMessage(envelope.region, record), { fifo });
      await client.send(new SendMessageCommand({ QueueUrl: queueUrl, ...entry }));
    }
    return { enqueued: envelope.records.length };
  };
}

export class InjectedFault extends Error {
  constructor(where: string) {
    super(`injected fault (${where})`);
    this.name = "InjectedFault";
  }
}

export async function runRelay(options: RunOptions): Promise<RunReport> {
  const log = options.log ?? (() => {});
  const { config } = options;
  const regions = config.regions.map((r) => r.region);
  const random = seededRandom(options.seed ?? 1);
  const failRate = options.failRate ?? 0;
  const faultAt = (options.faultAtSeconds ?? 1) * 1000;
  const visibility = options.visibilityTimeoutSeconds ?? 3;
  const cleanup: (() => Promise<unknown>)[] = [];
  const faults: string[] = [];
  const started = Date.now();
  const elapsed = () => Date.now() - started;

  try {
    // 1. One database server.
    let db: PrivateMariaDb | undefined;
    let serverUrl = options.mysqlUrl;
    if (!serverUrl) {
      log("starting a private MariaDB (event_scheduler=ON)…");
      db = await startPrivateMariaDb({
        eventScheduler: true,
        extraArgs: [...(options.mariadbArgs ?? [])],
      });
      const ownDb = db;
      cleanup.push(() => ownDb.stop());
      serverUrl = db.url;
    } else if (options.restartDbAtSeconds !== undefined) {
      throw new Error(
        "--restart-db-at-seconds needs the runner's own MariaDB (do not pass a server URL)",
      );
    }
    const admin = await mysql.createConnection({ uri: urlWithDatabase(serverUrl, "") });
    const [schedulerRows] = await admin.query<mysql.RowDataPacket[]>(
      "SELECT @@global.event_scheduler AS s",
    );
    await admin.end();
    const eventsOn = String(schedulerRows[0]?.s).toUpperCase() === "ON";

    // Database names: plain on our own server, unique on a shared one (tests).
    const prefix = db ? "" : `run${randomBytes(3).toString("hex")}_`;
    const dbName = (region: string) => `${prefix}relay_${region.replace(/-/g, "_")}`;
    const dcName = `${prefix}dc`;

    // 2. Migrate every region with the local lambda_async stand-in.
    const retentionHours =
      options.retentionSeconds !== undefined
        ? options.retentionSeconds / 3600
        : config.retentionHours;
    const regionPools: Record<string, mysql.Pool> = {};
    const functionArn = (region: string) =>
      `arn:aws:lambda:${region}:${LOCAL_ACCOUNT}:function:${config.namePrefix}-${region}-notify`.slice(
        0,
        200,
      );
    for (const region of regions) {
      await migrate({
        url: urlWithDatabase(serverUrl, dbName(region)),
        region,
        functionArn: functionArn(region),
        retentionHours,
        batchSize: config.dispatchBatchSize,
        purgeIntervalMinutes: config.purgeIntervalMinutes,
        localLambda: true,
      });
      if (options.seedDesign) {
        const c = await mysql.createConnection({
          uri: urlWithDatabase(serverUrl, dbName(region)),
          multipleStatements: true,
        });
        try {
          await c.query(options.seedDesign.triggerSql);
        } finally {
          await c.end();
        }
      }
      const pool = makePool(urlWithDatabase(serverUrl, dbName(region)));
      regionPools[region] = pool;
      cleanup.push(() => pool.end());
    }
    const dcAdmin = await mysql.createConnection({ uri: urlWithDatabase(serverUrl, "") });
    await dcAdmin.query(`CREATE DATABASE IF NOT EXISTS \`${dcName}\` CHARACTER SET utf8mb4`);
    await dcAdmin.end();
    const dcPool = makePool(urlWithDatabase(serverUrl, dcName));
    cleanup.push(() => dcPool.end());
    await ensureDcSchema(dcPool);
    if (!db) {
      const shared = serverUrl;
      cleanup.push(async () => {
        const c = await mysql.createConnection({ uri: urlWithDatabase(shared, "") });
        for (const name of [...regions.map(dbName), dcName])
          await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
        await c.end();
      });
    }
    log(`databases: ${[...regions.map(dbName), dcName].join(", ")} (migrated)`);

    // 3. SQS: the stack's queues, with a short local visibility timeout.
    const sqs = await startLocalSqs({
      region: config.aggregator.region,
      emulateFifoDedupWindow: true,
    });
    cleanup.push(() => sqs.close());
    const specs = queueSpecs(config);
    const admin2 = sqs.client(config.aggregator.region, { harness: true });
    const queues = await createQueuesFromSpecs(admin2, specs, (spec) =>
      spec.redrive ? { VisibilityTimeout: String(visibility) } : undefined,
    );
    log(
      `queues: ${[...Object.values(queues.regions).flatMap((q) => [q.queue.name, q.dlq.name]), queues.aggregator.queue.name, queues.aggregator.dlq.name].join(", ")}`,
    );

    let aggregatorDown = false;
    const faultHook: FaultHook = (request) =>
      aggregatorDown &&
      request.queueName === queues.aggregator.queue.name &&
      request.action.startsWith("SendMessage")
        ? {
            kind: "error",
            status: 500,
            code: "InternalError",
            message: "aggregator outage (injected)",
          }
        : undefined;
    sqs.setFault(faultHook);

    // 4. Lambda: the real notify behind the local async-invocation service.
    const lambda = startLambdaService({
      retryDelaysMs: options.lambdaRetryDelaysMs ?? [1000, 2000],
      regions: regions.map((region) => {
        const client = sqs.client(region);
        const notify = options.seedDesign
          ? seedNotify(
              sqs.client(config.aggregator.region),
              queues.aggregator.queue.url,
              config.aggregator.fifo,
            )
          : createNotifyHandler({
              client,
              queueUrl: queues.regions[region]!.queue.url,
              logger: silentLogger("order-relay-notify"),
              metrics: silentMetrics("order-relay-notify"),
            });
        return {
          region,
          functionArn: functionArn(region),
          pool: regionPools[region]!,
          client,
          onFailureQueueUrl: queues.regions[region]!.dlq.url,
          invoke: async (payload: unknown) => {
            // Half the injected failures happen before, half after the real work (a timeout
            // after sending): the second kind produces duplicates the chain must absorb.
            const roll = failRate > 0 ? random() : 1;
            if (roll < failRate / 2) throw new InjectedFault("notify, before sending");
            const result = await notify(payload);
            if (roll < failRate) throw new InjectedFault("notify, after sending");
            return result;
          },
        };
      }),
    });
    cleanup.push(() => lambda.stop());

    // 5. The forwarder behind the event-source stand-in (batch 10, partial failures).
    const forwarderStats = { invocations: 0, failures: 0 };
    const aggregatorClient = sqs.client(config.aggregator.region);
    const pollers = options.seedDesign ? 0 : Math.max(1, options.pollersPerQueue ?? 2);
    for (const region of regions) {
      const forwarder = createForwarderHandler({
        client: aggregatorClient,
        aggregatorQueueUrl: queues.aggregator.queue.url,
        fifo: config.aggregator.fifo,
        logger: silentLogger("order-relay-forwarder"),
        metrics: silentMetrics("order-relay-forwarder"),
      });
      for (let poller = 0; poller < pollers; poller++) {
        const source = startEventSource({
          client: sqs.client(region),
          queueUrl: queues.regions[region]!.queue.url,
          queueArn: queues.regions[region]!.queue.arn,
          awsRegion: region,
          batchSize: config.forwarder.batchSize,
          waitTimeSeconds: 1,
          handler: async (event: SqsEvent) => {
            forwarderStats.invocations++;
            try {
              const roll = failRate > 0 ? random() : 1;
              if (roll < failRate / 2) throw new InjectedFault("forwarder, before sending");
              const response = await forwarder(event);
              if (roll < failRate) throw new InjectedFault("forwarder, after sending");
              return response;
            } catch (error) {
              forwarderStats.failures++;
              throw error;
            }
          },
        });
        cleanup.push(() => source.stop());
      }
    }

    // 6. The real DC consumer (several instances: the per-row FIFO groups allow that).
    const dcCount = Math.max(1, options.dcConsumers ?? 3);
    if (options.dcInProcesses) {
      const children = startDcProcesses({
        count: dcCount,
        endpoint: sqs.endpoint,
        region: config.aggregator.region,
        queueUrl: queues.aggregator.queue.url,
        mysqlUrl: urlWithDatabase(serverUrl, dcName),
        visibilitySeconds: Math.max(visibility, 5),
        maxMessages: options.seedDesign ? 1 : 10,
      });
      cleanup.push(() => children.stop());
      // Ready when every process has made its first receive.
      const readyBy = Date.now() + 15_000;
      while (
        (sqs.callsByQueue()[queues.aggregator.queue.name]?.ReceiveMessage ?? 0) < dcCount &&
        Date.now() < readyBy
      )
        await sleep(100);
    }
    for (let i = 0; i < (options.dcInProcesses ? 0 : dcCount); i++) {
      const consumer = startDcConsumer({
        client: aggregatorClient,
        queueUrl: queues.aggregator.queue.url,
        pool: dcPool,
        waitTimeSeconds: 1,
        visibilityTimeoutSeconds: Math.max(visibility, 5),
        ensureSchema: false,
        logger: silentLogger("order-relay-dc-consumer"),
        ...(options.seedDesign ? { maxMessages: 1 } : {}),
      });
      cleanup.push(() => consumer.stop());
    }

    // 7. Events: the server's event scheduler, or the runner on the same cadence.
    let driving = true;
    const drivers: Promise<void>[] = [];
    const drive = async (sql: string, everyMs: number) => {
      while (driving) {
        await Promise.all(
          regions.map((region) => regionPools[region]!.query(sql).catch(() => undefined)),
        );
        // Sleep in short steps so stopping never waits for a long (purge) interval.
        const until = Date.now() + everyMs;
        while (driving && Date.now() < until) await sleep(Math.min(100, until - Date.now()));
      }
    };
    if (!eventsOn && !options.seedDesign) drivers.push(drive("CALL relay_dispatch()", 1000));
    if (!eventsOn || options.retentionSeconds !== undefined) {
      // The purge event's shortest schedule is 1 minute: with a shortened retention the runner
      // also calls relay_purge() every second so the purge is visible within the run.
      drivers.push(
        drive(
          "CALL relay_purge()",
          options.retentionSeconds !== undefined ? 1000 : config.purgeIntervalMinutes * 60_000,
        ),
      );
    }
    cleanup.push(async () => {
      driving = false;
      await Promise.all(drivers);
    });
    log(
      eventsOn
        ? "dispatch/purge: MariaDB event scheduler (relay_dispatch_event every 1 s)"
        : "dispatch/purge: event_scheduler is OFF on this server — the runner calls relay_dispatch() every 1 s",
    );

    // 8. Faults on a timeline.
    const timers: NodeJS.Timeout[] = [];
    cleanup.push(async () => timers.forEach(clearTimeout));
    const setLambdaFail = (fail: boolean) =>
      Promise.all(
        regions.map((region) =>
          regionPools[region]!.query("CALL local_lambda_fail(?)", [fail]).catch(() => undefined),
        ),
      );
    if (options.lambdaOutageSeconds) {
      const seconds = options.lambdaOutageSeconds;
      timers.push(
        setTimeout(() => {
          faults.push(`lambda outage ${seconds}s`);
          void setLambdaFail(true);
          timers.push(
            setTimeout(
              () => void setLambdaFail(false).then(() => faults.push("lambda back")),
              seconds * 1000,
            ),
          );
        }, faultAt),
      );
    }
    if (options.aggregatorOutageSeconds) {
      const seconds = options.aggregatorOutageSeconds;
      timers.push(
        setTimeout(() => {
          faults.push(`aggregator outage ${seconds}s`);
          aggregatorDown = true;
          timers.push(
            setTimeout(() => {
              aggregatorDown = false;
              faults.push("aggregator back");
            }, seconds * 1000),
          );
        }, faultAt),
      );
    }
    let dbRestarted = false;
    let restarting: Promise<void> | undefined;
    if (options.restartDbAtSeconds !== undefined && db) {
      const ownDb = db;
      timers.push(
        setTimeout(() => {
          faults.push("MariaDB restarting");
          restarting = ownDb.restart().then(() => {
            dbRestarted = true;
            faults.push("MariaDB back");
          });
        }, options.restartDbAtSeconds * 1000),
      );
    }

    // 9. Load.
    const load = startLoadGenerator({
      regions: regions.map((region) => ({ region, pool: regionPools[region]! })),
      orders: options.orders,
      rate: options.rate,
      maxInFlight: options.loadInFlight,
    });
    cleanup.push(() => load.stop());

    const loadSeconds = options.orders / Math.max(options.rate, 0.001);
    const timeoutMs =
      (options.timeoutSeconds ??
        Math.max(
          60,
          loadSeconds * 2 +
            (options.lambdaOutageSeconds ?? 0) +
            (options.aggregatorOutageSeconds ?? 0) +
            (options.retentionSeconds ?? 0) +
            30,
        )) * 1000;

    // 10. Watch until every inserted order is at the DC (and, with a retention, purged).
    const queueDepth = async (url: string) => {
      try {
        const a = await admin2.send(
          new GetQueueAttributesCommand({
            QueueUrl: url,
            AttributeNames: [
              "ApproximateNumberOfMessages",
              "ApproximateNumberOfMessagesNotVisible",
            ],
          }),
        );
        return (
          Number(a.Attributes?.ApproximateNumberOfMessages ?? 0) +
          Number(a.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
        );
      } catch {
        return 0;
      }
    };
    const regionQuery = async <T extends mysql.RowDataPacket[]>(region: string, sql: string) => {
      try {
        const [rows] = await regionPools[region]!.query<T>(sql);
        return rows;
      } catch {
        return undefined;
      }
    };
    // Rows at the DC: the progress loop reads only rows received since its last read (with a
    // 10 s overlap for transactions that committed late); the final count reads them all.
    const dcSeen = new Map<string, Set<number>>();
    let dcSince: string | undefined;
    const dcRows = async (full = false): Promise<Map<string, Set<number>> | undefined> => {
      try {
        const [[mark]] = await dcPool.query<mysql.RowDataPacket[]>(
          "SELECT DATE_FORMAT(NOW(6) - INTERVAL 10 SECOND, '%Y-%m-%d %H:%i:%s.%f') AS s",
        );
        const since = full ? undefined : dcSince;
        const [rows] = await dcPool.query<mysql.RowDataPacket[]>(
          since === undefined
            ? "SELECT region, row_id FROM relay_rows"
            : "SELECT region, row_id FROM relay_rows WHERE received_at >= ?",
          since === undefined ? [] : [since],
        );
        const map = full ? new Map<string, Set<number>>() : dcSeen;
        for (const row of rows) {
          const set = map.get(String(row.region)) ?? new Set<number>();
          set.add(Number(row.row_id));
          map.set(String(row.region), set);
        }
        if (!full) dcSince = String(mark!.s);
        return map;
      } catch {
        return undefined;
      }
    };
    let lastAtDc = new Map<string, Set<number>>();
    let redriven = { moved: 0, reinvoked: 0 };
    const doRedrive = options.redrive ?? true;
    let quietSince = Date.now();

    const snapshot = async (): Promise<Progress> => {
      const atDc = (await dcRows()) ?? lastAtDc;
      lastAtDc = atDc;
      const perRegion: RegionProgress[] = [];
      for (const region of regions) {
        const orders = load.inserted.filter((o) => o.region === region);
        const delivered = atDc.get(region) ?? new Set<number>();
        let oldest = Number.POSITIVE_INFINITY;
        for (const o of orders)
          if (!delivered.has(o.rowId) && o.insertedAt < oldest) oldest = o.insertedAt;
        const state = (
          await regionQuery(
            region,
            "SELECT total_handed_off, total_purged, (SELECT COUNT(*) FROM relay_outbox WHERE handed_off_at IS NULL) AS pending FROM relay_state WHERE id = 1",
          )
        )?.[0];
        perRegion.push({
          region,
          inserted: orders.length,
          handedOff: Number(state?.total_handed_off ?? 0),
          pendingOutbox: Number(state?.pending ?? 0),
          queued: await queueDepth(queues.regions[region]!.queue.url),
          dlq: await queueDepth(queues.regions[region]!.dlq.url),
          atDc: orders.filter((o) => delivered.has(o.rowId)).length,
          lagMs: Number.isFinite(oldest) ? Date.now() - oldest : 0,
          purged: Number(state?.total_purged ?? 0),
        });
      }
      return {
        elapsedMs: elapsed(),
        regions: perRegion,
        aggregatorQueued: await queueDepth(queues.aggregator.queue.url),
        aggregatorDlq: await queueDepth(queues.aggregator.dlq.url),
        lambdaInFlight: lambda.stats.inFlight,
        faults: [...faults],
      };
    };

    let lastProgressAt = 0;
    let progress: Progress = await snapshot();
    let completed = false;
    const loadDone = { value: false };
    void load.done.then(() => (loadDone.value = true));
    for (;;) {
      await sleep(250);
      progress = await snapshot();
      if (
        options.onProgress &&
        Date.now() - lastProgressAt >= (options.progressIntervalMs ?? 500)
      ) {
        lastProgressAt = Date.now();
        options.onProgress(progress);
      }
      const allDelivered = progress.regions.every((r) => r.atDc === r.inserted);
      const purgeDone =
        options.retentionSeconds === undefined ||
        progress.regions.every((r) => r.purged >= r.inserted);
      const faultsOver =
        !aggregatorDown && (options.restartDbAtSeconds === undefined || !db || dbRestarted);
      // With redrive on, a DLQ must be empty too (a leftover on-failure record is re-invoked:
      // harmless, the aggregator's dedup and the DC's upsert absorb what was already delivered).
      const dlqClear =
        !doRedrive ||
        progress.aggregatorDlq + progress.regions.reduce((n, r) => n + r.dlq, 0) === 0;
      if (loadDone.value && allDelivered && purgeDone && faultsOver && dlqClear) {
        completed = true;
        break;
      }
      // Redrive once nothing but the DLQs holds undelivered orders.
      const busy =
        progress.lambdaInFlight > 0 ||
        progress.aggregatorQueued > 0 ||
        progress.regions.some((r) => r.pendingOutbox > 0 || r.queued > 0) ||
        aggregatorDown ||
        !loadDone.value;
      const inDlq = progress.aggregatorDlq + progress.regions.reduce((n, r) => n + r.dlq, 0);
      if (busy || inDlq === 0) quietSince = Date.now();
      else if (doRedrive && Date.now() - quietSince > 1000) {
        for (const region of regions) {
          const r = await redrive({
            client: sqs.client(region),
            dlqUrl: queues.regions[region]!.dlq.url,
            targetUrl: queues.regions[region]!.queue.url,
          });
          redriven = {
            moved: redriven.moved + r.moved,
            reinvoked: redriven.reinvoked + r.reinvoked,
          };
        }
        const r = await redrive({
          client: aggregatorClient,
          dlqUrl: queues.aggregator.dlq.url,
          targetUrl: queues.aggregator.queue.url,
          fifo: config.aggregator.fifo,
        });
        redriven = { moved: redriven.moved + r.moved, reinvoked: redriven.reinvoked + r.reinvoked };
        faults.push(`redriven: ${redriven.moved} moved, ${redriven.reinvoked} re-invoked`);
        quietSince = Date.now();
      }
      if (elapsed() > timeoutMs) break;
    }
    await restarting?.catch(() => undefined);
    await load.stop();
    const durationMs = elapsed();
    options.onProgress?.(progress);

    // 11. The numbers.
    const [dcStats] = await dcPool.query<mysql.RowDataPacket[]>(
      `SELECT COUNT(*) AS n, COALESCE(SUM(deliveries - 1), 0) AS dup FROM relay_rows`,
    );
    const [lastArrival] = await dcPool.query<mysql.RowDataPacket[]>(
      "SELECT UNIX_TIMESTAMP(MAX(received_at)) * 1000 AS at FROM relay_rows",
    );
    const [latencies] = await dcPool.query<mysql.RowDataPacket[]>(
      "SELECT TIMESTAMPDIFF(MICROSECOND, occurred_at, received_at) / 1000 AS ms FROM relay_rows ORDER BY ms",
    );
    const sorted = latencies.map((r) => Math.max(0, Number(r.ms)));
    const atDc = (await dcRows(true)) ?? lastAtDc;
    const inserted: InsertedOrder[] = load.inserted;
    const missing: Missing[] = [];
    for (const r of progress.regions) {
      const delivered = atDc.get(r.region) ?? new Set<number>();
      const rowIds = inserted
        .filter((o) => o.region === r.region && !delivered.has(o.rowId))
        .map((o) => o.rowId);
      if (rowIds.length === 0) continue;
      const pending = await regionQuery(
        r.region,
        `SELECT COUNT(*) AS n FROM relay_outbox WHERE handed_off_at IS NULL AND row_id IN (${rowIds.join(",")})`,
      );
      missing.push({
        region: r.region,
        count: rowIds.length,
        rowIds: rowIds.slice(0, 50),
        where: {
          outboxNotHandedOff: Number(pending?.[0]?.n ?? 0),
          lambdaInFlightEvents: lambda.perRegion[r.region]?.inFlight ?? 0,
          regionalQueueMessages: r.queued,
          regionalDlqMessages: r.dlq,
          aggregatorQueueMessages: progress.aggregatorQueued,
          aggregatorDlqMessages: progress.aggregatorDlq,
        },
      });
    }
    const delivered = inserted.filter((o) => atDc.get(o.region)?.has(o.rowId)).length;
    let orderDataLeft = 0;
    for (const region of regions) {
      const rows = await regionQuery(region, "SELECT COUNT(*) AS n FROM order_data");
      orderDataLeft += Number(rows?.[0]?.n ?? 0);
    }
    const calls = sqs.calls();
    const totalCalls = Object.values(calls).reduce((a, b) => a + b, 0);
    const n = Math.max(inserted.length, 1);
    const dlqAtEnd: Record<string, number> = {};
    for (const region of regions)
      dlqAtEnd[queues.regions[region]!.dlq.name] = progress.regions.find(
        (r) => r.region === region,
      )!.dlq;
    dlqAtEnd[queues.aggregator.dlq.name] = progress.aggregatorDlq;
    const firstInsert = inserted.length ? Math.min(...inserted.map((o) => o.insertedAt)) : started;
    const summary: RunSummary = {
      inserted: inserted.length,
      delivered,
      duplicatesAtDc: Number(dcStats[0]?.dup ?? 0),
      lost: inserted.length - delivered,
      latencyMs: {
        p50: percentile(sorted, 50),
        p95: percentile(sorted, 95),
        p99: percentile(sorted, 99),
      },
      ordersPerSecond:
        Math.round(
          (delivered / Math.max((started + durationMs - firstInsert) / 1000, 0.001)) * 10,
        ) / 10,
      sqsCallsPerOrder: Math.round((totalCalls / n) * 100) / 100,
      lambdaInvocationsPerOrder:
        Math.round(((lambda.stats.invocations + forwarderStats.invocations) / n) * 100) / 100,
      purged: progress.regions.reduce((a, r) => a + r.purged, 0),
    };
    return {
      summary,
      completed,
      durationMs,
      missing,
      details: {
        stack: config.stack,
        regions,
        eventsDrivenBy: eventsOn ? "event_scheduler" : "runner",
        notify: {
          invocations: lambda.stats.invocations,
          failures: lambda.stats.failures,
          toOnFailure: lambda.stats.toOnFailure,
        },
        forwarder: forwarderStats,
        sqsCalls: calls,
        harnessSqsCalls: sqs.harnessCalls(),
        idleReceives: sqs.emptyReceives(),
        loadAchievedRate: Math.round(load.achievedRate() * 10) / 10,
        deliverySpanMs: Math.max(0, Math.round(Number(lastArrival[0]?.at ?? 0) - firstInsert)),
        redriven,
        dlqAtEnd,
        orderDataLeft,
        insertRetries: load.retries(),
        dbRestarted,
      },
    };
  } finally {
    for (const step of cleanup.reverse()) {
      try {
        await step();
      } catch {
        // best effort
      }
    }
  }
}
