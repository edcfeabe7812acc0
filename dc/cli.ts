/**
 * `npm run dc:consume -- --queue-url <url> --mysql-url mysql://user@host:3306/db [options]`
 *
 * The DC consumer as a service: reads the aggregator queue and writes the relayed tables into
 * typed mirror tables of the DC's MySQL (dc/consumer.ts). `--help` lists every flag with its
 * environment variable; dc/README.md has the systemd unit, credentials, health and metrics.
 *
 * Exit codes: 0 stopped normally; 2 a bad flag or value; 78 a configuration the consumer cannot
 * run with (wrong MySQL password, unknown database, queue that does not exist) — found at start,
 * one line on stderr, so a service manager does not restart it in a loop; 130/143 after
 * SIGINT/SIGTERM (in-flight batches were committed or given back first); 1 anything else.
 */
import {
  choice,
  helpText,
  httpUrl,
  integer,
  parseCommandLine,
  required,
  UsageError,
  type CommandSpec,
  type OptionSpecs,
} from "../cli/command";
import { CommandError, onInterrupt, onShutdown, runMain, writeErr } from "../cli/process";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { createSqsClient } from "../lambda/lib/sqs";
import { createAckSender, parseAckQueueUrls } from "./acks";
import {
  ConnectionSettingsError,
  createDcPool,
  describeTarget,
  resolveMysqlTarget,
  type MysqlTarget,
} from "./connection";
import {
  createDcLogger,
  DcConfigError,
  DEFAULT_CONCURRENCY,
  startDcConsumer,
  type DcConsumer,
  type DeleteMode,
} from "./consumer";
import { startHealthServer } from "./health";

/** Exit code for a configuration the consumer cannot run with (sysexits EX_CONFIG). */
export const EXIT_CONFIG = 78;

export const DC_COMMAND = {
  usage: "npm run dc:consume --",
  summary:
    "Reads the aggregator queue and writes every relayed change into typed mirror tables of the " +
    "DC's MySQL (one per source table, created and evolved from the relay's SCHEMA records), " +
    "versioned by outboxId. Runs until SIGINT/SIGTERM; in-flight batches are committed (or " +
    "given back to the queue) before it exits.",
  options: {
    "queue-url": {
      type: "string",
      value: "URL",
      env: "DC_QUEUE_URL",
      description:
        "the aggregator queue (required), e.g. https://sqs.eu-central-1.amazonaws.com/123456789012/order-relay-prod-aggregator.fifo",
    },
    region: {
      type: "string",
      value: "REGION",
      env: "AWS_REGION",
      defaultText: "from the queue URL",
      description: "AWS region of the aggregator queue",
    },
    "mysql-url": {
      type: "string",
      value: "URL",
      env: "DC_MYSQL_URL",
      description:
        "the DC database, mysql://user@host:3306/database — without the password (a password here still works but is visible in ps and warned about)",
    },
    "mysql-password-file": {
      type: "string",
      value: "FILE",
      env: "DC_MYSQL_PASSWORD_FILE",
      description:
        "file holding the MySQL password (one line; e.g. a systemd credential); else MYSQL_PASSWORD is read",
    },
    "mysql-defaults-file": {
      type: "string",
      value: "FILE",
      env: "DC_MYSQL_DEFAULTS_FILE",
      description:
        "MySQL option file ([client] user, password, host, port, database); --mysql-url parts override it",
    },
    concurrency: {
      type: "string",
      value: "N",
      env: "DC_CONCURRENCY",
      defaultText: String(DEFAULT_CONCURRENCY),
      description: "receive loops in this process (each writes its own batches)",
    },
    "ack-queue-urls": {
      type: "string",
      value: "JSON",
      env: "DC_ACK_QUEUE_URLS",
      defaultText: "none (no acknowledgements)",
      description:
        'acknowledge committed changes to each region\'s ack queue (purgeRequires: confirmed): {"<region>": "<url>", …}, the stack output regions.<region>.ackQueueUrl',
    },
    "ack-flush-seconds": {
      type: "string",
      value: "N",
      env: "DC_ACK_FLUSH_SECONDS",
      defaultText: "5",
      description: "how long acknowledged ids wait to share one message (1..60)",
    },
    "table-prefix": {
      type: "string",
      value: "PREFIX",
      env: "DC_TABLE_PREFIX",
      defaultText: "none",
      description: "mirror table name = PREFIX + source table name (letters, digits, _; up to 32)",
    },
    deletes: {
      type: "string",
      value: "MODE",
      env: "DC_DELETES",
      defaultText: "tombstone",
      description:
        "tombstone: keep a deleted row with relay_deleted_at set; apply: delete it (a late older change never brings it back)",
    },
    "wait-seconds": {
      type: "string",
      value: "0..20",
      env: "DC_WAIT_SECONDS",
      defaultText: "20",
      description: "long-poll wait of each receive",
    },
    "visibility-seconds": {
      type: "string",
      value: "N",
      env: "DC_VISIBILITY_SECONDS",
      defaultText: "the queue's VisibilityTimeout",
      description:
        "visibility timeout per receive (a batch in progress is kept invisible by a heartbeat)",
    },
    "max-messages": {
      type: "string",
      value: "1..10",
      env: "DC_MAX_MESSAGES",
      defaultText: "10",
      description: "messages per receive (= per batch transaction)",
    },
    "status-seconds": {
      type: "string",
      value: "N",
      env: "DC_STATUS_SECONDS",
      defaultText: "60",
      description: "one-line JSON status log every N seconds (0: off)",
    },
    "health-port": {
      type: "string",
      value: "PORT",
      env: "DC_HEALTH_PORT",
      defaultText: "off",
      description:
        "serve GET /healthz (200 consuming, 503 paused) and GET /metrics (Prometheus) on this port",
    },
    "health-host": {
      type: "string",
      value: "HOST",
      env: "DC_HEALTH_HOST",
      defaultText: "127.0.0.1",
      description: "address the health endpoint listens on",
    },
    "skip-schema": {
      type: "boolean",
      description:
        "do not create the DC's bookkeeping tables (relay_schemas, relay_pending, relay_deletes): they exist already",
    },
  },
  examples: [
    "MYSQL_PASSWORD=… npm run dc:consume -- --queue-url https://sqs.eu-central-1.amazonaws.com/123456789012/order-relay-prod-aggregator.fifo --mysql-url mysql://relay_dc@db.dc.internal:3306/relay",
    "npm run dc:consume -- --queue-url … --mysql-defaults-file /etc/order-relay/dc.cnf --concurrency 8 --health-port 9464",
  ],
  notes: [
    "Password: --mysql-password-file, else MYSQL_PASSWORD, else the option file (or, deprecated, the URL). It is never logged. AWS credentials and the SQS endpoint come from the SDK's standard settings (AWS_PROFILE, AWS_ACCESS_KEY_ID…, AWS_ENDPOINT_URL_SQS); logs go to stdout as JSON lines (POWERTOOLS_LOG_LEVEL=DEBUG|INFO|WARN|ERROR).",
    "Exit codes: 0 stopped; 2 bad flag or value; 78 configuration refused at start (wrong MySQL password, unknown database or queue); 130/143 after SIGINT/SIGTERM, once in-flight batches were committed or given back; 1 anything else.",
  ],
} as const satisfies CommandSpec<OptionSpecs>;

export interface CliSettings {
  readonly queueUrl: string;
  readonly region: string;
  readonly target: MysqlTarget;
  readonly warnings: readonly string[];
  readonly concurrency: number;
  readonly tablePrefix: string;
  readonly deletes: DeleteMode;
  readonly waitTimeSeconds: number;
  readonly visibilityTimeoutSeconds?: number;
  readonly maxMessages: number;
  readonly statusSeconds: number;
  readonly healthPort?: number;
  readonly healthHost: string;
  readonly ensureSchema: boolean;
  /** Region → ack queue URL (empty: acknowledge nothing). */
  readonly ackQueueUrls: Readonly<Record<string, string>>;
  readonly ackFlushSeconds: number;
}

/** The region in an SQS queue URL (https://sqs.<region>.amazonaws.com/…), if any. */
function regionFromQueueUrl(url: string): string | undefined {
  try {
    return /^sqs\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(new URL(url).hostname)?.[1];
  } catch {
    return undefined;
  }
}

/** Flags + env → settings; throws UsageError (one line) for the first mistake. */
export function parseCli(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): CliSettings {
  const spec = DC_COMMAND;
  const { values, fromEnv } = parseCommandLine(spec, argv, env);
  const o = spec.options;
  /** The environment variable a value came from, for messages (undefined: from the flag). */
  const src = (name: keyof typeof o & string) => {
    const option = o[name] as { env?: string };
    return fromEnv.has(name) ? option.env : undefined;
  };
  const queueUrl = required(
    "queue-url",
    httpUrl("queue-url", values["queue-url"], src("queue-url")),
    o["queue-url"].env,
    "the aggregator queue's URL",
  );
  const region = values.region ?? regionFromQueueUrl(queueUrl);
  if (!region) {
    throw new UsageError(
      "missing --region (or AWS_REGION): the queue URL does not name one (sqs.<region>.amazonaws.com)",
    );
  }
  if (values["mysql-url"] === undefined && values["mysql-defaults-file"] === undefined) {
    throw new UsageError(
      "missing --mysql-url (or DC_MYSQL_URL, or --mysql-defaults-file): mysql://user@host:3306/database (see --help)",
    );
  }
  let resolved: ReturnType<typeof resolveMysqlTarget>;
  try {
    resolved = resolveMysqlTarget({
      url: values["mysql-url"],
      passwordFile: values["mysql-password-file"],
      defaultsFile: values["mysql-defaults-file"],
      env,
    });
  } catch (error) {
    if (error instanceof ConnectionSettingsError) throw new UsageError(error.message);
    throw error;
  }
  const tablePrefix = values["table-prefix"] ?? "";
  if (!/^[A-Za-z0-9_]{0,32}$/.test(tablePrefix)) {
    throw new UsageError(
      `--table-prefix must be up to 32 letters, digits or _, got "${tablePrefix}"`,
    );
  }
  const healthPort = integer(
    "health-port",
    values["health-port"],
    { min: 0, max: 65535 },
    src("health-port"),
  );
  let ackQueueUrls: Record<string, string> = {};
  if (values["ack-queue-urls"] !== undefined) {
    try {
      ackQueueUrls = parseAckQueueUrls(values["ack-queue-urls"]);
    } catch (error) {
      throw new UsageError(
        `${src("ack-queue-urls") ?? "--ack-queue-urls"} ${(error as Error).message}`,
      );
    }
  }
  return {
    ackQueueUrls,
    ackFlushSeconds:
      integer(
        "ack-flush-seconds",
        values["ack-flush-seconds"],
        { min: 1, max: 60 },
        src("ack-flush-seconds"),
      ) ?? 5,
    queueUrl,
    region,
    target: resolved.target,
    warnings: resolved.warnings,
    concurrency:
      integer("concurrency", values.concurrency, { min: 1, max: 64 }, src("concurrency")) ??
      DEFAULT_CONCURRENCY,
    tablePrefix,
    deletes:
      choice("deletes", values.deletes, ["tombstone", "apply"] as const, src("deletes")) ??
      "tombstone",
    waitTimeSeconds:
      integer("wait-seconds", values["wait-seconds"], { min: 0, max: 20 }, src("wait-seconds")) ??
      20,
    visibilityTimeoutSeconds: integer(
      "visibility-seconds",
      values["visibility-seconds"],
      { min: 1, max: 43_200 },
      src("visibility-seconds"),
    ),
    maxMessages:
      integer("max-messages", values["max-messages"], { min: 1, max: 10 }, src("max-messages")) ??
      10,
    statusSeconds:
      integer(
        "status-seconds",
        values["status-seconds"],
        { min: 0, max: 86_400 },
        src("status-seconds"),
      ) ?? 60,
    ...(healthPort !== undefined ? { healthPort } : {}),
    healthHost: values["health-host"] ?? "127.0.0.1",
    ensureSchema: values["skip-schema"] !== true,
  };
}

export function usage(): string {
  return helpText(DC_COMMAND);
}

async function main(): Promise<number> {
  const settings = parseCli(process.argv.slice(2));
  for (const warning of settings.warnings) await writeErr(`dc:consume: warning: ${warning}\n`);
  const logger = createDcLogger();
  const started = Date.now();
  const pool = createDcPool(settings.target, { connectionLimit: settings.concurrency + 2 });
  onShutdown(() => pool.end().catch(() => undefined));
  logger.info("DC consumer starting", {
    mysql: describeTarget(settings.target),
    passwordFrom: settings.target.passwordSource,
    queueUrl: settings.queueUrl,
    region: settings.region,
  });
  const ackClients = new Map<string, SQSClient>();
  const acks =
    Object.keys(settings.ackQueueUrls).length > 0
      ? createAckSender({
          queueUrls: settings.ackQueueUrls,
          clientFor: (region) => {
            if (!ackClients.has(region)) ackClients.set(region, createSqsClient(region));
            return ackClients.get(region)!;
          },
          flushIntervalMs: settings.ackFlushSeconds * 1000,
          logger,
        })
      : undefined;
  // After the consumer stopped (registered first, so it runs last): send what is left.
  if (acks) onShutdown(() => acks.stop());
  const consumer: DcConsumer = startDcConsumer({
    onCommitted: acks ? (messages) => acks.add(messages) : undefined,
    client: createSqsClient(settings.region),
    queueUrl: settings.queueUrl,
    pool,
    concurrency: settings.concurrency,
    tablePrefix: settings.tablePrefix,
    deletes: settings.deletes,
    waitTimeSeconds: settings.waitTimeSeconds,
    visibilityTimeoutSeconds: settings.visibilityTimeoutSeconds,
    maxMessages: settings.maxMessages,
    statusIntervalMs: settings.statusSeconds * 1000,
    ensureSchema: settings.ensureSchema,
    logger,
  });
  const summary = async (why: string) => {
    const s = consumer.stats;
    await writeErr(
      `dc:consume: stopped (${why}) after ${Math.round((Date.now() - started) / 100) / 10} s: ` +
        `${s.received} received, ${s.applied} applied, ${s.stale} stale, ${s.tombstones} tombstones, ` +
        `${s.rowsDeleted} deleted, ${s.parked} parked, ${s.rejected + s.invalid} left for the DLQ, ` +
        `${s.sqsDeleted} deleted from SQS\n`,
    );
  };
  onInterrupt(async () => {
    await consumer.stop();
    await summary("signal");
  });
  if (settings.healthPort !== undefined) {
    const health = await startHealthServer({
      port: settings.healthPort,
      host: settings.healthHost,
      status: () => consumer.status(),
    });
    onShutdown(() => health.close());
    logger.info("health endpoint listening", {
      url: `http://${settings.healthHost}:${health.port}/healthz`,
      metrics: `http://${settings.healthHost}:${health.port}/metrics`,
    });
  }
  try {
    await consumer.done;
  } catch (error) {
    if (error instanceof DcConfigError) throw new CommandError(error.message, EXIT_CONFIG);
    throw error;
  }
  return 0;
}

if (require.main === module) runMain("dc:consume", main);
