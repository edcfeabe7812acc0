/**
 * `npm start [-- options]`: the whole relay of a stack running locally (see local/runner.ts).
 * Every flag, its default and its environment variable: `npm start -- --help` (the spec below).
 */
import { setTimeout as sleep } from "node:timers/promises";
import {
  type CommandSpec,
  type OptionSpecs,
  decimal,
  envSource,
  integer,
  mysqlUrl,
  parseCommandLine,
  UsageError,
} from "../cli/command";
import {
  CommandError,
  interrupted,
  interruptedBy,
  onInterrupt,
  runMain,
  writeErr,
  writeOut,
} from "../cli/process";
import { readStackFile, stackFilePath } from "../config/load";
import { ConfigError, parseConfig } from "../config/schema";
import { MariaDbUnavailableError } from "../emulators/mariadb";
import { formatProgress, formatSummary } from "./report";
import { LOCAL_RESEND_AFTER_SECONDS, RunInterrupted, runRelay, type RunOptions } from "./runner";
import { SCHEMA_NAMES, STACK_TABLES, type SchemaName } from "./storefront";

// On a Node older than the engines' 24 the AWS SDK's notice that its 2027 releases need Node 22
// would sit in the middle of the output; on 24 there is none.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

export const START_COMMAND = {
  usage: "npm start --",
  summary:
    "Runs the data path of every region of a stack on this machine with the project's real code " +
    "at every hop: a private MariaDB (a database per region plus dc, migrated by sql/migrate.ts), " +
    "local-aws-sqs with the stack's queues, the real notify and forwarder handlers and the real DC " +
    "consumer, and a load generator playing the storefront. Ends when every inserted order is at " +
    "the DC (and purged, with --retention-seconds), or at the timeout with a report of what is " +
    "missing and where. Progress and the text summary go to stdout, set-up lines to stderr.",
  options: {
    stack: {
      type: "string",
      value: "NAME",
      description: "stack to run: stacks/Pulumi.<NAME>.yaml",
      defaultText: "dev",
    },
    config: {
      type: "string",
      value: "FILE",
      description:
        "any stack file instead (the stack name comes from Pulumi.<name>.yaml, or --stack)",
    },
    schema: {
      type: "string",
      value: "NAME",
      description:
        "storefront schema the load writes: storefront (sf_orders keyed by a UUID, sf_address " +
        "keyed by (order_ref, kind) with a foreign key to it; inserts, status updates after " +
        "checkout, deletes) or seed (the seed article's order_data, inserts only); the run's " +
        "order-relay:tables list them",
      defaultText: "storefront",
    },
    orders: {
      type: "string",
      value: "N",
      description: "orders to place, over all regions",
      defaultText: "rate × duration",
    },
    rate: {
      type: "string",
      value: "R",
      description: "orders per second over all regions (with --orders and --duration: N / S)",
      defaultText: "50",
    },
    duration: {
      type: "string",
      value: "S",
      description: "seconds of load",
      defaultText: "10",
    },
    "fail-rate": {
      type: "string",
      value: "P",
      description:
        "notify and forwarder throw with probability P (0..1), half before and half after doing " +
        "their work, so duplicates are produced too",
      defaultText: "0",
    },
    seed: {
      type: "string",
      value: "N",
      description: "seed of the fault dice (a reproducible --fail-rate run)",
      defaultText: "1",
    },
    "lambda-outage-seconds": {
      type: "string",
      value: "N",
      description:
        "every lambda_async fails for N s from 1 s into the run (like ERROR 1873): rows wait in " +
        "the outbox",
    },
    "aggregator-outage-seconds": {
      type: "string",
      value: "N",
      description: "the aggregator queue answers sends with HTTP 500 for N s from 1 s into the run",
    },
    "restart-db-at-seconds": {
      type: "string",
      value: "N",
      description:
        "stop and start the private MariaDB N s into the run (not with --mysql-url); the " +
        "storefront's insert is retried and counted once",
    },
    "drop-after-handoff-rate": {
      type: "string",
      value: "P",
      description:
        "a handed-off batch vanishes with probability P (0..1): never invoked, no on-failure " +
        "record, as when its DLQ's retention ends; only the database's resend brings it to the DC",
    },
    "ack-outage-seconds": {
      type: "string",
      value: "N",
      description:
        "the regions' ack queues answer the DC's sends with HTTP 500 for N s from 1 s into the " +
        "run: the DC keeps its acknowledgements and sends them later, purging waits",
    },
    "resend-after-seconds": {
      type: "string",
      value: "N",
      description:
        "dispatch again what the DC has not confirmed after N s (1..86400) instead of the " +
        "stack's resendAfterMinutes",
      defaultText: String(LOCAL_RESEND_AFTER_SECONDS),
    },
    "retention-seconds": {
      type: "string",
      value: "N",
      description:
        "purge orders N s after their change instead of the stack's retentionHours (once the DC " +
        "confirmed it, with purgeRequires: confirmed); the run then waits for the purge too",
    },
    "timeout-seconds": {
      type: "string",
      value: "N",
      description:
        "give up after N s and report what is not at the DC and where it is (a run ends sooner " +
        "once nothing left could still reach the DC)",
      defaultText: "2 × load time + outages + retention + 30, at least 60",
    },
    "dc-consumers": {
      type: "string",
      value: "N",
      description: "DC consumer instances reading the aggregator queue",
      defaultText: "3",
    },
    "dc-processes": {
      type: "boolean",
      description:
        "run each DC consumer as its own dc/cli.ts process (as in the DC) instead of inside this one",
    },
    "no-redrive": {
      type: "boolean",
      description:
        "leave the DLQs alone (by default, once nothing else moves, relay messages go back to " +
        "their queue and notify on-failure records are re-invoked)",
    },
    "mysql-url": {
      type: "string",
      value: "URL",
      env: "MYSQL_URL",
      description:
        "use this MySQL/MariaDB server (mysql://user:password@host:3306/; its user creates and " +
        "drops run<hex>_… databases) instead of starting a private MariaDB; with its " +
        "event_scheduler OFF the runner calls relay_dispatch() every second itself",
      defaultText: "a private MariaDB",
    },
    json: {
      type: "boolean",
      description:
        "print only the summary, as one JSON object, on stdout (use npm run -s start -- --json, " +
        "or npm's own header lines come first)",
    },
  },
  examples: [
    "npm start",
    "npm start -- --stack prod --orders 600 --rate 200",
    "npm start -- --schema seed",
    "npm start -- --config path/to/Pulumi.x.yaml --duration 30 --rate 100",
    "npm start -- --stack=prod --fail-rate 0.2 --lambda-outage-seconds 5 --retention-seconds 5",
    "npm start -- --stack prod --orders 600 --drop-after-handoff-rate 0.2 --retention-seconds 5 --json",
    "npm start -- --stack prod --ack-outage-seconds 10 --retention-seconds 2",
    "MYSQL_URL=mysql://root@127.0.0.1:3306/ npm start",
    "npm run -s start -- --json | jq .lost",
  ],
  notes: [
    "Exit codes: 0 every row at the DC equals the source's latest state (and nothing was purged before the DC had it); 1 the run timed out, lost orders, found rows that differ or purged an order the DC did not have, or could not " +
      "start (one line says why and what to fix); 2 a usage or stack-config error; 130/143 " +
      "interrupted by SIGINT/SIGTERM.",
    "Ctrl-C or SIGTERM stops the run: a partial summary is printed, then the DC consumers, the " +
      "Lambda service, the queues and the private MariaDB are stopped and its temp directories " +
      "removed (a second Ctrl-C a second later exits at once; the MariaDB is still killed and " +
      "removed).",
    "Without --mysql-url/MYSQL_URL Debian's mariadb-server must be installed (it is installed " +
      "automatically when absent and running as root; MARIADB_BIN_DIR names another directory " +
      "holding mariadbd and mariadb-install-db). DEBUG=1 prints stack traces.",
  ],
} as const satisfies CommandSpec<OptionSpecs>;

export interface CliArgs {
  stack: string;
  schema: SchemaName;
  config?: string;
  orders?: number;
  rate: number;
  duration?: number;
  failRate?: number;
  lambdaOutageSeconds?: number;
  aggregatorOutageSeconds?: number;
  restartDbAtSeconds?: number;
  retentionSeconds?: number;
  dropAfterHandoffRate?: number;
  ackOutageSeconds?: number;
  resendAfterSeconds?: number;
  timeoutSeconds?: number;
  seed?: number;
  dcConsumers?: number;
  dcProcesses: boolean;
  redrive: boolean;
  mysqlUrl?: string;
  json: boolean;
}

/** The command line (and MYSQL_URL) as run options; UsageError (exit 2) on any mistake. */
export function parseStartCommandLine(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): CliArgs {
  const parsed = parseCommandLine(START_COMMAND, argv, env);
  const v = parsed.values;
  const seconds = (
    flag:
      | "lambda-outage-seconds"
      | "aggregator-outage-seconds"
      | "restart-db-at-seconds"
      | "ack-outage-seconds"
      | "retention-seconds",
  ) => decimal(flag, v[flag], { min: 0 });
  const schema = v.schema ?? "storefront";
  if (!(SCHEMA_NAMES as readonly string[]).includes(schema))
    throw new UsageError(`--schema must be one of ${SCHEMA_NAMES.join(", ")}, got "${schema}"`);
  const args: CliArgs = {
    stack: v.stack ?? "dev",
    schema: schema as SchemaName,
    config: v.config,
    orders: integer("orders", v.orders, { min: 1 }),
    rate: decimal("rate", v.rate, { above: 0 }) ?? 50,
    duration: decimal("duration", v.duration, { above: 0 }),
    failRate: decimal("fail-rate", v["fail-rate"], { min: 0, max: 1 }),
    seed: integer("seed", v.seed),
    lambdaOutageSeconds: seconds("lambda-outage-seconds"),
    aggregatorOutageSeconds: seconds("aggregator-outage-seconds"),
    restartDbAtSeconds: seconds("restart-db-at-seconds"),
    retentionSeconds: seconds("retention-seconds"),
    dropAfterHandoffRate: decimal("drop-after-handoff-rate", v["drop-after-handoff-rate"], {
      min: 0,
      max: 1,
    }),
    ackOutageSeconds: seconds("ack-outage-seconds"),
    resendAfterSeconds: decimal("resend-after-seconds", v["resend-after-seconds"], {
      min: 1,
      max: 86400,
    }),
    timeoutSeconds: decimal("timeout-seconds", v["timeout-seconds"], { above: 0 }),
    dcConsumers: integer("dc-consumers", v["dc-consumers"], { min: 1, max: 20 }),
    dcProcesses: v["dc-processes"] ?? false,
    redrive: !v["no-redrive"],
    mysqlUrl: mysqlUrl("mysql-url", v["mysql-url"], envSource(START_COMMAND, parsed, "mysql-url")),
    json: v.json ?? false,
  };
  if (args.mysqlUrl && args.restartDbAtSeconds !== undefined) {
    throw new UsageError(
      `--restart-db-at-seconds needs the runner's own MariaDB: drop ${
        parsed.fromEnv.has("mysql-url") ? "MYSQL_URL from the environment" : "--mysql-url"
      }`,
    );
  }
  return args;
}

function runOptionsFrom(args: CliArgs): Omit<RunOptions, "onProgress" | "log"> {
  const file = args.config ?? stackFilePath(args.stack);
  let config;
  try {
    const stackFile = readStackFile(file, args.config ? undefined : args.stack);
    // The run's tables, given as the stack config gives them (order-relay:tables).
    const tables = STACK_TABLES[args.schema]["order-relay:tables"];
    config = parseConfig({ ...stackFile.relay, tables }, stackFile.stack);
  } catch (error) {
    if (error instanceof ConfigError) {
      // One problem: one line; several: one line each.
      throw new UsageError(error.problems.length === 1 ? error.problems[0]! : error.message);
    }
    throw error;
  }
  if (args.ackOutageSeconds !== undefined && config.purgeRequires !== "confirmed") {
    throw new UsageError(
      `--ack-outage-seconds needs the ack path, but stack ${config.stack} sets order-relay:purgeRequires: ${config.purgeRequires} (no acknowledgements): use a stack with purgeRequires: confirmed (the default), e.g. --stack prod`,
    );
  }
  const orders = args.orders ?? Math.round(args.rate * (args.duration ?? 10));
  return {
    config,
    schema: args.schema,
    orders,
    rate:
      args.duration !== undefined && args.orders !== undefined
        ? args.orders / args.duration
        : args.rate,
    failRate: args.failRate,
    seed: args.seed,
    lambdaOutageSeconds: args.lambdaOutageSeconds,
    aggregatorOutageSeconds: args.aggregatorOutageSeconds,
    restartDbAtSeconds: args.restartDbAtSeconds,
    retentionSeconds: args.retentionSeconds,
    dropAfterHandoffRate: args.dropAfterHandoffRate,
    ackOutageSeconds: args.ackOutageSeconds,
    resendAfterSeconds: args.resendAfterSeconds,
    timeoutSeconds: args.timeoutSeconds,
    redrive: args.redrive,
    mysqlUrl: args.mysqlUrl,
    dcConsumers: args.dcConsumers,
    dcInProcesses: args.dcProcesses,
  };
}

/** How long a signal waits for the partial summary before the cleanups run anyway. */
const SUMMARY_WAIT_MS = 30_000;

async function main(): Promise<number> {
  const args = parseStartCommandLine(process.argv.slice(2));
  const options = runOptionsFrom(args);
  const tty = process.stdout.isTTY && !args.json;
  const err = (line: string) => process.stderr.write(`${line}\n`);

  // On SIGINT/SIGTERM the run stops early and this main prints the partial summary; the signal
  // handler waits for that (bounded) before it runs the cleanups and exits 130/143.
  let summaryDone!: () => void;
  const summaryPrinted = new Promise<void>((resolve) => (summaryDone = resolve));
  onInterrupt(() =>
    Promise.race([summaryPrinted, sleep(SUMMARY_WAIT_MS, undefined, { ref: false })]),
  );

  let drawn = 0;
  try {
    let report;
    try {
      report = await runRelay({
        ...options,
        signal: interrupted.signal,
        log: err,
        onProgress: tty
          ? (progress) => {
              const lines = formatProgress(progress);
              if (drawn) process.stdout.write(`\x1b[${drawn}A`);
              for (const line of lines) process.stdout.write(`\x1b[2K${line}\n`);
              drawn = lines.length;
            }
          : undefined,
      });
    } catch (error) {
      if (error instanceof RunInterrupted) {
        await writeErr(
          `npm start: ${error.message}: no orders inserted yet; stopping what started\n`,
        );
        return 130;
      }
      if (error instanceof MariaDbUnavailableError) throw new CommandError(error.message);
      throw error;
    }
    if (args.json) {
      const signal = report.interrupted ? { interrupted: interruptedBy() ?? true } : {};
      await writeOut(`${JSON.stringify({ ...signal, ...report.summary })}\n`);
    } else {
      await writeOut(`${formatSummary(report)}\n`);
    }
    if (report.interrupted) return 130;
    const s = report.summary;
    return report.completed &&
      s.lost === 0 &&
      s.rowsEqual === s.rowsCompared &&
      s.extraAtDc === 0 &&
      s.purgedBeforeDelivery === 0
      ? 0
      : 1;
  } finally {
    summaryDone();
  }
}

if (require.main === module) runMain("npm start", main);
