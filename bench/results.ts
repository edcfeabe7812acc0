/** Renders bench/RESULTS.md from the measured figures (bench/run.ts). */
import type { BundleRow } from "./bundles";
import type { CapacityResults } from "./capacity";
import {
  capacitySummaryRows,
  readCapacityResults,
  renderCapacitySection,
} from "./capacity-section";
import { dcSummaryRow, renderDcThroughput, type DcThroughputFigure } from "./dc-throughput";
import type { Machine } from "./machine";
import type { PlanFigure } from "./plan";
import { ACK_FLUSH_SECONDS, type RelayPoint } from "./relay";
import type { TriggerFigure } from "./trigger";
import { round } from "./util";

export interface Results {
  readonly command: string;
  readonly settings: {
    quick: boolean;
    trigger: { rounds: number; perRound: number };
    calls: { rate: number; seconds: number };
    sweep: { rates: number[]; seconds: number };
    planRepeats: number;
    bundleRepeats: number;
  };
  readonly host: Machine;
  readonly trigger: Record<string, TriggerFigure>;
  readonly bundles: BundleRow[];
  readonly plan: PlanFigure;
  readonly calls: { relay: RelayPoint; seed: RelayPoint };
  readonly sweep: RelayPoint[];
  /** Figure 7 (absent in results from before it, and with --mysql-url). */
  readonly dc?: DcThroughputFigure;
  readonly totalSeconds: number;
}

const verdict = (met: boolean) => (met ? "**met**" : "**missed**");
const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
const callList = (c: Record<string, number>) =>
  Object.entries(c)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");

/** Where the end-to-end goals are missed: what bounds them, with the measurements. */
function boundSection(r: Results, sweep: RelayPoint[], best: number): string[] {
  const top = sweep[sweep.length - 1]!;
  const steady = sweep.filter((p) => Number.isFinite(p.marginalCpuMsPerOrder) && p.offered >= 500);
  const cpu = steady.length
    ? steady.reduce((a, p) => a + p.marginalCpuMsPerOrder, 0) / steady.length
    : top.marginalCpuMsPerOrder;
  const runnerCpu = steady.length
    ? steady.reduce((a, p) => a + p.marginalRunnerCpuMsPerOrder, 0) / steady.length
    : top.marginalRunnerCpuMsPerOrder;
  const machineCap = (r.host.nproc * 1000) / cpu;
  const runnerCap = 1000 / runnerCpu;
  const over = sweep.filter((p) => p.p99 > 2000);
  const byProcess: Record<string, number> = {};
  for (const p of steady)
    for (const [k, v] of Object.entries(p.marginalByProcess ?? {}))
      byProcess[k] = (byProcess[k] ?? 0) + v / steady.length;
  const share = Object.entries(byProcess)
    .filter(([, v]) => v >= 0.01)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${round(v, 2)}`)
    .join(", ");
  return [
    "### What bounds throughput and latency here",
    "",
    `- **CPU of this machine.** In steady state (between 20 % and 90 % of the orders at the DC, loads ≥ 500/s) one`,
    `  order costs **${round(cpu, 2)} ms of CPU** summed over every process (MariaDB: INSERT + trigger,`,
    "  dispatch, `lambda_invocations`, DC upsert; runner: SQS server, notify, forwarder, event sources,",
    `  load generator; the DC consumer processes). ${r.host.nproc} cores ⇒ at most **≈ ${Math.round(machineCap)} orders/s** even with perfect`,
    `  parallelism; the machine was ${Math.round(top.marginalBusy * 100)}% busy at ${top.offered}/s offered.`,
    `  By process (CPU-ms per order, steady state): ${share || "n/a"}; the rest is the kernel (loopback`,
    "  TCP between all of them) and other processes. With every process competing for the same two",
    "  cores, one in-runner DC consumer loop starved; three `dc/cli.ts` processes are used (figure 7",
    "  measures one alone).",
    `- **One event loop for the AWS side.** The runner process (the local SQS server answering every call`,
    `  plus the notify/forwarder SDK clients and the load generator) needs **${round(runnerCpu, 2)} CPU-ms per order** on a`,
    `  single thread ⇒ at most **≈ ${Math.round(runnerCap)} orders/s** through it. In AWS those are separate, scaled services.`,
    `- Measured best: **${best} orders/s delivered** (steady state), 0 lost in every run. Above that the backlog grows`,
    `  during the load and drains afterwards: latency is then queueing time, not relay time${over.length ? ` (p99 > 2 s at ${over.map((p) => `${p.offered}/s`).join(", ")})` : ""}.`,
    "- Below saturation the latency floor is the design's: the dispatch event runs once a second",
    "  (≈ 0.5 s average wait, up to 1 s), then Lambda service poll (100 ms), notify, the forwarder's",
    "  long poll, the aggregator, the DC consumer's long poll and its commit.",
    "- What was changed to move these figures (local harness only; the relay itself was already",
    "  batched): the load generator issues INSERTs on schedule with 16 in flight instead of one",
    "  after another (it capped offered load at ≈ 300/s); the DC consumer runs as 3 processes (`dc/cli.ts`,",
    "  as in the DC) instead of one loop inside the runner, where it starved behind the load; the",
    "  event-source stand-in runs 2 pollers per regional queue (Lambda's mapping scales pollers); local",
    "  long polls are woken by a send instead of re-polling every 20 ms; the progress monitor reads only",
    "  newly arrived DC rows; MariaDB flushes its log once a second (see figure 1 for both policies);",
    "  the DC processes run as `node --import <tsx loader>` (the tsx CLI's wrapper process cost ≈ 6 % of a",
    "  core each).",
    "- Run-to-run spread on this shared machine (first wave): the 500/s point near saturation measured",
    "  p99 between 1.5 s and 2.9 s across runs; steady delivered/s at ≥ 1,000/s offered between ≈ 520/s",
    "  and ≈ 700/s. The CPU-ms per order is the stable figure: ≈ 2.2–2.8 ms then.",
    "- Since then a delivered order costs more here (≈ 4–5 CPU-ms; the runner ≈ 1.2 → 2.7 ms, the DC",
    "  ≈ 0.8 → 1.3 ms), so the sustained rate on these two cores is about half the first wave's 869/s:",
    "  every change is now validated record by record (envelope v2) in notify and the forwarder, each",
    "  row is its own FIFO message group and dedup id, the DC writes typed mirror rows, and the",
    "  acknowledgement path runs here too (the ack handler, `relay_confirm`, the DC's acknowledgements).",
    "  The backlog above saturation forms in the regional queues, where this emulator's receive cost",
    "  grows with the queue's depth (≈ 17 ms per receive + delete of 10 with 3,000 messages queued).",
    "  In AWS each of these is a separate, scaled service (see the capacity model for the limits there).",
    "- Tried and not kept: 6 DC processes (more CPU per order, no more throughput) and 4 pollers per",
    "  regional queue (lower latency at 700/s offered, but the load generator then only reached 544/s:",
    "  the same single event loop serves both). Both confirm that the machine, not a serial stage, is",
    "  the bound.",
    "",
  ];
}

/**
 * RESULTS.md. `capacity`: the figures of `npx tsx bench/capacity.ts` (bench/capacity-results.json,
 * not re-measured by `npm run bench`), rendered as the last section, "Capacity".
 */
export function renderResults(
  r: Results,
  capacity: CapacityResults | undefined = readCapacityResults(),
): string {
  const L: string[] = [];
  const sweep = [...r.sweep].sort((a, b) => a.offered - b.offered);
  const h = r.host;
  const durable = r.trigger.durable!;
  const flush2 = r.trigger.flush2!;
  const worstTrigger = Math.max(durable.medianRatio, flush2.medianRatio);
  const { relay, seed } = r.calls;
  const allDelivered = sweep.every((p) => p.lost === 0 && p.completed);
  const bestThroughput = Math.max(
    ...sweep.map((p) =>
      Number.isFinite(p.steadyDeliveredPerSecond)
        ? p.steadyDeliveredPerSecond
        : p.deliveredPerSecond,
    ),
  );
  const within2s = sweep.filter((p) => p.p99 <= 2000 && p.lost === 0);
  const maxWithin = within2s.length ? Math.max(...within2s.map((p) => p.offered)) : 0;
  const at1000 = sweep.find((p) => p.offered === 1000);
  const plan20 = r.plan.points.find((p) => p.regions === 20);
  const maxBusy = Math.max(...sweep.map((p) => p.marginalBusy).filter(Number.isFinite));

  L.push(
    "# Benchmarks: what the relay costs and how fast it is",
    "",
    `Generated by \`${r.command}\` (bench/run.ts) in ${r.totalSeconds} s${r.settings.quick ? " — **quick mode** (fewer rounds, shorter loads)" : ""}. Raw numbers: \`bench/.work/results.json\` (not committed).`,
    "",
    "## Machine",
    "",
    `| nproc | CPU | memory | node | MariaDB | OS |`,
    `|---|---|---|---|---|---|`,
    `| ${h.nproc} | ${h.cpuModel} | ${h.memoryGiB} GiB | ${h.node} | ${h.mariadb} | ${h.os} |`,
    "",
    "Everything runs on these cores at once: one private MariaDB (a database per region + the DC's), the",
    "runner process (local-aws-sqs server, local Lambda service with the real notify, the event-source",
    "stand-in with the real forwarder, the load generator), and the real DC consumer (`dc/cli.ts`, one",
    "process per instance, as it runs in the DC). Figures are ratios, counts and medians so they hold on a",
    "noisy machine; absolute rates are printed for context only.",
    "",
    "## Summary",
    "",
    "| # | figure | value | goal | |",
    "|---|---|---|---|---|",
    `| 1 | INSERT slowdown with the relay trigger (median of interleaved rounds) | ×${durable.medianRatio} durable commit, ×${flush2.medianRatio} log flushed once a second | ≤ ×1.3 | ${verdict(worstTrigger <= 1.3)} |`,
    `| 2 | SQS API calls per order, end to end, idle polls included | ${relay.sqsCallsPerOrder} (seed design: ${seed.sqsCallsPerOrder}) | ≤ 0.7 (floor 0.6) | ${verdict(relay.sqsCallsPerOrder <= 0.7)} |`,
    `| 2 | Lambda invocations per order | ${relay.invocationsPerOrder} (seed design: ${seed.invocationsPerOrder}) | ≤ 0.15 | ${verdict(relay.invocationsPerOrder <= 0.15)} |`,
    ...(relay.ack
      ? [
          `| 2 | of which the acknowledgement path (DC → ack queue → ack Lambda → confirmed) | ${relay.ack.sqsCallsPerOrder} SQS calls, ${relay.ack.invocationsPerOrder} Lambda invocations per order | ≤ 0.05, ≤ 0.01 | ${verdict(relay.ack.sqsCallsPerOrder <= 0.05 && relay.ack.invocationsPerOrder <= 0.01)} |`,
        ]
      : []),
    `| 3 | p99 end-to-end latency | ${at1000 ? `${at1000.p99} ms at 1,000/s offered; ` : ""}p99 ≤ 2 s up to ${maxWithin || "no"} orders/s offered | ≤ 2 s (at ≥ 1,000/s) | ${verdict(!!at1000 && at1000.p99 <= 2000)} |`,
    `| 3 | sustained orders/s delivered, 0 lost | ${bestThroughput}/s best (${allDelivered ? "0 lost in every run" : "ORDERS LOST"}) | ≥ 1,000/s, 0 lost | ${verdict(bestThroughput >= 1000 && allDelivered)} |`,
    `| 4 | offline plan, 20 regions | ${plan20 ? `${round(plan20.planMs / 1000, 1)} s plan; ${round(plan20.wallMs / 1000, 1)} s for the whole fresh process (node + tsx start and imports included)` : "n/a"}; linear fit R² ${round(r.plan.fit.r2, 3)} | ≤ 10 s, linear | plan ${verdict(!!plan20 && plan20.planMs <= 10_000 && r.plan.fit.r2 >= 0.98)}, whole process ${verdict(!!plan20 && plan20.wallMs <= 10_000)} |`,
    `| 5 | handler bundle / module init | ${r.bundles.map((b) => `${b.handler} ${kib(b.bytes)}, ${b.initMs} ms`).join("; ")} | (reported) | |`,
    `| 6 | plot | [latency.svg](latency.svg) | | |`,
    ...(r.dc ? [dcSummaryRow(r.dc)] : []),
    ...capacitySummaryRows(capacity),
    "",
  );

  L.push(
    "## 1. INSERT throughput with vs without the relay trigger",
    "",
    "Command: part of `npm run bench` (bench/trigger.ts). One private MariaDB, one database migrated",
    "like a region (`sql/migrate.ts`, local `lambda_async`), `order_plain` created `LIKE order_data`",
    "(same columns and engine, no trigger). One connection, autocommit single-row prepared INSERTs (the",
    `storefront's pattern), ${r.settings.trigger.rounds} interleaved rounds × ${r.settings.trigger.perRound} rows per table, the`,
    "order alternating each round; figure = median of the per-round ratios. The dispatch event is",
    "disabled during the measurement so only the trigger's own cost is timed. Measured under two",
    "InnoDB flush policies: with a durable fsync per commit the fsync dominates both tables and flatters",
    "the ratio; with the log flushed once a second the INSERT is CPU-bound and the trigger's extra",
    "INSERT + JSON_OBJECT shows fully.",
    "",
    "| flush policy | plain INSERT/s | with trigger INSERT/s | per-round ratios | median | goal |",
    "|---|---|---|---|---|---|",
    ...[
      ["durable (`innodb_flush_log_at_trx_commit=1`)", durable],
      ["once a second (`=2`)", flush2],
    ].map(
      ([name, t]) =>
        `| ${name as string} | ${(t as TriggerFigure).plainPerSecond} | ${(t as TriggerFigure).triggerPerSecond} | ${(t as TriggerFigure).ratios.join(", ")} | ×${(t as TriggerFigure).medianRatio} | ≤ ×1.3 ${verdict((t as TriggerFigure).medianRatio <= 1.3)} |`,
    ),
    "",
  );

  L.push(
    "## 2. SQS calls and Lambda invocations per order (relay vs the seed's design)",
    "",
    `Command: part of \`npm run bench\` (bench/relay.ts → \`runRelay\` in local/runner.ts), prod stack (3 regions),`,
    `${relay.orders} orders at ${relay.offered}/s offered for each design. SQS calls are counted at the local SQS server`,
    "(every action, idle long polls included; the harness's own queue set-up and progress",
    "monitoring are counted apart and excluded), Lambda invocations at the local Lambda service",
    "(notify) and the event-source stand-in (forwarder, ack). Local long polls wait 1 s (AWS: up to 20 s),",
    "so idle polls are counted more often here than in AWS.",
    "",
    "The relay's figures include the acknowledgement path of the prod stack (purgeRequires:",
    "confirmed): each DC consumer process gathers the outboxIds it committed and sends them to their",
    `region's ack queue every ${ACK_FLUSH_SECONDS} s (dc/cli.ts's \`--ack-flush-seconds\` default; up to thousands of ids per`,
    "message), and the real ack handler (lambda/ack.ts) behind the event-source stand-in marks them",
    "confirmed with `relay_confirm`. Acknowledgements still waiting for their flush when the run ends",
    "are sent at shutdown, after the count (at most one message per consumer and region).",
    "",
    "Seed design (seeds/000): `bench/seed-trigger.sql` replaces the capture trigger with one that calls",
    "`lambda_async` once per row inside the INSERT (no outbox, no dispatch event); each invocation",
    "sends one `SendMessage` per order straight to the queue the DC reads (no regional queue, no",
    "forwarder); the DC consumer receives with `MaxNumberOfMessages` 1 and deletes each message on its",
    "own (a one-entry `DeleteMessageBatch` call — one call per message, like `DeleteMessage`).",
    "",
    "| design | orders | delivered | SQS calls/order | of which idle polls/order | by action | Lambda invocations/order | p50 / p99 ms |",
    "|---|---|---|---|---|---|---|---|",
    ...[relay, seed].map(
      (p) =>
        `| ${p.design === "relay" ? "relay (this project)" : "seed"} | ${p.inserted} | ${p.delivered} | **${p.sqsCallsPerOrder}** | ${p.idleReceivesPerOrder ?? "n/a"} | ${callList(p.sqsCalls)} | **${p.invocationsPerOrder}** (notify ${p.notifyInvocations}, forwarder ${p.forwarderInvocations}${p.ack ? `, ack ${p.ack.invocations}` : ""}) | ${p.p50} / ${p.p99} |`,
    ),
    "",
    ...(relay.ack
      ? [
          `The acknowledgement path alone, included above: **${relay.ack.sqsCallsPerOrder}** extra SQS calls per order (${callList(relay.ack.sqsCalls)}) and **${relay.ack.invocationsPerOrder}** extra Lambda invocations per order (${relay.ack.invocations} ack invocations) — goals ≤ 0.05 and ≤ 0.01: ${verdict(relay.ack.sqsCallsPerOrder <= 0.05 && relay.ack.invocationsPerOrder <= 0.01)}.`,
          "",
        ]
      : []),
    `Goals: ≤ 0.7 SQS calls/order — ${verdict(relay.sqsCallsPerOrder <= 0.7)} (floor 0.6: one message per order, 10-entry`,
    `batches on every hop = notify send + forwarder receive/send/delete + DC receive/delete = 6 calls per 10`,
    `orders); ≤ 0.15 invocations/order — ${verdict(relay.invocationsPerOrder <= 0.15)}. The seed design needs`,
    `×${round(seed.sqsCallsPerOrder / Math.max(relay.sqsCallsPerOrder, 0.001), 1)} the SQS calls and ×${round(seed.invocationsPerOrder / Math.max(relay.invocationsPerOrder, 0.001), 1)} the invocations per order.`,
    "",
    "Calls per order depend on the load: idle polls are a fixed cost per second (here 3 regions × 2",
    "pollers + 3 DC consumers, each at most one empty 1 s long poll per second), and at low rates",
    "batches are not full. The per-load values are in the table of figure 3:",
    sweep
      .map(
        (p) =>
          `${p.offered}/s → ${p.sqsCallsPerOrder} calls (idle ${p.idleReceivesPerOrder ?? "n/a"}), ${p.invocationsPerOrder} invocations`,
      )
      .join("; ") + ".",
    "With AWS's 20 s long polls the idle share would be a twentieth of the local one.",
    "",
  );

  L.push(
    "## 3. End-to-end latency and sustained throughput (prod stack, 3 regions)",
    "",
    `Command: part of \`npm run bench\`; each point is a fresh \`runRelay\` (own MariaDB) with ${r.settings.sweep.seconds} s of load at the`,
    "offered rate, then a drain until every order is at the DC. Latency = DC `received_at` −",
    "trigger `occurred_at` per order (same clock). *inserted/s* = what the storefront stand-in achieved",
    "(16 INSERTs in flight); *delivered/s* = orders at the DC / (first INSERT → last arrival, so the",
    "latency tail is in it); *steady delivered/s* = arrival rate at the DC while 20 % → 90 % of the orders",
    "arrived (the sustained figure). Steady-state CPU: whole machine (/proc/stat) and per process",
    "(/proc/<pid>/stat of the runner's children) over the same window, per order delivered in it.",
    "",
    "| offered/s | orders | lost | p50 ms | p95 ms | p99 ms | inserted/s | delivered/s | steady delivered/s | SQS calls/order | invocations/order | steady-state CPU-ms/order: machine / runner | machine busy (steady / whole run) |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...sweep.map(
      (p) =>
        `| ${p.offered} | ${p.inserted} | ${p.lost} | ${p.p50} | ${p.p95} | ${p.p99} | ${p.insertedPerSecond} | ${p.deliveredPerSecond} | ${p.steadyDeliveredPerSecond} | ${p.sqsCallsPerOrder} | ${p.invocationsPerOrder} | ${p.marginalCpuMsPerOrder} / ${p.marginalRunnerCpuMsPerOrder} | ${Math.round(p.marginalBusy * 100)}% / ${Math.round(p.machineBusy * 100)}% |`,
    ),
    "",
    `Goals: p99 ≤ 2 s at ≥ 1,000 orders/s — ${verdict(!!at1000 && at1000.p99 <= 2000 && bestThroughput >= 1000)}; 0 lost — ${verdict(allDelivered)}.`,
    `Highest offered load with p99 ≤ 2 s: ${maxWithin || "none"}/s. Best sustained delivery: ${bestThroughput}/s. Machine busy up to ${Math.round(maxBusy * 100)}% (steady state).`,
    "",
    "![latency and throughput against offered load](latency.svg)",
    "",
    ...boundSection(r, sweep, bestThroughput),
  );

  L.push(
    "## 4. Offline plan time",
    "",
    `Command: part of \`npm run bench\` (bench/plan.ts): \`tsx bench/plan-child.ts <N>\` in a fresh process per run`,
    `(median of ${r.settings.planRepeats}). Synthetic stacks from the prod stack: its 3 regions first, then the AWS provider's`,
    "other commercial regions (`aws.Region`, partition `aws`) in name order, each shaped like prod's",
    "serverless regions with its own /16. *plan* = `runOffline` (the program on the offline engine);",
    "*process* = spawn → exit (node + tsx start, imports, plan).",
    "",
    "| regions | resources | plan ms | process ms | plan ms / region | plan ms, source-mapped stacks off |",
    "|---|---|---|---|---|---|",
    ...r.plan.points.map(
      (p) =>
        `| ${p.regions} | ${p.resources} | ${p.planMs} | ${p.wallMs} | ${round(p.planMs / p.regions, 0)} | ${p.planNoSourceMapsMs} |`,
    ),
    "",
    `Linear fit (plan): ${round(r.plan.fit.intercept, 0)} ms + ${round(r.plan.fit.slope, 0)} ms × regions, R² = ${round(r.plan.fit.r2, 4)}.`,
    `Linear fit (process): ${round(r.plan.wallFit.intercept, 0)} ms + ${round(r.plan.wallFit.slope, 0)} ms × regions, R² = ${round(r.plan.wallFit.r2, 4)}.`,
    `Goal: linear growth, 20 regions ≤ 10 s — plan ${verdict(!!plan20 && plan20.planMs <= 10_000 && r.plan.fit.r2 >= 0.98)}, whole fresh process ${verdict(!!plan20 && plan20.wallMs <= 10_000)}.`,
    "",
    "What the time went to (`node --cpu-prof --import tsx bench/plan-child.ts 20`): in the first",
    "wave about a third of the plan was Node formatting source-mapped stack traces — `@pulumi/pulumi`'s",
    "`debuggablePromise` stores `new Error().stack` on every resource promise, and under tsx every",
    "frame was mapped through a source map — so `offline/engine.ts` turned source maps off and kept 3",
    "frames during a run (commit 61bfca2). With the acknowledgement path and its alarms a region grew",
    "from 60 to 96 resources and the plan to 11 s at 20 regions, a quarter of it still those 3 frames",
    "per promise (`debuggablePromise`, `defaultPrepareStackTrace`); the engine now keeps none (errors",
    "keep their messages; `OFFLINE_STACK_TRACE_LIMIT=50` brings stacks back for debugging): 8 s. The",
    "rest is GC (≈14 %), esbuild bundling the three handlers (≈10 % of a cold plan: the ack handler",
    "bundles mysql2 and the RDS signer) and the Pulumi runtime's (de)serialisation (google-protobuf).",
    "`lambda/bundle.ts` now keeps each bundle in `node_modules/.cache/order-relay/bundles/` with the",
    "hash of every file esbuild read, and reuses it only while all of them hash the same: the runs",
    "above come after figure 5 built the bundles, so they reuse them, as every plan after a",
    "checkout's first does (the first pays about 2 s more). The",
    `growth per region is the resources per region (${plan20 ? round((plan20.resources - (r.plan.points[0]?.resources ?? 0)) / Math.max(plan20.regions - (r.plan.points[0]?.regions ?? 0), 1), 0) : "n/a"} each): linear by construction.`,
    "",
  );

  L.push(
    "## 5. Handler bundles",
    "",
    "Command: part of `npm run bench` (bench/bundles.ts). The esbuild bundle the program deploys",
    "(`lambda/bundle.ts`), written to `bench/.work/<handler>.js` and loaded in a fresh `node` process:",
    "*require* = loading the module; *first call* = the first `handler()` call, which builds the SQS",
    `client, logger and metrics from the environment (the event is rejected before any network call). Median of ${r.settings.bundleRepeats}.`,
    "",
    "| handler | bytes | gzip | require ms | first call ms | init ms (sum) |",
    "|---|---|---|---|---|---|",
    ...r.bundles.map(
      (b) =>
        `| ${b.handler} | ${b.bytes} (${kib(b.bytes)}) | ${b.gzipBytes} (${kib(b.gzipBytes)}) | ${b.requireMs} | ${b.firstCallMs} | ${b.initMs} |`,
    ),
    "",
  );
  if (r.dc) L.push(...renderDcThroughput(r.dc));
  L.push(...renderCapacitySection(capacity));
  return `${L.join("\n")}\n`;
}
