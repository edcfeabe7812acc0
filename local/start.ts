/**
 * `npm start [-- options]`: the whole relay of a stack running locally (see local/runner.ts).
 *
 *   --stack <name>                  stack file stacks/Pulumi.<name>.yaml (default dev)
 *   --config <yaml>                 any stack file instead
 *   --orders N  --rate R  --duration S   load: N orders at R/s (N defaults to R × S)
 *   --fail-rate P                   notify and forwarder throw with probability P
 *   --lambda-outage-seconds N       every lambda_async fails for N s (from 1 s into the run)
 *   --aggregator-outage-seconds N   the aggregator queue rejects sends for N s
 *   --restart-db-at-seconds N       stop and start MariaDB N s into the run
 *   --retention-seconds N           purge handed-off orders after N s
 *   --timeout-seconds N             give up and report what is missing where
 *   --seed N                        fault dice seed;  --no-redrive  leave DLQs alone
 *   --mysql-url mysql://…/          use this server (databases are created on it) instead of a private MariaDB
 *   --json                          print one JSON object (the summary) and nothing else on stdout
 * Exit code: 0 when nothing was lost, 1 when orders are missing, 2 on a usage/setup error.
 */
import { readStackFile, stackFilePath } from "../config/load";
import { ConfigError, parseConfig } from "../config/schema";
import { formatProgress, formatSummary } from "./report";
import { runRelay, type RunOptions } from "./runner";

// This machine runs Node 20; the AWS SDK's notice that its 2027 releases need Node 22 would sit in
// the middle of the output (the lockfile pins today's SDK; the Lambdas run nodejs24.x).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

export interface CliArgs {
  stack: string;
  config?: string;
  orders?: number;
  rate: number;
  duration?: number;
  failRate?: number;
  lambdaOutageSeconds?: number;
  aggregatorOutageSeconds?: number;
  restartDbAtSeconds?: number;
  retentionSeconds?: number;
  timeoutSeconds?: number;
  seed?: number;
  redrive: boolean;
  mysqlUrl?: string;
  json: boolean;
}

const NUMERIC: Record<string, keyof CliArgs> = {
  "--orders": "orders",
  "--rate": "rate",
  "--duration": "duration",
  "--fail-rate": "failRate",
  "--lambda-outage-seconds": "lambdaOutageSeconds",
  "--aggregator-outage-seconds": "aggregatorOutageSeconds",
  "--restart-db-at-seconds": "restartDbAtSeconds",
  "--retention-seconds": "retentionSeconds",
  "--timeout-seconds": "timeoutSeconds",
  "--seed": "seed",
};

export function parseArgs(argv: readonly string[]): CliArgs {
  const args: CliArgs = { stack: "dev", rate: 50, redrive: true, json: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === "--json") args.json = true;
    else if (flag === "--no-redrive") args.redrive = false;
    else if (flag === "--stack" || flag === "--config" || flag === "--mysql-url") {
      const value = argv[++i];
      if (!value || value.startsWith("--")) throw new Error(`${flag} needs a value`);
      if (flag === "--stack") args.stack = value;
      else if (flag === "--config") args.config = value;
      else args.mysqlUrl = value;
    } else if (flag in NUMERIC) {
      const raw = argv[++i];
      const value = Number(raw);
      if (raw === undefined || raw.trim() === "" || !Number.isFinite(value) || value < 0) {
        throw new Error(`${flag} needs a number >= 0 (got ${raw ?? "nothing"})`);
      }
      (args as unknown as Record<string, number>)[NUMERIC[flag]!] = value;
    } else {
      throw new Error(`unknown option ${flag} (see the header of local/start.ts or the README)`);
    }
  }
  if (args.failRate !== undefined && args.failRate > 1) throw new Error("--fail-rate must be 0..1");
  if (args.rate <= 0) throw new Error("--rate must be > 0");
  if (args.orders !== undefined && !Number.isInteger(args.orders))
    throw new Error("--orders must be a whole number");
  return args;
}

function runOptionsFrom(args: CliArgs): Omit<RunOptions, "onProgress" | "log"> {
  const file = args.config ?? stackFilePath(args.stack);
  const stackFile = readStackFile(file, args.config ? undefined : args.stack);
  const config = parseConfig(stackFile.relay, stackFile.stack);
  const orders = args.orders ?? Math.round(args.rate * (args.duration ?? 10));
  return {
    config,
    orders,
    rate:
      args.duration !== undefined && args.orders !== undefined
        ? args.orders / Math.max(args.duration, 0.001)
        : args.rate,
    failRate: args.failRate,
    seed: args.seed,
    lambdaOutageSeconds: args.lambdaOutageSeconds,
    aggregatorOutageSeconds: args.aggregatorOutageSeconds,
    restartDbAtSeconds: args.restartDbAtSeconds,
    retentionSeconds: args.retentionSeconds,
    timeoutSeconds: args.timeoutSeconds,
    redrive: args.redrive,
    mysqlUrl: args.mysqlUrl,
  };
}

async function main(): Promise<number> {
  let options: ReturnType<typeof runOptionsFrom>;
  let args: CliArgs;
  try {
    args = parseArgs(process.argv.slice(2));
    options = runOptionsFrom(args);
  } catch (error) {
    console.error(
      `npm start: ${error instanceof ConfigError ? error.message : (error as Error).message}`,
    );
    return 2;
  }
  const tty = process.stdout.isTTY && !args.json;
  const err = (line: string) => process.stderr.write(`${line}\n`);
  let drawn = 0;
  const report = await runRelay({
    ...options,
    log: args.json ? () => {} : err,
    onProgress: tty
      ? (progress) => {
          const lines = formatProgress(progress);
          if (drawn) process.stdout.write(`\x1b[${drawn}A`);
          for (const line of lines) process.stdout.write(`\x1b[2K${line}\n`);
          drawn = lines.length;
        }
      : undefined,
  });
  if (args.json) process.stdout.write(`${JSON.stringify(report.summary)}\n`);
  else {
    console.log(formatSummary(report));
  }
  return report.summary.lost > 0 ? 1 : 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(
        `npm start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
      process.exit(2);
    },
  );
}
