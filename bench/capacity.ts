/**
 * `npx tsx bench/capacity.ts [--only handlers|dispatch|model] [--quick] [--dc-rows-per-second N]`
 *
 * The capacity model, measured piece by piece on this machine (each piece has its module and
 * command), then bounded by the AWS limits of each hop (bench/capacity-model.ts):
 *
 * 1. notify and forwarder handler time per record and log bytes (bench/capacity-handlers.ts):
 *    feeds the cost model's GB-seconds and log ingestion (offline/cost.ts);
 * 2. rows/s one relay_dispatch() run hands off per region, lambda_async with a stated call
 *    latency (bench/capacity-dispatch.ts);
 * 3. DC consumer rows/s per process: measured by the DC-sink issue's benchmark — this file calls
 *    `dcCapacity()` of a `bench/dc-*.ts` module when one exists (the hook), or takes
 *    `--dc-rows-per-second N`;
 * 4. the model: orders/s per hop and region, the stack ceiling, the first part to saturate.
 *
 * Writes bench/capacity-results.json (read by `npm run plan -- --cost`) and prints the tables.
 * Pieces not re-measured keep their previous figures in the file.
 */
import { execFileSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { describePlan, type MeasuredHandlers, CAPACITY_RESULTS_FILE } from "../offline/cost";
import { runStack } from "../offline/engine";
import { measureDispatch, type DispatchFigures } from "./capacity-dispatch";
import { measureHandlers } from "./capacity-handlers";
import { capacityModel, type DcFigure, type StackCapacity } from "./capacity-model";
import { machine } from "./machine";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

export interface LoadWindow {
  readonly measuredAt: string;
  readonly start: number;
  readonly end: number;
}

export interface CapacityResults {
  /** When the last piece was measured (each piece carries its own date and load). */
  readonly measuredAt: string;
  readonly machine: ReturnType<typeof machine>;
  /**
   * 1-minute load average when each piece's measurement started and ended (other work shares
   * this machine).
   */
  readonly loadAverage: Partial<Record<"handlers" | "dispatch", LoadWindow>>;
  readonly handlers: MeasuredHandlers;
  readonly dispatch?: DispatchFigures;
  /** When the working tree's sql/ could not be measured: what was measured instead. */
  readonly dispatchFallback?: DispatchFigures & { readonly sqlSource: string };
  readonly dc?: DcFigure;
  readonly model?: StackCapacity;
}

/**
 * The hook for the DC consumer's figure (measured by the DC-sink issue's benchmark, not here):
 * a bench/dc-*.ts module exporting `dcCapacity()`, else the last result of
 * `npx tsx bench/dc-throughput.ts` (bench/.work/dc-throughput.json: one process, steady rows/s).
 */
async function dcHook(log: (line: string) => void): Promise<DcFigure | undefined> {
  const candidates = readdirSync(__dirname).filter((f) => /^dc-.*\.ts$/.test(f));
  for (const file of candidates) {
    const module = (await import(join(__dirname, file))) as {
      dcCapacity?: () => Promise<DcFigure>;
    };
    if (typeof module.dcCapacity === "function") {
      log(`DC consumer: bench/${file} dcCapacity()`);
      return module.dcCapacity();
    }
  }
  const last = join(__dirname, ".work", "dc-throughput.json");
  if (existsSync(last)) {
    try {
      const figure = JSON.parse(readFileSync(last, "utf8")) as {
        command?: string;
        sink?: { steadyRowsPerSecond?: number; concurrency?: number };
      };
      const rows = figure.sink?.steadyRowsPerSecond;
      if (typeof rows === "number" && rows > 0) {
        const when = statSync(last).mtime.toISOString().slice(0, 16).replace("T", " ");
        log(`DC consumer: ${rows} rows/s from bench/.work/dc-throughput.json (${when})`);
        return {
          rowsPerSecond: rows,
          processes: 1,
          command: figure.command ?? "npx tsx bench/dc-throughput.ts",
          note: `one process with ${figure.sink?.concurrency ?? "?"} receive loops, as the DC-sink benchmark last measured it on this machine (bench/.work/dc-throughput.json, ${when} UTC)`,
        };
      }
    } catch (error) {
      log(`DC consumer: bench/.work/dc-throughput.json unreadable (${(error as Error).message})`);
    }
  }
  log(
    `DC consumer: no bench/dc-*.ts exports dcCapacity() and no bench/.work/dc-throughput.json (${candidates.length ? candidates.join(", ") : "no dc-*.ts"}); not measured`,
  );
  return undefined;
}

/**
 * The dispatch measurement in a checkout of HEAD (`git archive`, outside the working tree, with
 * this tree's node_modules and the capacity modules copied in): the committed SQL side with the
 * TypeScript it was committed with, for when the working tree's is mid-change.
 */
function dispatchAtHead(
  quick: boolean,
  log: (line: string) => void,
): DispatchFigures & { sqlSource: string } {
  const root = join(__dirname, "..");
  const dir = mkdtempSync(join(tmpdir(), "capacity-head-"));
  const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root })
    .toString()
    .trim();
  execFileSync("tar", ["-x", "-C", dir], {
    input: execFileSync("git", ["archive", "HEAD"], { cwd: root, maxBuffer: 1 << 30 }),
  });
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
  for (const file of ["capacity-dispatch.ts", "capacity-rows.ts", "util.ts"]) {
    copyFileSync(join(__dirname, file), join(dir, "bench", file));
  }
  log(`dispatch: measuring in a checkout of ${commit} (${dir})`);
  try {
    const out = execFileSync(
      process.execPath,
      [
        join(root, "node_modules", "tsx", "dist", "cli.mjs"),
        "bench/capacity-dispatch.ts",
        ...(quick ? ["--quick"] : []),
      ],
      { cwd: dir, stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 26 },
    );
    return {
      ...(JSON.parse(out.toString()) as DispatchFigures),
      sqlSource: `sql/ and its TypeScript at commit ${commit}`,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function previous(): Partial<CapacityResults> {
  if (!existsSync(CAPACITY_RESULTS_FILE)) return {};
  return JSON.parse(readFileSync(CAPACITY_RESULTS_FILE, "utf8")) as Partial<CapacityResults>;
}

const fmt = (n: number | undefined) =>
  n === undefined
    ? "not measured"
    : n === Infinity
      ? "unbounded"
      : Math.round(n).toLocaleString("en-US");

export function capacityTable(model: StackCapacity): string {
  const lines = [
    `Capacity of stack ${model.stack} (orders/s each hop passes on at the plan's settings)`,
  ];
  for (const region of model.regions) {
    lines.push(
      "",
      `${region.region}: ceiling ${fmt(region.ceiling)} orders/s (${region.bottleneck ?? "?"})`,
    );
    for (const hop of region.hops) {
      lines.push(
        `  ${fmt(hop.ordersPerSecond).padStart(12)}  ${hop.hop}`,
        `                ${hop.basis}`,
      );
    }
  }
  lines.push("", "Shared by every region:");
  for (const hop of model.shared) {
    lines.push(
      `  ${fmt(hop.ordersPerSecond).padStart(12)}  ${hop.hop}`,
      `                ${hop.basis}`,
    );
  }
  lines.push(
    "",
    `Stack ceiling, orders split evenly over ${model.regions.length} regions: ${fmt(model.evenSplitCeiling)} orders/s` +
      ` (${fmt(model.evenSplitCeiling === undefined ? undefined : model.evenSplitCeiling * 86400)} a day)`,
    `Stack ceiling if each region ran at its own ceiling: ${fmt(model.sumOfRegionsCeiling)} orders/s`,
    `First to saturate: ${model.firstToSaturate ?? "?"}; lifted by: ${model.lift ?? "?"}`,
  );
  if (model.next) {
    lines.push(
      `Then: ${model.next.bottleneck ?? "?"} at ${fmt(model.next.ceiling)} orders/s for the stack; lifted by: ${model.next.lift ?? "?"}`,
    );
  }
  for (const u of model.unmeasured) lines.push(`Not measured: ${u}`);
  return lines.join("\n");
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const only = args.includes("--only") ? args[args.indexOf("--only") + 1] : undefined;
  const quick = args.includes("--quick");
  const dcFlag = args.includes("--dc-rows-per-second")
    ? Number(args[args.indexOf("--dc-rows-per-second") + 1])
    : undefined;
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const before = previous();
  const today = () => new Date().toISOString().slice(0, 10);
  const load = () => Math.round(loadavg()[0] * 100) / 100;
  const loads: Partial<Record<"handlers" | "dispatch", LoadWindow>> = {
    ...(typeof before.loadAverage === "object" && !("start" in before.loadAverage)
      ? before.loadAverage
      : {}),
  };
  let handlers = before.handlers;
  let dispatch = before.dispatch;
  let dispatchFallback = before.dispatchFallback;
  if (!only || only === "handlers") {
    log("handlers: notify and forwarder in-process against local SQS…");
    const start = load();
    handlers = { ...(await measureHandlers({ reps: quick ? 15 : 60, log })), measuredAt: today() };
    loads.handlers = { measuredAt: today(), start, end: load() };
  }
  if (!only || only === "dispatch") {
    log("dispatch: relay_dispatch() on a private MariaDB…");
    const start = load();
    const options = quick
      ? { rows: 12_000, runs: 2, latenciesMs: [0, 25] }
      : { rows: 45_000, runs: 6 };
    dispatch = await measureDispatch({ ...options, log });
    dispatchFallback = undefined;
    if (dispatch.blocker) {
      log(`dispatch: the working tree's sql/ fails (${dispatch.blocker}); measuring HEAD instead`);
      dispatchFallback = dispatchAtHead(quick, log);
    }
    loads.dispatch = { measuredAt: today(), start, end: load() };
  }
  if (!handlers) throw new Error("no handler figures yet: run without --only first");
  const dc =
    dcFlag !== undefined && Number.isFinite(dcFlag)
      ? { rowsPerSecond: dcFlag, processes: 1, command: `--dc-rows-per-second ${dcFlag}` }
      : await dcHook(log);
  const run = await runStack({ stack: "prod" });
  const usable = dispatch && !dispatch.blocker ? dispatch : (dispatchFallback ?? dispatch);
  const model = capacityModel({
    stack: "prod",
    plan: describePlan(run),
    handlers,
    dispatch: usable,
    dc,
    ...(usable === dispatchFallback && dispatchFallback
      ? {
          dispatchSource: `measured on ${dispatchFallback.sqlSource} (the working tree's sql/ failed: ${dispatch?.blocker})`,
        }
      : {}),
  });
  const results: CapacityResults = {
    measuredAt:
      [loads.handlers?.measuredAt, loads.dispatch?.measuredAt].filter(Boolean).sort().at(-1) ??
      today(),
    machine: machine(),
    loadAverage: loads,
    handlers,
    ...(dispatch ? { dispatch } : {}),
    ...(dispatchFallback ? { dispatchFallback } : {}),
    ...(dc ? { dc } : {}),
    model,
  };
  writeFileSync(CAPACITY_RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);
  console.log(capacityTable(model));
  log(`wrote ${CAPACITY_RESULTS_FILE}`);
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (error) => {
      console.error(`capacity failed: ${error instanceof Error ? error.stack : String(error)}`);
      process.exit(1);
    },
  );
}
