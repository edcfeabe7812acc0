/**
 * Stage: the DC. The real DC consumer on the aggregator queue (several instances: the per-row
 * FIFO groups allow that), inside the runner or each as its own `dc/cli.ts` process, and the
 * reader of what arrived in the DC's mirror tables.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { Logger } from "@aws-lambda-powertools/logger";
import type mysql from "mysql2/promise";
import { SERVICE } from "../../contract/metrics";
import { createAckSender } from "../../dc/acks";
import { startDcConsumer } from "../../dc/consumer";
import { onExitSync } from "../../cli/process";
import type { Cleanup } from "./cleanup";
import type { LocalQueues } from "./queues";
import { compareRows, type Expected, type ListedTable, type RowComparison } from "../storefront";

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
  /** Region → ack queue URL: the consumers acknowledge what they commit. @default - no acks */
  readonly ackQueueUrls?: Readonly<Record<string, string>>;
  /** How long acknowledged ids wait to share one message (`--ack-flush-seconds`). @default 1 */
  readonly ackFlushSeconds?: number;
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
  ackQueueUrls?: Readonly<Record<string, string>>;
  ackFlushSeconds: number;
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
          ...(o.ackQueueUrls
            ? [
                "--ack-queue-urls",
                JSON.stringify(o.ackQueueUrls),
                "--ack-flush-seconds",
                String(o.ackFlushSeconds),
              ]
            : []),
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
      ackQueueUrls: o.ackQueueUrls,
      ackFlushSeconds: o.ackFlushSeconds ?? 1,
    });
    cleanup.defer(() => children.stop());
    // Ready when every process has made its first receive.
    const readyBy = Date.now() + 15_000;
    while ((sqs.callsByQueue()[queue.name]?.ReceiveMessage ?? 0) < count && Date.now() < readyBy)
      await sleep(100);
    return;
  }
  // One sender for every in-process consumer; stopped after them (cleanup runs newest first).
  const acks = o.ackQueueUrls
    ? createAckSender({
        queueUrls: o.ackQueueUrls,
        clientFor: (region) => sqs.client(region),
        flushIntervalMs: (o.ackFlushSeconds ?? 1) * 1000,
        logger: new Logger({ serviceName: SERVICE.dcConsumer, logLevel: "SILENT" }),
      })
    : undefined;
  if (acks) cleanup.defer(() => acks.stop());
  for (let i = 0; i < count; i++) {
    const consumer = startDcConsumer({
      onCommitted: acks ? (messages) => acks.add(messages) : undefined,
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

/** Orders whose every row reached the DC in its latest state, per region. */
export type Arrivals = Map<string, Set<number>>;

export interface DcArrivals {
  /** The orders equal at the DC now; undefined when the DC database does not answer. */
  sinceLast(): Promise<Arrivals | undefined>;
  /** The same, for the final figures. */
  all(): Promise<Arrivals | undefined>;
  /** The last row-by-row comparison (local/storefront.ts compareRows). */
  compare(): Promise<RowComparison | undefined>;
}

/** Reads the DC's mirror tables and compares them with the load generator's rows, row by row. */
export function dcArrivals(
  pool: mysql.Pool,
  tables: readonly ListedTable[],
  expected: Expected,
): DcArrivals {
  const read = async () => (await compareRows(pool, tables, expected))?.ordersEqual;
  return { sinceLast: read, all: read, compare: () => compareRows(pool, tables, expected) };
}
