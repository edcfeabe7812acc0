/**
 * Figures 2, 3 and 6: the whole relay of the prod stack on this machine (local/runner.ts: real
 * notify, forwarder and DC consumer, one MariaDB database per region, local-aws-sqs), driven at a
 * fixed offered load. SQS calls are counted at the local SQS server (the harness's own set-up and
 * monitoring calls apart), Lambda invocations at the local Lambda service and the event-source
 * stand-in.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { readStackFile, stackFilePath } from "../config/load";
import { parseConfig, type RelayConfig } from "../config/schema";
import { runRelay, type RunReport } from "../local/runner";
import { round } from "./util";

export function prodConfig(): RelayConfig {
  const file = readStackFile(stackFilePath("prod"), "prod");
  return parseConfig(file.relay, file.stack);
}

/**
 * mariadbd flush policy for the end-to-end runs: the InnoDB log is written at every commit and
 * fsynced once a second. On this VM's disk an fsync per commit caps the storefront stand-in's
 * INSERTs (16 in flight) near 700/s before any relay work; Aurora commits to its replicated
 * storage, not to a local fsync. Figure 1 is measured under both policies.
 */
export const BENCH_MARIADB_ARGS = ["--innodb-flush-log-at-trx-commit=2"];

export interface RelayPoint {
  readonly design: "relay" | "seed";
  readonly offered: number;
  readonly orders: number;
  readonly inserted: number;
  readonly delivered: number;
  readonly lost: number;
  readonly duplicatesAtDc: number;
  readonly completed: boolean;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  /** Orders/s the storefront stand-in actually inserted. */
  readonly insertedPerSecond: number;
  /** Delivered orders / (first INSERT → last arrival at the DC). */
  readonly deliveredPerSecond: number;
  readonly sqsCalls: Record<string, number>;
  readonly sqsCallsPerOrder: number;
  readonly notifyInvocations: number;
  readonly forwarderInvocations: number;
  readonly invocationsPerOrder: number;
  readonly harnessSqsCalls: Record<string, number>;
  readonly durationMs: number;
  /** Whole machine: busy share of all CPUs over the run (0..1, /proc/stat). */
  readonly machineBusy: number;
  /** Whole machine CPU time per delivered order (ms, all processes: MariaDB, node, DC). */
  readonly machineCpuMsPerOrder: number;
  /** The runner process alone (SQS server, Lambdas, event sources, load generator), ms/order. */
  readonly runnerCpuMsPerOrder: number;
}

/** Busy and total CPU time of the machine so far (ms), from /proc/stat. */
function machineCpu(): { busy: number; total: number } {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    const hz = 100;
    return { busy: ((total - idle) * 1000) / hz, total: (total * 1000) / hz };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

function point(
  design: "relay" | "seed",
  offered: number,
  report: RunReport,
  cpu: { machineBusyMs: number; machineTotalMs: number; runnerMs: number },
): RelayPoint {
  const s = report.summary;
  const d = report.details;
  const n = Math.max(s.inserted, 1);
  const calls = Object.values(d.sqsCalls).reduce((a, b) => a + b, 0);
  return {
    design,
    offered,
    orders: s.inserted,
    inserted: s.inserted,
    delivered: s.delivered,
    lost: s.lost,
    duplicatesAtDc: s.duplicatesAtDc,
    completed: report.completed,
    p50: s.latencyMs.p50,
    p95: s.latencyMs.p95,
    p99: s.latencyMs.p99,
    insertedPerSecond: d.loadAchievedRate,
    deliveredPerSecond: round(s.delivered / Math.max(d.deliverySpanMs / 1000, 0.001), 1),
    sqsCalls: d.sqsCalls,
    sqsCallsPerOrder: round(calls / n, 3),
    notifyInvocations: d.notify.invocations,
    forwarderInvocations: d.forwarder.invocations,
    invocationsPerOrder: round((d.notify.invocations + d.forwarder.invocations) / n, 3),
    harnessSqsCalls: d.harnessSqsCalls,
    durationMs: report.durationMs,
    machineBusy: round(cpu.machineBusyMs / Math.max(cpu.machineTotalMs, 1), 3),
    machineCpuMsPerOrder: round(cpu.machineBusyMs / Math.max(s.delivered, 1), 3),
    runnerCpuMsPerOrder: round(cpu.runnerMs / Math.max(s.delivered, 1), 3),
  };
}

export async function relayRun(options: {
  design: "relay" | "seed";
  rate: number;
  orders: number;
  log: (line: string) => void;
}): Promise<RelayPoint> {
  const before = machineCpu();
  const runnerBefore = process.cpuUsage();
  const report = await runRelay({
    config: prodConfig(),
    orders: options.orders,
    rate: options.rate,
    dcInProcesses: true,
    mariadbArgs: BENCH_MARIADB_ARGS,
    timeoutSeconds: Math.max(120, (options.orders / options.rate) * 6),
    ...(options.design === "seed"
      ? {
          seedDesign: {
            triggerSql: readFileSync(path.join(__dirname, "seed-trigger.sql"), "utf8"),
          },
        }
      : {}),
  });
  const after = machineCpu();
  const runner = process.cpuUsage(runnerBefore);
  const p = point(options.design, options.rate, report, {
    machineBusyMs: after.busy - before.busy,
    machineTotalMs: after.total - before.total,
    runnerMs: (runner.user + runner.system) / 1000,
  });
  options.log(
    `  ${p.design} @${p.offered}/s: ${p.delivered}/${p.inserted} delivered (lost ${p.lost}), ` +
      `p50/p95/p99 ${p.p50}/${p.p95}/${p.p99} ms, inserted ${p.insertedPerSecond}/s, ` +
      `delivered ${p.deliveredPerSecond}/s, SQS ${p.sqsCallsPerOrder}/order, ` +
      `invocations ${p.invocationsPerOrder}/order, machine ${Math.round(p.machineBusy * 100)}% busy ` +
      `(${p.machineCpuMsPerOrder} CPU-ms/order, runner ${p.runnerCpuMsPerOrder})`,
  );
  return p;
}
