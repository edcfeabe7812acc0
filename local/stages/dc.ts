/**
 * Stage: the DC. The real DC consumer on the aggregator queue (several instances: the per-row
 * FIFO groups allow that), inside the runner or each as its own `dc/cli.ts` process, and the
 * reader of what arrived in the DC's `relay_rows`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { Logger } from "@aws-lambda-powertools/logger";
import type mysql from "mysql2/promise";
import { SERVICE } from "../../contract/metrics";
import { startDcConsumer } from "../../dc/consumer";
import { onExitSync } from "../../cli/process";
import type { Cleanup } from "./cleanup";
import type { LocalQueues } from "./queues";

export interface DcOptions {
  readonly local: LocalQueues;
  /** Region of the aggregator queue. */
  readonly region: string;
  readonly dcPool: mysql.Pool;
  /** URL of the DC's database (for consumers in their own processes). */
  readonly dcUrl: string;
  readonly count: number;
  /** Each consumer as its own process (as it runs in the DC) instead of inside the runner. */
  readonly inProcesses: boolean;
  readonly visibilitySeconds: number;
  /** Messages per receive. */
  readonly maxMessages?: number;
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
  const root = path.join(__dirname, "..", "..");
  // tsx's loader in the consumer's own node process (no tsx CLI wrapper process in between).
  const tsxLoader = pathToFileURL(
    path.join(root, "node_modules", "tsx", "dist", "loader.mjs"),
  ).href;
  const cli = path.join(root, "dc", "cli.ts");
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
  // Last resort (forced exit, crash): no consumer outlives the runner.
  const unhookExit = onExitSync(() => {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
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
      ).then(() => unhookExit()),
  };
}

export async function startDc(o: DcOptions, cleanup: Cleanup): Promise<void> {
  const { sqs, queues, aggregatorClient } = o.local;
  const count = Math.max(1, o.count);
  const queue = queues.aggregator.queue;
  if (o.inProcesses) {
    const children = startDcProcesses({
      count,
      endpoint: sqs.endpoint,
      region: o.region,
      queueUrl: queue.url,
      mysqlUrl: o.dcUrl,
      visibilitySeconds: o.visibilitySeconds,
      maxMessages: o.maxMessages ?? 10,
    });
    cleanup.defer(() => children.stop());
    // Ready when every process has made its first receive.
    const readyBy = Date.now() + 15_000;
    while ((sqs.callsByQueue()[queue.name]?.ReceiveMessage ?? 0) < count && Date.now() < readyBy)
      await sleep(100);
    return;
  }
  for (let i = 0; i < count; i++) {
    const consumer = startDcConsumer({
      client: aggregatorClient,
      queueUrl: queue.url,
      pool: o.dcPool,
      waitTimeSeconds: 1,
      visibilityTimeoutSeconds: o.visibilitySeconds,
      ensureSchema: false,
      logger: new Logger({ serviceName: SERVICE.dcConsumer, logLevel: "SILENT" }),
      ...(o.maxMessages !== undefined ? { maxMessages: o.maxMessages } : {}),
    });
    cleanup.defer(() => consumer.stop());
  }
}

/** Row ids that reached the DC, per region. */
export type Arrivals = Map<string, Set<number>>;

export interface DcArrivals {
  /**
   * Rows received since the last call (with a 10 s overlap for transactions that committed
   * late), added to what earlier calls saw; undefined when the DC database does not answer.
   */
  sinceLast(): Promise<Arrivals | undefined>;
  /** Every row at the DC (the final count). */
  all(): Promise<Arrivals | undefined>;
}

export function dcArrivals(pool: mysql.Pool): DcArrivals {
  const seen: Arrivals = new Map();
  let since: string | undefined;
  const read = async (full: boolean): Promise<Arrivals | undefined> => {
    try {
      const [[mark]] = await pool.query<mysql.RowDataPacket[]>(
        "SELECT DATE_FORMAT(NOW(6) - INTERVAL 10 SECOND, '%Y-%m-%d %H:%i:%s.%f') AS s",
      );
      const from = full ? undefined : since;
      const [rows] = await pool.query<mysql.RowDataPacket[]>(
        from === undefined
          ? "SELECT region, row_id FROM relay_rows"
          : "SELECT region, row_id FROM relay_rows WHERE received_at >= ?",
        from === undefined ? [] : [from],
      );
      const map: Arrivals = full ? new Map() : seen;
      for (const row of rows) {
        const set = map.get(String(row.region)) ?? new Set<number>();
        set.add(Number(row.row_id));
        map.set(String(row.region), set);
      }
      if (!full) since = String(mark!.s);
      return map;
    } catch {
      return undefined;
    }
  };
  return { sinceLast: () => read(false), all: () => read(true) };
}
