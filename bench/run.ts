/**
 * `npm run bench [-- --quick]`: measures the relay against the goals of issue 6 and writes
 * bench/RESULTS.md and bench/latency.svg (raw numbers: bench/.work/results.json).
 *
 *   1. INSERT cost of the relay trigger (bench/trigger.ts)
 *   2. SQS calls and Lambda invocations per order, relay vs the seed's design (bench/relay.ts)
 *   3. end-to-end latency and sustained orders/s on the prod stack (bench/relay.ts)
 *   4. offline plan time for 1, 5, 10, 20 regions (bench/plan.ts, a fresh process each)
 *   5. bundle size and module-init time per handler (bench/bundles.ts)
 *   6. plot of latency and throughput against offered load (bench/svg.ts)
 *
 * Full run ≈ 6 minutes on 2 cores; --quick ≈ 2 minutes (fewer rounds, shorter loads);
 * --render re-writes RESULTS.md and latency.svg from the last run's bench/.work/results.json.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { startPrivateMariaDb } from "../emulators/mariadb";
import { bundleFigure } from "./bundles";
import { machine } from "./machine";
import { planFigure } from "./plan";
import { BENCH_MARIADB_ARGS, relayRun, type RelayPoint } from "./relay";
import { renderResults } from "./results";
import { plotSvg } from "./svg";
import { triggerFigure } from "./trigger";
import { WORK } from "./util";

// This machine runs Node 20; the AWS SDK's notice that its 2027 releases need Node 22 would sit in
// the middle of the output (the lockfile pins today's SDK; the Lambdas run nodejs24.x).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

export interface BenchSettings {
  readonly quick: boolean;
  readonly trigger: { rounds: number; perRound: number };
  readonly bundleRepeats: number;
  readonly planCounts: number[];
  readonly planRepeats: number;
  readonly calls: { rate: number; seconds: number };
  readonly sweep: { rates: number[]; seconds: number };
}

function settingsFor(quick: boolean): BenchSettings {
  return quick
    ? {
        quick,
        trigger: { rounds: 5, perRound: 300 },
        bundleRepeats: 3,
        planCounts: [1, 5, 10, 20],
        planRepeats: 1,
        calls: { rate: 300, seconds: 5 },
        sweep: { rates: [250, 1000], seconds: 4 },
      }
    : {
        quick,
        trigger: { rounds: 11, perRound: 1000 },
        bundleRepeats: 7,
        planCounts: [1, 5, 10, 20],
        planRepeats: 2,
        calls: { rate: 500, seconds: 10 },
        sweep: { rates: [100, 250, 500, 1000, 2000], seconds: 8 },
      };
}

/** `--render`: re-renders RESULTS.md and the SVG from bench/.work/results.json (no measuring). */
function render(): void {
  const results = JSON.parse(readFileSync(path.join(WORK, "results.json"), "utf8")) as Parameters<
    typeof renderResults
  >[0];
  writeFileSync(
    path.join(__dirname, "latency.svg"),
    plotSvg(results.sweep, "order relay, prod stack (3 regions) on this machine"),
  );
  writeFileSync(path.join(__dirname, "RESULTS.md"), renderResults(results));
}

async function main(): Promise<void> {
  if (process.argv.includes("--render")) return render();
  const quick = process.argv.includes("--quick");
  const settings = settingsFor(quick);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const started = Date.now();
  const command = `npm run bench${quick ? " -- --quick" : ""}`;
  mkdirSync(WORK, { recursive: true });

  log("machine");
  const host = machine();
  log(`  ${host.nproc} cpus, ${host.memoryGiB} GiB, node ${host.node}, ${host.mariadb}`);

  log("1. trigger cost (durable commit, then flush once a second)");
  const trigger: Record<string, Awaited<ReturnType<typeof triggerFigure>>> = {};
  for (const [name, args] of [
    ["durable", [] as string[]],
    ["flush2", BENCH_MARIADB_ARGS],
  ] as const) {
    const db = await startPrivateMariaDb({ eventScheduler: true, extraArgs: [...args] });
    try {
      trigger[name] = await triggerFigure(db, settings.trigger.rounds, settings.trigger.perRound);
      log(
        `  ${name}: median ×${trigger[name]!.medianRatio} (${trigger[name]!.plainPerSecond}/s plain, ${trigger[name]!.triggerPerSecond}/s with trigger)`,
      );
    } finally {
      await db.stop();
    }
  }

  log("5. handler bundles");
  const bundles = await bundleFigure(settings.bundleRepeats);
  for (const b of bundles)
    log(`  ${b.handler}: ${b.bytes} B (gzip ${b.gzipBytes} B), init ${b.initMs} ms`);

  log("4. offline plan time");
  const plan = await planFigure(settings.planCounts, settings.planRepeats, log);

  log("2. SQS calls and Lambda invocations per order: relay vs seed design");
  const orders = settings.calls.rate * settings.calls.seconds;
  const callsRelay = await relayRun({ design: "relay", rate: settings.calls.rate, orders, log });
  const callsSeed = await relayRun({ design: "seed", rate: settings.calls.rate, orders, log });

  log("3/6. latency and throughput against offered load (prod stack)");
  const sweep: RelayPoint[] = [];
  for (const rate of settings.sweep.rates) {
    sweep.push(
      await relayRun({ design: "relay", rate, orders: rate * settings.sweep.seconds, log }),
    );
  }

  const svg = plotSvg(sweep, "order relay, prod stack (3 regions) on this machine");
  writeFileSync(path.join(__dirname, "latency.svg"), svg);
  const results = {
    command,
    settings,
    host,
    trigger,
    bundles,
    plan,
    calls: { relay: callsRelay, seed: callsSeed },
    sweep,
    totalSeconds: Math.round((Date.now() - started) / 1000),
  };
  writeFileSync(path.join(WORK, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(path.join(__dirname, "RESULTS.md"), renderResults(results));
  log(`wrote bench/RESULTS.md and bench/latency.svg in ${results.totalSeconds} s`);
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(
        `bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
      process.exit(1);
    },
  );
}
