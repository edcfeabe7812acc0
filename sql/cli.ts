/**
 * `npm run db:migrate` — the migration runner (sql/migrate.ts) from the command line. The Pulumi
 * program runs `npm run --silent db:migrate -- --tls` with RELAY_DB_URL and RELAY_SETTINGS in the
 * environment (secrets and settings stay out of argv). See HELP for every flag.
 *
 * Exit codes: 0 up to date; 1 the migration failed (one line: unreachable, changed migration…);
 * 2 a usage error (one line: unknown flag, missing URL or settings, invalid settings JSON).
 */
import { parseArgs } from "node:util";
import {
  DATABASE_SETTINGS_ENV,
  DatabaseSettingsError,
  parseDatabaseSettings,
} from "../contract/databaseSettings";
import { migrate, MigrationError, redact } from "./migrate";

const URL_ENV = "RELAY_DB_URL";

const HELP = `usage: npm run db:migrate -- [--url <mysql-url>] [--settings '<JSON>'] [--local-lambda]
                              [--create-order-data] [--tls]

Applies sql/migrations/ (tables), sql/routines/ (procedures, events, views; re-applied when
changed), writes the relay settings and (re)generates the capture trigger on order_data.

  --url <mysql-url>     mysql://user:password@host:port/database. Default: $${URL_ENV}
                        (preferred: keeps the password out of the process list).
  --settings '<JSON>'   The database settings, one JSON object with every field:
                        {"region": "ap-northeast-1",
                         "functionArn": "arn:aws:lambda:<region>:<account>:function:<name>",
                         "retentionHours": 24, "dispatchBatchSize": 100,
                         "purgeIntervalMinutes": 5}
                        Default: $${DATABASE_SETTINGS_ENV} (what the Pulumi program sets).
  --local-lambda        Also install sql/local/ (a lambda_async stand-in). Local runs only,
                        never in AWS. Implies --create-order-data.
  --create-order-data   Create order_data with the seed schema when missing (local runs; in AWS
                        the storefront owns it and a missing table is an error).
  --tls                 Require TLS with the Amazon RDS CA bundle (Aurora).
  -h, --help            This text.

Environment:
  ${URL_ENV.padEnd(20)}  the URL when --url is not given.
  ${DATABASE_SETTINGS_ENV.padEnd(20)}  the settings JSON when --settings is not given.

Exit codes: 0 up to date, 1 migration failed, 2 usage error (each failure is one line).`;

class UsageError extends Error {}

async function main(argv: string[]): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        url: { type: "string" },
        settings: { type: "string" },
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
    console.log(HELP);
    return;
  }
  const url = values.url ?? (process.env[URL_ENV] || undefined);
  if (!url) throw new UsageError(`missing --url (or the ${URL_ENV} environment variable)`);
  const settingsText = values.settings ?? (process.env[DATABASE_SETTINGS_ENV] || undefined);
  if (settingsText === undefined) {
    throw new UsageError(
      `missing --settings '<JSON>' (or the ${DATABASE_SETTINGS_ENV} environment variable)`,
    );
  }
  let settings;
  try {
    settings = parseDatabaseSettings(
      settingsText,
      values.settings !== undefined ? "--settings" : DATABASE_SETTINGS_ENV,
    );
  } catch (error) {
    if (error instanceof DatabaseSettingsError) throw new UsageError(error.message);
    throw error;
  }

  const result = await migrate({
    url,
    settings,
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
      console.error(`db:migrate: ${error.message} (see --help)`);
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
