/**
 * The "Capacity" section of bench/RESULTS.md, rendered from bench/capacity-results.json (written
 * by `npx tsx bench/capacity.ts`, which measures the pieces and runs the capacity model). The
 * figures are not re-measured by `npm run bench`: the section says when and by which commands
 * they were measured. Pure rendering; `readCapacityResults()` is the only I/O.
 */
import { existsSync, readFileSync } from "node:fs";
import { CAPACITY_RESULTS_FILE } from "../offline/cost";
import type { CapacityResults } from "./capacity";
import type { DispatchPoint } from "./capacity-dispatch";
import { dispatchRate } from "./capacity-model";

/** The goal of issue 15: rows/s one region's dispatch hands off. */
export const DISPATCH_GOAL_ROWS_PER_SECOND = 5000;

export const CAPACITY_COMMANDS = [
  "npx tsx bench/capacity.ts                  # every piece, then the model; writes bench/capacity-results.json",
  "npx tsx bench/capacity.ts --only dispatch  # or --only handlers; the other pieces keep their figures",
  "npx tsx bench/capacity-doc.ts              # docs/cost-and-capacity.md from the same file",
];

/** bench/capacity-results.json, or undefined when it does not exist or cannot be read. */
export function readCapacityResults(file = CAPACITY_RESULTS_FILE): CapacityResults | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as CapacityResults;
  } catch {
    return undefined;
  }
}

const fmt = (n: number | undefined) =>
  n === undefined || !Number.isFinite(n)
    ? n === Infinity
      ? "unbounded"
      : "?"
    : Math.round(n).toLocaleString("en-US");

const best = (p: DispatchPoint) => p.best?.rowsPerSecondSustained ?? p.rowsPerSecondSustained;

/** The Summary table's rows for the capacity figures (none without the results file). */
export function capacitySummaryRows(results: CapacityResults | undefined): string[] {
  if (!results) return [];
  const dispatch =
    results.dispatch && !results.dispatch.blocker ? results.dispatch : results.dispatchFallback;
  const model = results.model;
  const rows: string[] = [];
  const hop = model?.regions[0]?.hops.find((h) => /^dispatch/.test(h.hop));
  if (dispatch && hop) {
    const met = (hop.ordersPerSecond ?? 0) >= DISPATCH_GOAL_ROWS_PER_SECOND;
    rows.push(
      `| C | dispatch rows/s per region, ~500-byte rows, ${dispatch.awsLatencyMs} ms per lambda_async call (bench/capacity.ts, see Capacity) | ${fmt(hop.ordersPerSecond)} at the prod stack's settings | ≥ ${fmt(DISPATCH_GOAL_ROWS_PER_SECOND)} | **${met ? "met" : "missed"}** |`,
    );
  }
  if (model) {
    rows.push(
      `| C | prod stack ceiling (capacity model, orders split evenly) | ${fmt(model.evenSplitCeiling)} orders/s; first to saturate: ${model.firstToSaturate ?? "?"} | (stated) | |`,
    );
  }
  return rows;
}

/** The section's lines (markdown), starting with its heading. */
export function renderCapacitySection(results: CapacityResults | undefined): string[] {
  const L = ["## Capacity (bench/capacity.ts)", ""];
  if (!results) {
    return [
      ...L,
      "No bench/capacity-results.json yet: run `npx tsx bench/capacity.ts` (it is not part of",
      "`npm run bench`); this section is rendered from that file.",
      "",
    ];
  }
  const dispatch =
    results.dispatch && !results.dispatch.blocker ? results.dispatch : results.dispatchFallback;
  const model = results.model;
  const load = results.loadAverage?.dispatch;
  L.push(
    "Not re-measured by `npm run bench`: rendered from `bench/capacity-results.json`, which these",
    "commands write (each piece keeps its own date; docs/cost-and-capacity.md has every figure):",
    "",
    "```sh",
    ...CAPACITY_COMMANDS,
    "```",
    "",
    `Dispatch measured ${load?.measuredAt ?? results.measuredAt} by \`${dispatch?.command ?? "?"}\`` +
      (load ? ` (1-minute load average ${load.start} → ${load.end} on this shared machine)` : "") +
      "; handlers by " +
      `\`${results.handlers?.command ?? "?"}\`.`,
    "",
  );
  if (dispatch) {
    const latency = dispatch.awsLatencyMs;
    const points = dispatch.points.filter(
      (p) => p.schema === "prod-like" && p.variant === "call-only" && p.latencyMs === latency,
    );
    L.push(
      `### relay_dispatch(): rows/s one region hands off (~500-byte rows, lambda_async ${latency} ms per call)`,
      "",
      "| sessions | batch size | rows/s sustained, event every 1 s: median / **best** | rows per call | runs |",
      "|---|---|---|---|---|",
      ...points.map(
        (p) =>
          `| ${(p.dispatchers ?? 1) === 2 ? "2 (relay_dispatch + helper)" : "1 (relay_dispatch)"} | ${p.batchSize} | ${fmt(p.rowsPerSecondSustained)} / **${fmt(best(p))}** | ${p.callsPerRun > 0 ? fmt(p.rowsPerRun / p.callsPerRun) : "?"} | ${p.runs} |`,
      ),
      "",
    );
    const hop = model?.regions[0]?.hops.find((h) => /^dispatch/.test(h.hop));
    const figure = hop?.ordersPerSecond;
    const top = Math.max(0, ...points.map(best));
    const met = figure !== undefined && figure >= DISPATCH_GOAL_ROWS_PER_SECOND;
    L.push(
      `Goal dispatch ≥ ${fmt(DISPATCH_GOAL_ROWS_PER_SECOND)} rows/s per region: **${met ? "met" : "missed"}** — ` +
        `${fmt(figure)} rows/s at the prod stack's settings (${hop ? hop.basis : "no model"}); ` +
        `best measured point ${fmt(top)} rows/s. ` +
        `Serial figure at batch 500: ${fmt(dispatchRate(dispatch, 500, latency, 1))} rows/s.`,
      "",
    );
  }
  if (model) {
    L.push(
      `### Prod stack, hop by hop (orders/s; capacity model, bench/capacity-model.ts)`,
      "",
      "| region | ceiling | first hop to saturate |",
      "|---|---|---|",
      ...model.regions.map((r) => `| ${r.region} | ${fmt(r.ceiling)} | ${r.bottleneck ?? "?"} |`),
      ...model.shared.map((h) => `| all (shared) | ${fmt(h.ordersPerSecond)} | ${h.hop} |`),
      "",
      `Stack ceiling with orders split evenly over ${model.regions.length} regions: **${fmt(model.evenSplitCeiling)} orders/s**; ` +
        `first to saturate: ${model.firstToSaturate ?? "?"} (lifted by ${model.lift ?? "?"})` +
        (model.next
          ? `; then ${model.next.bottleneck ?? "?"} at ${fmt(model.next.ceiling)} orders/s.`
          : "."),
      ...(model.unmeasured.length
        ? ["", ...model.unmeasured.map((u) => `Not measured: ${u}`)]
        : []),
      "",
    );
  }
  return L;
}
