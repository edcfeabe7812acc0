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
 *   7. rows/s one DC consumer process writes from a pre-filled aggregator queue, new sink vs the
 *      old row-by-row path (bench/dc-throughput.ts; alone: `npx tsx bench/dc-throughput.ts`)
 *
 * Full run ≈ 4.5 minutes on 2 cores; --quick ≈ 1.5 minutes (fewer rounds, shorter loads);
 * --render re-writes RESULTS.md and latency.svg from the last run's bench/.work/results.json.
 * `npm run bench -- --help`: every flag, MYSQL_URL, exit codes and what Ctrl-C leaves.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import mysql from "mysql2/promise";
import {
  type CommandSpec,
  envSource,
  mysqlUrl,
  type OptionSpecs,
  parseCommandLine,
  UsageError,
} from "../cli/command";
import { CommandError, interrupted, onInterrupt, runMain, writeErr } from "../cli/process";
import { MariaDbUnavailableError, startPrivateMariaDb } from "../emulators/mariadb";
import { checkServer } from "../local/stages/databases";
import { bundleFigure } from "./bundles";
import { dcThroughputFigure } from "./dc-throughput";
import { machine } from "./machine";
import { planFigure } from "./plan";
import { BENCH_MARIADB_ARGS, relayRun, type RelayPoint } from "./relay";
import { renderResults } from "./results";
import { plotSvg } from "./svg";
import { triggerFigure } from "./trigger";
import { WORK } from "./util";

// On a Node older than the engines' 24 the AWS SDK's notice that its 2027 releases need Node 22
// would sit in the middle of the output; on 24 there is none.
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

export const BENCH_COMMAND = {
  usage: "npm run bench --",
  summary:
    "Measures the relay and writes bench/RESULTS.md and bench/latency.svg (raw numbers: " +
    "bench/.work/results.json): 1. INSERT cost of the capture trigger; 2. SQS calls and Lambda " +
    "invocations per order, relay vs the seed's design; 3. end-to-end latency and orders/s on " +
    "the prod stack; 4. offline plan time for 1, 5, 10 and 20 regions; 5. bundle size and " +
    "module-init time per handler; 6. latency and throughput against offered load. About 4.5 " +
    "minutes on 2 cores (--quick 1.5). Progress goes to stderr.",
  options: {
    quick: {
      type: "boolean",
      description: "fewer rounds and shorter loads (about 1.5 minutes)",
    },
    render: {
      type: "boolean",
      description:
        "measure nothing: re-write RESULTS.md and latency.svg from bench/.work/results.json",
    },
    "mysql-url": {
      type: "string",
      value: "URL",
      env: "MYSQL_URL",
      description:
        "measure on this MySQL/MariaDB server (mysql://user:password@host:3306/) instead of " +
        "private MariaDBs; figure 1 then runs once under the server's own flush policy, and the " +
        "results go to bench/.work/results-mysql-url.json only (RESULTS.md describes the private " +
        "servers and is left as it is)",
      defaultText: "private MariaDBs with set flush policies",
    },
  },
  examples: ["npm run bench", "npm run bench -- --quick", "npm run bench -- --render"],
  notes: [
    "Exit codes: 0 written; 1 a figure failed (one line; DEBUG=1 for the stack trace); 2 a usage " +
      "error; 130/143 interrupted — the figures finished so far are printed and kept in " +
      "bench/.work/partial-results.json, RESULTS.md and latency.svg stay as they were, and every " +
      "MariaDB and DC consumer process the run started is stopped.",
    "Without --mysql-url/MYSQL_URL Debian's mariadb-server must be installed (installed " +
      "automatically when absent and running as root).",
  ],
} as const satisfies CommandSpec<OptionSpecs>;

/** `--render`: re-renders RESULTS.md and the SVG from bench/.work/results.json (no measuring). */
function render(): void {
  let text: string;
  try {
    text = readFileSync(path.join(WORK, "results.json"), "utf8");
  } catch {
    throw new CommandError("no bench/.work/results.json yet: run npm run bench (or --quick) first");
  }
  const results = JSON.parse(text) as Parameters<typeof renderResults>[0];
  writeFileSync(
    path.join(__dirname, "latency.svg"),
    plotSvg(results.sweep, "order relay, prod stack (3 regions) on this machine"),
  );
  writeFileSync(path.join(__dirname, "RESULTS.md"), renderResults(results));
}

async function main(): Promise<number> {
  const parsed = parseCommandLine(BENCH_COMMAND);
  const { values } = parsed;
  if (values.render) {
    if (values.quick || values["mysql-url"])
      throw new UsageError("--render measures nothing: it takes no other flag");
    render();
    await writeErr("wrote bench/RESULTS.md and bench/latency.svg from bench/.work/results.json\n");
    return 0;
  }
  const mysqlUrlValue = mysqlUrl(
    "mysql-url",
    values["mysql-url"],
    envSource(BENCH_COMMAND, parsed, "mysql-url"),
  );
  if (mysqlUrlValue) await checkServer(mysqlUrlValue);
  const quick = values.quick ?? false;
  const settings = settingsFor(quick);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const started = Date.now();
  const command = `npm run bench${quick ? " -- --quick" : ""}`;
  mkdirSync(WORK, { recursive: true });

  // What is done so far, for the partial summary on SIGINT/SIGTERM.
  const partial: Record<string, unknown> = { command, settings };
  let stage = "start-up";
  const finished: string[] = [];
  onInterrupt(async () => {
    // Figures are all or nothing: what is finished is known now, and the figure in hand is
    // abandoned (its MariaDB and DC consumers are stopped by the cleanups that run next).
    writeFileSync(
      path.join(WORK, "partial-results.json"),
      `${JSON.stringify({ ...partial, interruptedDuring: stage }, null, 2)}\n`,
    );
    await writeErr(
      `bench interrupted after ${Math.round((Date.now() - started) / 1000)} s during ${stage}; ` +
        `finished: ${finished.length ? finished.join("; ") : "nothing"}. ` +
        "RESULTS.md and latency.svg are unchanged; what was measured is in bench/.work/partial-results.json\n",
    );
  });
  const step = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    if (interrupted.signal.aborted) throw interrupted.signal.reason;
    stage = name;
    log(name);
    const result = await work();
    if (interrupted.signal.aborted) throw interrupted.signal.reason; // partial: not a figure
    finished.push(name.replace(/ \(.*\)$/, ""));
    return result;
  };

  try {
    log("machine");
    const host = machine();
    partial.host = host;
    log(`  ${host.nproc} cpus, ${host.memoryGiB} GiB, node ${host.node}, ${host.mariadb}`);

    const trigger: Record<string, Awaited<ReturnType<typeof triggerFigure>>> = {};
    partial.trigger = trigger;
    await step("1. trigger cost (durable commit, then flush once a second)", async () => {
      const variants: (readonly [string, readonly string[]])[] = mysqlUrlValue
        ? [["server", []]]
        : [
            ["durable", []],
            ["flush2", BENCH_MARIADB_ARGS],
          ];
      for (const [name, args] of variants) {
        const db = mysqlUrlValue
          ? {
              url: mysqlUrlValue,
              // triggerFigure's database, dropped again on a server that is not ours
              stop: async () => {
                const c = await mysql.createConnection({ uri: mysqlUrlValue });
                await c.query("DROP DATABASE IF EXISTS bench_trigger").finally(() => c.end());
              },
            }
          : await startPrivateMariaDb({ eventScheduler: true, extraArgs: [...args] });
        try {
          trigger[name] = await triggerFigure(
            db as Parameters<typeof triggerFigure>[0],
            settings.trigger.rounds,
            settings.trigger.perRound,
          );
          log(
            `  ${name}: median ×${trigger[name]!.medianRatio} (${trigger[name]!.plainPerSecond}/s plain, ${trigger[name]!.triggerPerSecond}/s with trigger)`,
          );
        } finally {
          await db.stop();
        }
      }
    });

    const bundles = await step("5. handler bundles", () => bundleFigure(settings.bundleRepeats));
    partial.bundles = bundles;
    for (const b of bundles)
      log(`  ${b.handler}: ${b.bytes} B (gzip ${b.gzipBytes} B), init ${b.initMs} ms`);

    const plan = await step("4. offline plan time", () =>
      planFigure(settings.planCounts, settings.planRepeats, log),
    );
    partial.plan = plan;

    const orders = settings.calls.rate * settings.calls.seconds;
    const relayOptions = { log, signal: interrupted.signal, mysqlUrl: mysqlUrlValue };
    const calls = await step(
      "2. SQS calls and Lambda invocations per order: relay vs seed design",
      async () => ({
        relay: await relayRun({
          design: "relay",
          rate: settings.calls.rate,
          orders,
          ...relayOptions,
        }),
        seed: await relayRun({
          design: "seed",
          rate: settings.calls.rate,
          orders,
          ...relayOptions,
        }),
      }),
    );
    partial.calls = calls;

    const sweep: RelayPoint[] = [];
    partial.sweep = sweep;
    await step("3/6. latency and throughput against offered load (prod stack)", async () => {
      for (const rate of settings.sweep.rates) {
        sweep.push(
          await relayRun({
            design: "relay",
            rate,
            orders: rate * settings.sweep.seconds,
            ...relayOptions,
          }),
        );
        if (interrupted.signal.aborted) break;
      }
    });

    // Figure 7 makes its own MariaDB (a DC user without SUPER): not with --mysql-url.
    const dc = mysqlUrlValue
      ? undefined
      : await step("7. DC consumer rows/s: mirror tables vs the old row-by-row path", () =>
          dcThroughputFigure({
            log,
            command,
            ...(quick ? { rows: 4000, legacyRows: 1500, rounds: 1 } : {}),
          }),
        );
    partial.dc = dc;

    const results = {
      command,
      settings,
      host,
      trigger,
      bundles,
      plan,
      calls,
      sweep,
      dc,
      totalSeconds: Math.round((Date.now() - started) / 1000),
    };
    if (mysqlUrlValue) {
      const file = path.join(WORK, "results-mysql-url.json");
      writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
      log(
        `wrote ${path.relative(process.cwd(), file)} in ${results.totalSeconds} s (RESULTS.md unchanged)`,
      );
      return 0;
    }
    writeFileSync(
      path.join(__dirname, "latency.svg"),
      plotSvg(sweep, "order relay, prod stack (3 regions) on this machine"),
    );
    writeFileSync(path.join(WORK, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(path.join(__dirname, "RESULTS.md"), renderResults(results));
    log(`wrote bench/RESULTS.md and bench/latency.svg in ${results.totalSeconds} s`);
    return 0;
  } catch (error) {
    if (error instanceof MariaDbUnavailableError) throw new CommandError(error.message);
    throw error;
  }
}

if (require.main === module) runMain("bench", main);
