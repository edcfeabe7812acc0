/**
 * npm run db:migrate -- --url mysql://user:pass@host:port/db --region <region>
 *   --function-arn <arn> [--retention-hours N] [--batch-size N] [--purge-interval-minutes N]
 *   [--local-lambda] [--create-order-data] [--tls]
 *
 * The URL may come from RELAY_DB_URL instead of --url (keeps the password out of argv).
 * Every expected failure prints one line and exits 1; a usage error exits 2.
 */
import { parseArgs } from "node:util";
import { migrate, MigrationError, redact } from "./migrate";

const USAGE =
  "usage: npm run db:migrate -- --url mysql://user:pass@host:port/db --region <region> " +
  "--function-arn <arn> [--retention-hours N] [--batch-size N] [--purge-interval-minutes N] " +
  "[--local-lambda] [--create-order-data] [--tls]   (or set RELAY_DB_URL instead of --url)";

class UsageError extends Error {}

function number(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (value.trim() === "" || !Number.isFinite(parsed)) {
    throw new UsageError(`--${name} must be a number, got "${value}"`);
  }
  return parsed;
}

const VALUE_OPTIONS = new Set([
  "--url",
  "--region",
  "--function-arn",
  "--retention-hours",
  "--batch-size",
  "--purge-interval-minutes",
]);

/** `--retention-hours -1` → `--retention-hours=-1`, so a negative number reaches validation. */
function joinValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const next = argv[i + 1];
    if (VALUE_OPTIONS.has(argv[i]) && next !== undefined && /^-\d|^-\.\d/.test(next)) {
      out.push(`${argv[i]}=${next}`);
      i++;
    } else {
      out.push(argv[i]);
    }
  }
  return out;
}

async function main(argv: string[]): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: joinValues(argv),
      strict: true,
      allowPositionals: false,
      options: {
        url: { type: "string" },
        region: { type: "string" },
        "function-arn": { type: "string" },
        "retention-hours": { type: "string" },
        "batch-size": { type: "string" },
        "purge-interval-minutes": { type: "string" },
        "local-lambda": { type: "boolean" },
        "create-order-data": { type: "boolean" },
        tls: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message.split("\n")[0]);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const url = values.url ?? process.env.RELAY_DB_URL;
  if (!url) throw new UsageError("missing --url (or the RELAY_DB_URL environment variable)");
  if (!values.region) throw new UsageError("missing --region");
  if (!values["function-arn"]) throw new UsageError("missing --function-arn");

  const result = await migrate({
    url,
    region: values.region,
    functionArn: values["function-arn"],
    retentionHours: number("retention-hours", values["retention-hours"]),
    batchSize: number("batch-size", values["batch-size"]),
    purgeIntervalMinutes: number("purge-interval-minutes", values["purge-interval-minutes"]),
    localLambda: values["local-lambda"] ?? false,
    createOrderData: values["create-order-data"],
    tls: values.tls ?? false,
    log: (line) => console.log(`db:migrate: ${line}`),
  });
  console.log(
    `db:migrate: ${redact(url)} is up to date (${result.applied.length} applied, ${result.skipped.length} unchanged)`,
  );
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (error: unknown) => {
    if (error instanceof UsageError) {
      console.error(`db:migrate: ${error.message}\n${USAGE}`);
      process.exit(2);
    }
    if (error instanceof MigrationError) {
      console.error(`db:migrate: ${error.message}`);
      process.exit(1);
    }
    console.error(
      `db:migrate: unexpected error: ${error instanceof Error ? error.message : String(error)}`,
    );
    process.exit(1);
  },
);
