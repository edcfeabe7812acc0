/**
 * `npm run db:migrate` — the migration runner (sql/migrate.ts) from the command line. The Pulumi
 * program runs `npm run --silent db:migrate -- --tls` with RELAY_DB_URL and RELAY_SETTINGS in the
 * environment (secrets and settings stay out of argv; the settings carry the tables to capture).
 * An operator adds `--tables '<JSON>'` to capture another list than the settings', and
 * `--resync <table>` to send the current state of every row of a table again. See HELP.
 *
 * Exit codes: 0 up to date; 1 the migration failed (one line: unreachable, changed migration,
 * a table the relay cannot capture, a backfill not verified complete…); 2 a usage error (one
 * line: unknown flag, missing URL or settings, invalid settings or tables JSON).
 */
import { parseArgs } from "node:util";
import {
  DATABASE_SETTINGS_ENV,
  DatabaseSettingsError,
  parseDatabaseSettings,
  relayTablesSchema,
  type RelayTable,
} from "../contract/databaseSettings";
import { migrate, MigrationError, redact } from "./migrate";

const URL_ENV = "RELAY_DB_URL";

const HELP = `usage: npm run db:migrate -- [--url <mysql-url>] [--settings '<JSON>'] [--tables '<JSON>']
                              [--resync <table>]… [--local-lambda] [--create-order-data] [--tls]

Applies sql/migrations/ (tables), sql/routines/ (procedures, events, views; re-applied when
changed), writes the relay settings, (re)generates the capture triggers on every listed table and
backfills rows that have no outbox entry (resuming a backfill that was interrupted).

  --url <mysql-url>     mysql://user:password@host:port/database. Default: $${URL_ENV}
                        (preferred: keeps the password out of the process list).
  --settings '<JSON>'   The database settings, one JSON object (fields with a default may be
                        left out; "tables" as for --tables):
                        {"region": "ap-northeast-1",
                         "functionArn": "arn:aws:lambda:<region>:<account>:function:<name>",
                         "retentionHours": 24, "dispatchBatchSize": 100,
                         "purgeIntervalMinutes": 5, "purgeRequires": "confirmed",
                         "resendAfterMinutes": 30}
                        purgeRequires: "confirmed" purges a row once the DC acknowledged its
                        latest change (resent after resendAfterMinutes until then);
                        "handedOff" once it was handed to lambda_async.
                        Default: $${DATABASE_SETTINGS_ENV} (what the Pulumi program sets).
  --tables '<JSON>'     The storefront tables to capture, overriding the settings' "tables":
                        [{"name": "ps_orders"},
                         {"name": "ps_address", "excludeColumns": ["phone"],
                          "parent": {"table": "ps_orders", "column": "id_order"}}]
                        Each needs a primary key; parent.column holds the parent's key (children
                        are purged first). Default: the settings' tables, else [{"name": "order_data"}].
  --resync <table>      After migrating, send the current state of every row of this listed table
                        again (a SCHEMA record first), e.g. when the DC restored a backup (a
                        storefront upgrade that changes a table's columns starts one by itself).
                        Repeat the flag for several tables. Same as CALL relay_resync('<table>').
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

/** `--tables '<JSON>'`, validated like the stack config's order-relay:tables (one line). */
function parseTables(text: string): RelayTable[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(
      `--tables is not JSON (${(error as Error).message}); expected [{"name": "order_data"}, …]`,
    );
  }
  const result = relayTablesSchema.safeParse(value);
  if (!result.success) {
    const issues = result.error.issues.map((issue) => {
      const path = issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`));
      return `--tables${path.join("")} ${issue.message.replace(/^Invalid input: /, "")}`;
    });
    throw new UsageError(issues.join("; "));
  }
  return result.data;
}

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
        tables: { type: "string" },
        resync: { type: "string", multiple: true },
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

  if (values.tables !== undefined) {
    settings = { ...settings, tables: parseTables(values.tables) };
  }

  const result = await migrate({
    url,
    settings,
    resync: values.resync ?? [],
    localLambda: values["local-lambda"] ?? false,
    createOrderData: values["create-order-data"],
    tls: values.tls ?? false,
    log: (line) => console.log(`db:migrate: ${line}`),
  });
  console.log(
    `db:migrate: ${redact(url)} is up to date (${result.applied.length} applied, ${result.skipped.length} unchanged; ` +
      `capturing ${result.capture.map((c) => c.table).join(", ")})`,
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
