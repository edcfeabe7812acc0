/**
 * `npx tsx bench/capacity-doc.ts` — writes docs/cost-and-capacity.md: the prod stack's monthly
 * cost at 10k, 100k and 1M orders/day (offline/cost.ts on the offline plan, prices from
 * offline/prices.json), the seed design beside it, and the capacity model from the figures
 * bench/capacity.ts measured (bench/capacity-results.json). Nothing in the document is typed by
 * hand: re-run this after either input changes.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  ASSUMPTION_NOTES,
  BENCH_MEASURED,
  CAPACITY_RESULTS_FILE,
  DEFAULT_ASSUMPTIONS,
  lambdaCpuScale,
  costOfRun,
  describePlan,
  DAYS_PER_MONTH,
  NOT_COUNTED,
  RTT_MS,
  sqsCallRttMs,
  type CostAssumptions,
  type SeedComparison,
} from "../offline/cost";
import { runStack } from "../offline/engine";
import { loadPrices } from "../offline/prices";
import type { CapacityResults } from "./capacity";
import { AWS_LIMITS, capacityModel, dispatchRate, type StackCapacity } from "./capacity-model";

export const DOC_FILE = join(__dirname, "..", "docs", "cost-and-capacity.md");
const VOLUMES = [10_000, 100_000, 1_000_000];

const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const usd = (n: number) => (n >= 100 ? `$${fmt(n)}` : n >= 1 ? `$${fmt(n, 2)}` : `$${fmt(n, 3)}`);
const perDay = (perSecond: number | undefined) =>
  perSecond === undefined
    ? "?"
    : `~${Number((perSecond * 86400).toPrecision(3)).toLocaleString("en-US")}`;
const ops = (n: number | undefined) =>
  n === undefined ? "not measured" : n === Infinity ? "unbounded" : fmt(n);

function costSection(stack: string, comparisons: SeedComparison[]): string[] {
  const regions = comparisons[0].relay.regions.map((r) => r.region);
  const lines = [
    "## What the prod stack costs per month",
    "",
    "```sh",
    "npm run plan -- --stack prod --cost --orders-per-day 100000          # the table, per region",
    "npm run plan -- --stack prod --cost --orders-per-day 100000 --json   # the same as a `cost` object",
    "```",
    "",
    `Stack \`${stack}\`, orders split evenly over its ${regions.length} regions, 730-hour month, on-demand list prices in USD.`,
    "",
    `| orders/day | ${regions.join(" | ")} | **total** | per 1,000 orders | of which the clusters¹ | all but the clusters | seed design | relay − seed | SQS calls / invocations per order² |`,
    `| --- | ${regions.map(() => "---").join(" | ")} | --- | --- | --- | --- | --- | --- | --- |`,
  ];
  for (const c of comparisons) {
    const perRegion = regions.map((r) => usd(c.relay.regions.find((x) => x.region === r)!.usd));
    const clusters = c.relay.regions
      .flatMap((r) => r.items)
      .filter((i) => i.category === "Aurora" && i.sharedWithSeed)
      .reduce((s, i) => s + i.usd, 0);
    const per1000 = (c.relay.usd / (c.relay.ordersPerDay * DAYS_PER_MONTH)) * 1000;
    const diff = c.relay.usd - c.seed.usd;
    lines.push(
      `| ${fmt(c.relay.ordersPerDay)} | ${perRegion.join(" | ")} | **${usd(c.relay.usd)}** | ${usd(per1000)} | ${usd(clusters)} | ${usd(c.relay.usd - clusters)} | ${usd(c.seed.usd)} | ${diff >= 0 ? "+" : "−"}${usd(Math.abs(diff))} | ${fmt(c.relay.perOrder.sqsCalls, 2)} / ${fmt(c.relay.perOrder.lambdaInvocations, 2)} |`,
    );
  }
  const mid = comparisons[1];
  lines.push(
    "",
    "¹ Aurora instances or Serverless v2 capacity (the storefront's own database, which the program creates; Serverless v2 at min capacity plus the stated 10 % utilisation of its span). The seed design pays them alike.",
    `² Derived by the model at that volume, idle long polls and the acknowledgement path included. bench/RESULTS.md measured ${BENCH_MEASURED.sqsCallsPerOrder} SQS calls and ${BENCH_MEASURED.lambdaInvocationsPerOrder} invocations per order at ${BENCH_MEASURED.atOrdersPerSecondPerRegion} orders/s per region, where every batch is full (test/cost/cost.test.ts checks the model converges to it); at these volumes (${comparisons.map((c) => fmt(c.relay.ordersPerDay / regions.length / 86400, 2)).join(", ")} orders/s per region) most dispatch runs and forwarder batches hold one or a few orders, so the relay makes more calls per order than its full-batch figure — more than the seed's 3 and 1 where the row says so.`,
    "",
    `### Where it goes at ${fmt(mid.relay.ordersPerDay)} orders/day, relay beside the seed`,
    "",
    "| category | relay | seed design |",
    "| --- | --- | --- |",
    ...mid.byCategory.map((c) => `| ${c.category} | ${usd(c.relayUsd)} | ${usd(c.seedUsd)} |`),
    `| **total** | **${usd(mid.relay.usd)}** | **${usd(mid.seed.usd)}** |`,
    "",
    `Without the lines both designs pay alike (clusters, master secret, Lambda endpoint hours): relay ${usd(mid.variable.relayUsd)}, seed ${usd(mid.variable.seedUsd)} a month.`,
  );
  const largest = mid.relay.regions
    .flatMap((r) => r.items)
    .filter((i) => !i.sharedWithSeed)
    .reduce<Record<string, number>>(
      (acc, i) => ({ ...acc, [i.category]: (acc[i.category] ?? 0) + i.usd }),
      {},
    );
  const [topCategory, topUsd] = Object.entries(largest).sort((a, b) => b[1] - a[1])[0];
  lines.push(
    "",
    `The largest line of the relay's own at this volume is ${topCategory} (${usd(topUsd)} a month)` +
      (topCategory === "X-Ray"
        ? ": every function runs with tracing Active and the account's default sampling rule records the first invocation each second in each region, which at these rates is nearly every invocation; a sampling rule with a smaller reservoir (or tracing PassThrough) removes most of it."
        : "."),
  );
  const breakEven = comparisons.find(
    (c) => c.breakEvenOrdersPerDay !== undefined,
  )?.breakEvenOrdersPerDay;
  lines.push(
    "",
    breakEven !== undefined
      ? `**Saving.** Below ~${fmt(breakEven)} orders/day the relay costs more than the seed design: its alarms, custom metrics, X-Ray traces, dashboard, alarm-topic keys, second queue hop and the acknowledgement path are fixed costs, and at low volume its batches are not full. Above it the saving grows with volume (the seed pays 1 invocation and 3 SQS requests per order, cross-region one call per order): ${comparisons
          .map(
            (c) =>
              `${fmt(c.relay.ordersPerDay)}/day: ${c.savingUsd >= 0 ? `saves ${usd(c.savingUsd)}` : `costs ${usd(-c.savingUsd)} more`}`,
          )
          .join("; ")} a month.`
      : "",
    "",
    "The seed design as priced (seeds/000, bench/seed-trigger.sql): the trigger calls `lambda_async` once per order inside the INSERT (no outbox, no dispatch, no purge), the function sends one `SendMessage` per order to a standard queue in the aggregator's region, the DC receives one message per call and deletes it — 1 invocation and 3 SQS calls per order; no DLQs, alarms, metrics or tracing. What it does not buy: rolled-back orders are sent, a Lambda outage fails the storefront's INSERT, and `order_data` is never purged.",
  );
  return lines;
}

function countedSection(comparison: SeedComparison): string[] {
  const a = comparison.relay.assumptions;
  const m = comparison.relay.measured;
  const prices = loadPrices();
  const used = [
    ...new Set(comparison.relay.regions.flatMap((r) => r.items.map((i) => i.price.key))),
  ].sort();
  return [
    "### What is counted",
    "",
    "One line item per priced thing per region (`npm run plan -- --cost` prints each with its quantity, unit price, the price's region, and how the quantity follows): Aurora instance-hours per class or Serverless v2 ACU-hours (min capacity + stated utilisation), the outbox's storage, Aurora I/O (outbox insert, dispatch's mark per batch, relay_state every second, heartbeat, purge, relay_confirm), backup storage beyond the free amount, the RDS-managed master secret, interface endpoint AZ-hours and GB processed (or NAT GB with `lambdaAccess: nat`), SQS requests by queue type (64 KiB chunks; idle long polls counted), Lambda requests and GB-seconds (the plan's memory and architecture × measured handler time + network round trips per SQS call), X-Ray traces (tracing Active, default sampling), log ingestion and storage (measured bytes per invocation + platform lines, the plan's retention), CloudWatch alarms (standard vs high-resolution; metric-math and anomaly-detection metric counts), custom metrics (contract/metrics.ts names × 1 dimension set, per handler that runs in the region), the dashboard, KMS keys and requests, SNS topic publishes and emails (with `alarms.email`), inter-region transfer forwarder → aggregator, and the DC reading the aggregator over the internet.",
    "",
    "### What is not counted",
    "",
    ...NOT_COUNTED.map((n) => `- ${n}`),
    "",
    "### Assumptions",
    "",
    "| assumption | value | why |",
    "| --- | --- | --- |",
    ...Object.entries(a).map(
      ([k, v]) => `| \`${k}\` | ${v} | ${ASSUMPTION_NOTES[k as keyof CostAssumptions]} |`,
    ),
    "",
    `Handler CPU time measured on one core of this machine (\`${m.command}\`, ${m.measuredAt ?? "?"}), × ${a.lambdaVcpuMemoryMb}/memory for the function's CPU share: notify ${m.notify.fixedMs} ms + ${m.notify.perRecordMs} ms per record, forwarder ${m.forwarder.fixedMs} ms + ${m.forwarder.perRecordMs} ms per record${m.ack ? `, ack ${m.ack.fixedMs} ms + ${m.ack.perRecordMs} ms per message (+ ${a.ackDbCallMs} ms assumed for relay_confirm in Aurora)` : ""}; plus per SQS call a round trip of ${RTT_MS.same} ms in the region and ${Object.entries(
      RTT_MS,
    )
      .filter(([k]) => k.includes("|"))
      .map(([k, v]) => `${k.replace("|", "↔")} ${v} ms`)
      .join(", ")} (approximate public inter-region figures, not measured here).`,
    "",
    "### Prices",
    "",
    `${prices.provenance} ${comparison.relay.prices.unverified} of the ${used.length} prices this estimate uses are unverified. Rebuild them when online with \`npx tsx offline/refresh-prices.ts\` (AWS Price List bulk API offer files; the parser is tested on a sample of the format in test/cost/fixtures/). A region a price does not list gets that price's highest listed figure, flagged on the line.`,
  ];
}

/**
 * The goal of issue 15 (dispatch ≥ 5,000 rows/s per region) against the model's dispatch figure,
 * and what bounds it, from the measured points: the SQL time per call as fixed + per-row ms
 * (fitted through the 0 ms points of relay_dispatch alone at batch 100 and 500), the rows one
 * call carries, and what that allows one session at the AWS latency.
 */
export function dispatchGoal(results: CapacityResults, model: StackCapacity): string[] {
  const d =
    results.dispatch && !results.dispatch.blocker ? results.dispatch : results.dispatchFallback;
  if (!d) return [];
  const latency = d.awsLatencyMs;
  const hop = model.regions[0]?.hops.find((h) => /^dispatch/.test(h.hop));
  const figure = hop?.ordersPerSecond;
  const batch = /batch (\d+)/.exec(hop?.basis ?? "")?.[1];
  const serial = dispatchRate(d, Number(batch ?? 500), latency, 1);
  const parallel = dispatchRate(d, Number(batch ?? 500), latency, 2);
  const at0 = (b: number) =>
    d.points.find(
      (p) =>
        p.schema === "prod-like" &&
        p.variant === "call-only" &&
        (p.dispatchers ?? 1) === 1 &&
        p.batchSize === b &&
        p.latencyMs === 0,
    );
  const [small, large] = [at0(100), at0(500)];
  const lines: string[] = [];
  const met = figure !== undefined && figure >= 5000;
  lines.push(
    `Goal dispatch ≥ 5,000 rows/s per region: **${met ? "met" : "missed"}** — ${ops(figure)} rows/s at the prod stack's settings (${hop?.basis ?? "?"}).`,
  );
  const p25 = d.points.find(
    (p) =>
      p.schema === "prod-like" &&
      p.variant === "call-only" &&
      (p.dispatchers ?? 1) === 1 &&
      p.batchSize === 500 &&
      p.latencyMs === latency,
  );
  const p2 = d.points.find(
    (p) =>
      p.schema === "prod-like" &&
      p.variant === "call-only" &&
      (p.dispatchers ?? 1) === 2 &&
      p.batchSize === 500 &&
      p.latencyMs === latency,
  );
  if (small && large && small.callsPerRun > 0 && large.callsPerRun > 0) {
    const msPer = (p: typeof small) => p.runMs / p.callsPerRun;
    const rowsPer = (p: typeof small) => p.rowsPerRun / p.callsPerRun;
    const slope = (msPer(large) - msPer(small)) / (rowsPer(large) - rowsPer(small));
    const fixed = msPer(small) - slope * rowsPer(small);
    const rows = rowsPer(large);
    // The share of each second a run uses (the event starts one per second).
    const fill = Math.min(1, (p25?.runMs ?? 900) / 1000);
    const oneSession = (fill * 1000 * rows) / (fixed + slope * rows + latency);
    const sqlBudget = (fill * 1000 * rows) / 5000 - latency;
    const perCore = (fill * 1000 * rows) / (fixed + slope * rows);
    lines.push(
      "",
      `What bounds it. One session is serial: each call costs its SQL time plus one \`lambda_async\` round trip. From the 0 ms points of relay_dispatch alone (medians), the SQL costs ≈ ${fmt(fixed, 1)} ms per call + ${fmt(slope, 3)} ms per row on this machine, and with ~500-byte rows the 200,000-byte payload cap ends a call at ~${fmt(rows)} rows whatever \`dispatchBatchSize\` says above that (the contract keeps the payload under Lambda's 256 KiB async limit). A run uses ~${fmt(fill * 100)} % of its second, so one session reaches ≈ ${fmt(fill, 2)} × ${fmt(rows)} / (${fmt(fixed, 1)} + ${fmt(slope, 3)} × ${fmt(rows)} + ${latency}) ms ≈ ${fmt(oneSession)} rows/s (measured: ${ops(serial)}); 5,000 rows/s from one session would need the SQL of a ${fmt(rows)}-row call to take ≤ ${fmt(sqlBudget, 0)} ms. ` +
        `The helper (a second session, partition 1) overlaps its calls with relay_dispatch's, so the latency no longer adds up: ${ops(parallel)} rows/s measured with both (median ${ops(p2?.rowsPerSecondSustained)})${results.loadAverage?.dispatch ? `, 1-minute load average ${results.loadAverage.dispatch.start} → ${results.loadAverage.dispatch.end} on this 2-core machine` : ""}. Two sessions are then bound by the database's CPU: the SQL alone allows ≈ ${fmt(perCore)} rows/s per core, so the figure needs a second core free for the helper — with other work on the machine (or the storefront busy on a 2-vCPU writer) it falls back towards the one-session figure. Beyond that: a faster \`lambda_async\`, a larger payload cap (Lambda's async limit is 1 MiB since late 2025; the contract's 256 KiB would have to move), more partitions, or a writer with more vCPUs.`,
    );
  }
  return lines;
}

function capacitySection(results: CapacityResults, model: StackCapacity): string[] {
  const h = results.handlers;
  const d =
    results.dispatch && !results.dispatch.blocker ? results.dispatch : results.dispatchFallback;
  const gbsPerMillion = (ms: number, perInvocation: number) =>
    ((ms / 1000) * 0.25 * 1e6) / perInvocation;
  // The prod plan's functions have 256 MB: a 0.145 vCPU share (1769 MB = one vCPU).
  const scale = lambdaCpuScale(256, DEFAULT_ASSUMPTIONS);
  const notifyAws = (n: number) =>
    scale * (h.notify.fixedMs + h.notify.perRecordMs * n) + Math.ceil(n / 10) * RTT_MS.same;
  const fwdAws = (n: number, to: string) =>
    scale * (h.forwarder.fixedMs + h.forwarder.perRecordMs * n) +
    sqsCallRttMs(to, "ap-northeast-1");
  const lines = [
    "## Capacity",
    "",
    "```sh",
    "npx tsx bench/capacity.ts                 # measures every piece, writes bench/capacity-results.json, prints the model",
    "npx tsx bench/capacity.ts --only handlers # or --only dispatch; --quick for fewer repetitions",
    "npx tsx bench/capacity-doc.ts             # regenerates this document",
    "```",
    "",
    `Measured ${results.measuredAt} on ${results.machine.nproc} cores (${results.machine.cpuModel}, node ${results.machine.node}, ${results.machine.mariadb}); 1-minute load average ${Object.entries(
      results.loadAverage ?? {},
    )
      .map(([piece, l]) => `${l.start} → ${l.end} while measuring ${piece} (${l.measuredAt})`)
      .join(
        ", ",
      )} — other work shared the machine (3–4 runnable processes per core), so read the figures to within ±30 %.`,
    "",
    "### The pieces, measured",
    "",
    "| piece | figure | command |",
    "| --- | --- | --- |",
    `| notify handler, CPU time on one core | ${h.notify.fixedMs} ms + ${h.notify.perRecordMs} ms per record; ${h.notify.logFixedBytes} B of logs + EMF per invocation | \`${h.command}\` |`,
    `| forwarder handler, CPU time on one core | ${h.forwarder.fixedMs} ms + ${h.forwarder.perRecordMs} ms per record; ${h.forwarder.logFixedBytes} B + ${h.forwarder.logPerRecordBytes} B per record of logs + EMF | \`${h.command}\` |`,
    ...(h.ack
      ? [
          `| ack handler, CPU time on one core (relay_confirm answered at once) | ${h.ack.fixedMs} ms + ${h.ack.perRecordMs} ms per ack message; ${h.ack.logFixedBytes} B of logs | \`${h.command}\` |`,
        ]
      : []),
    `| notify GB-seconds per million orders, 256 MB | ${fmt(gbsPerMillion(notifyAws(100), 100), 1)} in full batches of 100 (${fmt(notifyAws(100), 1)} ms each in AWS: CPU time × ${fmt(scale, 2)} for 256 MB + 10 SQS round trips); ${fmt(gbsPerMillion(notifyAws(1), 1), 1)} one order per invocation | model |`,
    `| forwarder GB-seconds per million orders, 256 MB | ${fmt(gbsPerMillion(fwdAws(10, "us-west-2"), 10), 1)} (us-west-2) / ${fmt(gbsPerMillion(fwdAws(10, "eu-west-1"), 10), 1)} (eu-west-1) / ${fmt(gbsPerMillion(fwdAws(10, "ap-northeast-1"), 10), 1)} (ap-northeast-1) in batches of 10 — the cross-region round trip dominates | model |`,
  ];
  if (d) {
    const headline = d.points.filter((p) => p.schema === "prod-like" && p.variant === "call-only");
    lines.push(
      `| relay_dispatch() rows/s per region, prod-like ~${headline[0]?.rowJsonBytes ?? 500}-byte rows, lambda_async ${d.awsLatencyMs} ms | ${ops(dispatchRate(d, 500, d.awsLatencyMs, 2))} at batch 500 (the plan's) with relay_dispatch and its helper, ${ops(dispatchRate(d, 500, d.awsLatencyMs))} with relay_dispatch alone; ${ops(dispatchRate(d, 100, d.awsLatencyMs))} alone at batch 100 (best runs) | \`${d.command}\` |`,
    );
  }
  lines.push(
    `| DC consumer rows/s per process | ${results.dc ? `${fmt(results.dc.rowsPerSecond)}${results.dc.note ? ` — ${results.dc.note}` : ""}` : "not measured here: the DC-sink issue (13) owns that benchmark; `bench/capacity.ts` calls `dcCapacity()` of a `bench/dc-*.ts` module when one exists, or takes `--dc-rows-per-second N`"} | ${results.dc?.command ?? "hook"} |`,
  );
  if (d) {
    lines.push(
      "",
      "### relay_dispatch(): rows per second one region hands off",
      "",
      `Each run of the dispatch event (every second, serialised by GET_LOCK, bounded by 200 batches / 900 ms; *2 sessions*: relay_dispatch and relay_dispatch_helper started together on two connections, as their two events start every second when there is a backlog — the helper takes partition 1 of the rows, sql/routines/relay_dispatch.sql) on a private MariaDB migrated by \`migrate()\` like a region. The call latency stands for Aurora's \`lambda_async\` → Lambda Invoke (InvocationType=Event) through the interface endpoint: ${d.awsLatencyMs} ms is a typical in-region round trip for that API on a reused connection (an assumption: no AWS access here), and the sweep shows the dependence. *call-only*: the stand-in replaced in the bench database by a function that only waits and counts (what Aurora's call costs the database); *stand-in*: sql/local/'s stand-in as shipped, which also INSERTs every payload (one more commit per call).` +
        (results.dispatchFallback
          ? ` **Measured on ${results.dispatchFallback.sqlSource}:** the working tree's sql/ is mid-change for issue 12 and failed (${results.dispatch?.blocker}).`
          : ""),
      "",
      `Envelope check: ${d.envelopeCheck}.`,
      "",
      `Each point is ${d.points[0]?.runs ?? "?"} runs; *best* is the least disturbed run (the machine was shared), which the model uses, *median* shows the spread.`,
      "",
      "| rows | lambda_async | sessions | batch size | latency ms | rows per run (median) | run ms (median) | rows/s in a run: median / best | rows/s sustained, event every 1 s: median / **best** | calls per run | payload bytes per call |",
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
      ...d.points.map(
        (p) =>
          `| ${p.schema} (${p.rowJsonBytes} B) | ${p.variant} | ${p.dispatchers ?? 1} | ${p.batchSize} | ${p.latencyMs} | ${fmt(p.rowsPerRun)} | ${fmt(p.runMs)} | ${fmt(p.rowsPerSecondInRun)} / ${fmt(p.best?.rowsPerSecondInRun ?? p.rowsPerSecondInRun)} | ${fmt(p.rowsPerSecondSustained)} / **${fmt(p.best?.rowsPerSecondSustained ?? p.rowsPerSecondSustained)}** | ${p.callsPerRun} | ${fmt(p.payloadBytes)} |`,
      ),
    );
    lines.push("", ...dispatchGoal(results, model));
  }
  lines.push(
    "",
    "### Orders per second each hop carries (prod stack, plan settings)",
    "",
    "| region | hop | orders/s | how | lifted by |",
    "| --- | --- | --- | --- | --- |",
  );
  for (const region of model.regions) {
    for (const hop of region.hops) {
      lines.push(
        `| ${region.region} | ${hop.hop} | ${ops(hop.ordersPerSecond)}${hop.hop === region.bottleneck ? " ←" : ""} | ${hop.basis} | ${hop.lift} |`,
      );
    }
  }
  for (const hop of model.shared) {
    lines.push(`| all | ${hop.hop} | ${ops(hop.ordersPerSecond)} | ${hop.basis} | ${hop.lift} |`);
  }
  lines.push(
    "",
    `**Prod stack ceiling: ${ops(model.evenSplitCeiling)} orders/s** (${perDay(model.evenSplitCeiling)} orders/day) with orders split evenly over the ${model.regions.length} regions — the slowest region saturates first; ${ops(model.sumOfRegionsCeiling)} orders/s if each region ran at its own ceiling. **First to saturate: ${model.firstToSaturate}**; lifted by ${model.lift}.` +
      (model.next
        ? ` With that lifted, the next is ${model.next.bottleneck} at ${ops(model.next.ceiling)} orders/s for the stack (${perDay(model.next.ceiling)} a day); lifted by ${model.next.lift}.`
        : ""),
    "",
    ...model.unmeasured.map((u) => `- Not measured: ${u}`),
    "",
    "### AWS limits that bound the hops",
    "",
    ...Object.values(AWS_LIMITS).map((l) => `- ${l.text} ([source](${l.source}))`),
  );
  return lines;
}

export async function renderDoc(): Promise<string> {
  const results = JSON.parse(readFileSync(CAPACITY_RESULTS_FILE, "utf8")) as CapacityResults;
  const run = await runStack({ stack: "prod" });
  const comparisons = VOLUMES.map((ordersPerDay, i) =>
    costOfRun(run, { ordersPerDay, measured: results.handlers, breakEven: i === 1 }),
  );
  const dispatch =
    results.dispatch && !results.dispatch.blocker ? results.dispatch : results.dispatchFallback;
  const model = capacityModel({
    stack: "prod",
    plan: describePlan(run),
    handlers: results.handlers,
    dispatch,
    dc: results.dc,
    ...(dispatch === results.dispatchFallback && results.dispatchFallback
      ? { dispatchSource: `measured on ${results.dispatchFallback.sqlSource}` }
      : {}),
  });
  return [
    "# Cost and capacity",
    "",
    `Generated by \`npx tsx bench/capacity-doc.ts\` from the offline plan of stack prod (offline/cost.ts, prices in offline/prices.json) and the capacity figures measured by \`npx tsx bench/capacity.ts\` (bench/capacity-results.json, ${results.measuredAt}). Do not edit by hand.`,
    "",
    ...costSection("prod", comparisons),
    "",
    ...countedSection(comparisons[1]),
    "",
    ...capacitySection(results, model),
    "",
  ].join("\n");
}

if (require.main === module) {
  renderDoc().then(
    (text) => {
      writeFileSync(DOC_FILE, text);
      console.log(`wrote ${DOC_FILE}`);
      process.exit(0);
    },
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
