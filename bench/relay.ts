/**
 * Figures 2, 3 and 6: the whole relay of the prod stack on this machine (local/runner.ts: real
 * notify, forwarder and DC consumer, one MariaDB database per region, local-aws-sqs), driven at a
 * fixed offered load. SQS calls are counted at the local SQS server (the harness's own set-up and
 * monitoring calls apart), Lambda invocations at the local Lambda service and the event-source
 * stand-in.
 */
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { readStackFile, stackFilePath } from "../config/load";
import { parseConfig, type RelayConfig } from "../config/schema";
import { runRelay, type RunReport } from "../local/runner";
import { round } from "./util";

function prodConfig(): RelayConfig {
  const file = readStackFile(stackFilePath("prod"), "prod");
  return parseConfig(file.relay, file.stack);
}

/**
 * mariadbd flush policy for the end-to-end runs: the InnoDB log is written at every commit and
 * fsynced once a second. On this VM's disk an fsync per commit caps the storefront stand-in's
 * INSERTs (16 in flight) near 700/s before any relay work; Aurora commits to its replicated
 * storage, not to a local fsync. Figure 1 is measured under both policies.
 */
/** DC consumer processes and event-source pollers per regional queue in the benchmark runs. */
const DC_CONSUMERS = 3;
const POLLERS_PER_QUEUE = 2;

/** The DC consumer's --ack-flush-seconds default, as deployed. */
export const ACK_FLUSH_SECONDS = 5;

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
  /** Arrival rate at the DC between 20 % and 90 % of the orders delivered (steady state). */
  readonly steadyDeliveredPerSecond: number;
  readonly sqsCalls: Record<string, number>;
  readonly sqsCallsPerOrder: number;
  /** Long polls that returned nothing (included in sqsCallsPerOrder), per order. */
  readonly idleReceivesPerOrder: number;
  readonly notifyInvocations: number;
  readonly forwarderInvocations: number;
  /** notify + forwarder + ack invocations per order. */
  readonly invocationsPerOrder: number;
  /**
   * The acknowledgement path alone (purgeRequires: confirmed): SQS calls on the ack queues (the
   * DC's sends, the ack function's event-source receives and deletes) and ack invocations — both
   * included in the totals above. Undefined for the seed design (it has none).
   */
  readonly ack?: {
    readonly sqsCalls: Record<string, number>;
    readonly sqsCallsPerOrder: number;
    readonly invocations: number;
    readonly invocationsPerOrder: number;
  };
  readonly harnessSqsCalls: Record<string, number>;
  readonly durationMs: number;
  /** Whole machine: busy share of all CPUs over the run (0..1, /proc/stat). */
  readonly machineBusy: number;
  /** Whole machine CPU time per delivered order (ms, all processes: MariaDB, node, DC). */
  readonly machineCpuMsPerOrder: number;
  /** The runner process alone (SQS server, Lambdas, event sources, load generator), ms/order. */
  readonly runnerCpuMsPerOrder: number;
  /**
   * Steady state: machine CPU-ms per order delivered while the load ran (between 20 % and 90 % of
   * the orders at the DC; set-up and start-up excluded), and the runner's share of it.
   */
  readonly marginalCpuMsPerOrder: number;
  readonly marginalRunnerCpuMsPerOrder: number;
  /** Machine busy share in that window (0..1). */
  readonly marginalBusy: number;
  /** Steady-state CPU-ms per order by process kind (runner, mariadb, dc, other). */
  readonly marginalByProcess: Record<string, number>;
}

/** CPU time (ms) of this process's descendants, by kind (mariadb, dc consumer, other). */
function childrenCpu(): Record<string, number> {
  const out: Record<string, number> = {};
  const procs = new Map<number, { ppid: number; ms: number; cmd: string }>();
  try {
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8");
        const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        procs.set(Number(entry), {
          ppid: Number(rest[1]),
          ms: ((Number(rest[11]) + Number(rest[12])) * 1000) / 100,
          cmd,
        });
      } catch {
        // gone
      }
    }
  } catch {
    return out; // not Linux
  }
  for (const [pid, info] of procs) {
    // Walk up to our direct child: its command line names the component.
    let child = pid;
    let parent = info.ppid;
    while (parent !== process.pid && procs.has(parent)) {
      child = parent;
      parent = procs.get(parent)!.ppid;
    }
    if (parent !== process.pid) continue;
    const cmd = procs.get(child)!.cmd;
    const kind = cmd.includes("mariadbd") ? "mariadb" : cmd.includes("dc/cli.ts") ? "dc" : "other";
    out[kind] = (out[kind] ?? 0) + info.ms;
  }
  return out;
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

interface Sample {
  readonly at: number;
  readonly children: Record<string, number>;
  readonly atDc: number;
  readonly busy: number;
  readonly total: number;
  readonly runner: number;
}

function point(
  design: "relay" | "seed",
  offered: number,
  report: RunReport,
  cpu: { machineBusyMs: number; machineTotalMs: number; runnerMs: number },
  samples: readonly Sample[],
): RelayPoint {
  const target = (f: number) => samples.find((x) => x.atDc >= f * report.summary.inserted);
  const a = target(0.2);
  const b = target(0.9);
  const window = a && b && b.atDc > a.atDc ? { a, b } : undefined;
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
    steadyDeliveredPerSecond: window
      ? round(
          (window.b.atDc - window.a.atDc) / Math.max((window.b.at - window.a.at) / 1000, 0.001),
          1,
        )
      : NaN,
    sqsCalls: d.sqsCalls,
    sqsCallsPerOrder: round(calls / n, 3),
    idleReceivesPerOrder: round(d.idleReceives / n, 3),
    notifyInvocations: d.notify.invocations,
    forwarderInvocations: d.forwarder.invocations,
    invocationsPerOrder: round(
      (d.notify.invocations + d.forwarder.invocations + (d.acks?.invocations ?? 0)) / n,
      3,
    ),
    ...(d.acks
      ? {
          ack: {
            sqsCalls: d.acks.sqsCalls,
            sqsCallsPerOrder: d.acks.sqsCallsPerOrder,
            invocations: d.acks.invocations,
            invocationsPerOrder: d.acks.lambdaInvocationsPerOrder,
          },
        }
      : {}),
    harnessSqsCalls: d.harnessSqsCalls,
    durationMs: report.durationMs,
    machineBusy: round(cpu.machineBusyMs / Math.max(cpu.machineTotalMs, 1), 3),
    machineCpuMsPerOrder: round(cpu.machineBusyMs / Math.max(s.delivered, 1), 3),
    runnerCpuMsPerOrder: round(cpu.runnerMs / Math.max(s.delivered, 1), 3),
    marginalCpuMsPerOrder: window
      ? round((window.b.busy - window.a.busy) / (window.b.atDc - window.a.atDc), 3)
      : NaN,
    marginalRunnerCpuMsPerOrder: window
      ? round((window.b.runner - window.a.runner) / (window.b.atDc - window.a.atDc), 3)
      : NaN,
    marginalByProcess: window
      ? Object.fromEntries(
          [
            ["runner", window.b.runner - window.a.runner] as const,
            ...Object.keys(window.b.children).map(
              (k) => [k, (window.b.children[k] ?? 0) - (window.a.children[k] ?? 0)] as const,
            ),
          ].map(([k, v]) => [k, round(v / (window.b.atDc - window.a.atDc), 3)]),
        )
      : {},
    marginalBusy: window
      ? round((window.b.busy - window.a.busy) / Math.max(window.b.total - window.a.total, 1), 3)
      : NaN,
  };
}

export async function relayRun(options: {
  design: "relay" | "seed";
  rate: number;
  orders: number;
  log: (line: string) => void;
  /** Stop the run early (SIGINT/SIGTERM): the point covers what happened so far. */
  signal?: AbortSignal;
  /** Measure on this server instead of a private MariaDB (the flush policy is the server's). */
  mysqlUrl?: string;
}): Promise<RelayPoint> {
  const before = machineCpu();
  const runnerBefore = process.cpuUsage();
  const samples: Sample[] = [];
  const report = await runRelay({
    progressIntervalMs: 250,
    onProgress: (progress) => {
      const m = machineCpu();
      const u = process.cpuUsage();
      samples.push({
        at: Date.now(),
        children: childrenCpu(),
        atDc: progress.regions.reduce((n, r) => n + r.atDc, 0),
        busy: m.busy,
        total: m.total,
        runner: (u.user + u.system) / 1000,
      });
    },
    config: prodConfig(),
    // The seed's table, inserts only, for both designs: the same storefront work on each side, so
    // the figures compare the relays (and stay comparable with earlier runs). The storefront
    // schema's updates and deletes are proven by the tests and `npm start`, not timed here.
    schema: "seed",
    orders: options.orders,
    rate: options.rate,
    dcInProcesses: true,
    // As the DC runs it (dc/cli.ts's default): acknowledged ids share a message for 5 s.
    ackFlushSeconds: ACK_FLUSH_SECONDS,
    dcConsumers: Number(process.env.BENCH_DC ?? DC_CONSUMERS),
    pollersPerQueue: Number(process.env.BENCH_POLLERS ?? POLLERS_PER_QUEUE),
    mariadbArgs: BENCH_MARIADB_ARGS,
    signal: options.signal,
    mysqlUrl: options.mysqlUrl,
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
  const p = point(
    options.design,
    options.rate,
    report,
    {
      machineBusyMs: after.busy - before.busy,
      machineTotalMs: after.total - before.total,
      runnerMs: (runner.user + runner.system) / 1000,
    },
    samples,
  );
  if (options.signal?.aborted) return p; // a partial run: not a figure, and not logged as one
  options.log(
    `  ${p.design} @${p.offered}/s: ${p.delivered}/${p.inserted} delivered (lost ${p.lost}), ` +
      `p50/p95/p99 ${p.p50}/${p.p95}/${p.p99} ms, inserted ${p.insertedPerSecond}/s, ` +
      `delivered ${p.deliveredPerSecond}/s (steady ${p.steadyDeliveredPerSecond}/s), SQS ${p.sqsCallsPerOrder}/order (idle polls ${p.idleReceivesPerOrder}), ` +
      `invocations ${p.invocationsPerOrder}/order, machine ${Math.round(p.machineBusy * 100)}% busy ` +
      `(${p.machineCpuMsPerOrder} CPU-ms/order, runner ${p.runnerCpuMsPerOrder}; steady state ` +
      `${p.marginalCpuMsPerOrder} CPU-ms/order, runner ${p.marginalRunnerCpuMsPerOrder}, ${Math.round(p.marginalBusy * 100)}% busy; ${JSON.stringify(p.marginalByProcess)})`,
  );
  return p;
}
