/**
 * `npm run dc:consume -- --queue-url <url> --mysql-url mysql://user:pass@host:3306/db [options]`
 *
 * Every flag has an environment fallback so the consumer can run as a service:
 *   --queue-url        DC_QUEUE_URL       aggregator queue URL (required)
 *   --mysql-url        DC_MYSQL_URL       mysql://user[:password]@host[:port]/database (required)
 *   --region           AWS_REGION         region of the aggregator queue (default: from the URL)
 *   --wait-seconds     DC_WAIT_SECONDS    long-poll wait 0..20 (default 20)
 *   --visibility-seconds DC_VISIBILITY_SECONDS  per-receive visibility (default: the queue's)
 *   --max-messages     DC_MAX_MESSAGES    1..10 per receive (default 10)
 *   --skip-schema                          do not CREATE TABLE IF NOT EXISTS relay_rows
 * SQS endpoint and credentials come from the SDK's standard settings (AWS_PROFILE,
 * AWS_ENDPOINT_URL_SQS, …). SIGINT/SIGTERM: finish the in-flight batch, then exit 0.
 */
import { parseArgs } from "util";
import mysql from "mysql2/promise";
import { createSqsClient } from "../lambda/lib/sqs";
import { createDcLogger, startDcConsumer } from "./consumer";

export class UsageError extends Error {}

export interface CliSettings {
  readonly queueUrl: string;
  readonly mysqlUrl: string;
  readonly region: string;
  readonly waitTimeSeconds: number;
  readonly visibilityTimeoutSeconds?: number;
  readonly maxMessages: number;
  readonly ensureSchema: boolean;
}

const USAGE =
  "usage: npm run dc:consume -- --queue-url <aggregator queue URL> --mysql-url mysql://user:pass@host:3306/db " +
  "[--region <aws region>] [--wait-seconds 0..20] [--visibility-seconds N] [--max-messages 1..10] [--skip-schema]";

function intIn(
  name: string,
  raw: string | undefined,
  min: number,
  max: number,
): number | undefined {
  if (raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`${name}: "${raw}" must be an integer from ${min} to ${max}`);
  }
  return value;
}

/** The region in an SQS queue URL (https://sqs.<region>.amazonaws.com/…), if any. */
function regionFromQueueUrl(url: URL): string | undefined {
  return /^sqs\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(url.hostname)?.[1];
}

/** Parses flags + env into settings; throws UsageError with one clear line per problem. */
export function parseCli(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): CliSettings {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        "queue-url": { type: "string" },
        "mysql-url": { type: "string" },
        region: { type: "string" },
        "wait-seconds": { type: "string" },
        "visibility-seconds": { type: "string" },
        "max-messages": { type: "string" },
        "skip-schema": { type: "boolean" },
        help: { type: "boolean" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${USAGE}`);
  }
  if (values.help) throw new UsageError(USAGE);
  const str = (flag: string, envName: string) =>
    (values[flag] as string | undefined) ?? env[envName];
  const problems: string[] = [];

  const queueUrlRaw = str("queue-url", "DC_QUEUE_URL");
  let queueUrl: URL | undefined;
  if (!queueUrlRaw)
    problems.push("--queue-url is required (or set DC_QUEUE_URL): the aggregator queue's URL");
  else {
    try {
      queueUrl = new URL(queueUrlRaw);
      if (!/^https?:$/.test(queueUrl.protocol)) throw new Error();
    } catch {
      problems.push(
        `--queue-url: "${queueUrlRaw}" is not an http(s) URL such as https://sqs.eu-central-1.amazonaws.com/123456789012/name.fifo`,
      );
      queueUrl = undefined;
    }
  }

  const mysqlUrlRaw = str("mysql-url", "DC_MYSQL_URL");
  if (!mysqlUrlRaw)
    problems.push(
      "--mysql-url is required (or set DC_MYSQL_URL): mysql://user:pass@host:3306/database",
    );
  else {
    let parsed: URL | undefined;
    try {
      parsed = new URL(mysqlUrlRaw);
    } catch {
      parsed = undefined;
    }
    // Never echo the URL: it may hold a password.
    if (!parsed || parsed.protocol !== "mysql:")
      problems.push("--mysql-url: not a mysql:// URL (mysql://user:pass@host:3306/database)");
    else if (parsed.pathname.replace(/^\//, "") === "")
      problems.push("--mysql-url: names no database — add /<database> to the URL");
  }

  const region =
    str("region", "AWS_REGION") ?? (queueUrl ? regionFromQueueUrl(queueUrl) : undefined);
  if (!region)
    problems.push(
      "--region is required (or set AWS_REGION) unless the queue URL names it (sqs.<region>.amazonaws.com)",
    );

  let waitTimeSeconds: number | undefined;
  let visibilityTimeoutSeconds: number | undefined;
  let maxMessages: number | undefined;
  for (const check of [
    () =>
      (waitTimeSeconds = intIn("--wait-seconds", str("wait-seconds", "DC_WAIT_SECONDS"), 0, 20)),
    () =>
      (visibilityTimeoutSeconds = intIn(
        "--visibility-seconds",
        str("visibility-seconds", "DC_VISIBILITY_SECONDS"),
        1,
        43200,
      )),
    () => (maxMessages = intIn("--max-messages", str("max-messages", "DC_MAX_MESSAGES"), 1, 10)),
  ]) {
    try {
      check();
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  if (problems.length > 0) throw new UsageError(`${problems.join("\n")}\n${USAGE}`);
  return {
    queueUrl: queueUrlRaw as string,
    mysqlUrl: mysqlUrlRaw as string,
    region: region as string,
    waitTimeSeconds: waitTimeSeconds ?? 20,
    visibilityTimeoutSeconds,
    maxMessages: maxMessages ?? 10,
    ensureSchema: values["skip-schema"] !== true,
  };
}

export async function main(argv: readonly string[]): Promise<number> {
  let settings: CliSettings;
  try {
    settings = parseCli(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`dc:consume: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const logger = createDcLogger();
  const pool = mysql.createPool({
    uri: settings.mysqlUrl,
    charset: "utf8mb4",
    connectionLimit: 2,
    timezone: "Z",
  });
  const consumer = startDcConsumer({
    client: createSqsClient(settings.region),
    queueUrl: settings.queueUrl,
    pool,
    waitTimeSeconds: settings.waitTimeSeconds,
    visibilityTimeoutSeconds: settings.visibilityTimeoutSeconds,
    maxMessages: settings.maxMessages,
    ensureSchema: settings.ensureSchema,
    logger,
  });
  const shutdown = (signal: string) => {
    logger.info("shutting down after the in-flight batch", { signal });
    void consumer.stop();
  };
  process.once("SIGINT", () => shutdown("SIGINT"));
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  try {
    await consumer.done;
    return 0;
  } catch (error) {
    logger.error("DC consumer failed", { error: (error as Error).message });
    return 1;
  } finally {
    await pool.end().catch(() => undefined);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      process.stderr.write(`dc:consume: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
}
