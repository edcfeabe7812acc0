/**
 * The settings the relay's SQL needs, as ONE typed object: built from the validated stack config
 * (`databaseSettings()` in config/schema.ts), handed by `RelayDatabase` to the migration runner as
 * one JSON value (the `RELAY_SETTINGS` environment variable or `--settings '<JSON>'`), validated
 * there by this same schema and written into `relay_settings`.
 *
 * Adding a setting that reaches SQL = a field here (validator + doc), its default in the stack
 * config schema, and the routine that reads it.
 */
import { z } from "zod";

/** Environment variable carrying the settings JSON to `npm run db:migrate`. */
export const DATABASE_SETTINGS_ENV = "RELAY_SETTINGS";

const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
const FUNCTION_ARN =
  /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]+)?$/;

/** Outbox rows per `lambda_async` call; the stack config's `dispatchBatchSize` uses this too. */
export const dispatchBatchSizeSchema = z
  .number()
  .int("must be a whole number")
  .min(1, "must be at least 1")
  .max(500, "must be at most 500 — keeps the payload well under the async invoke limit");

/** Minutes between purge runs; the stack config's `purgeIntervalMinutes` uses this too. */
export const purgeIntervalMinutesSchema = z
  .number()
  .int("must be a whole number of minutes")
  .min(1, "must be at least 1 minute")
  .max(60, "must be at most 60 minutes");

/** A MySQL identifier as the relay accepts it (letters, digits, `_`, `$`; at most 64). */
const mysqlIdentifier = z
  .string()
  .regex(
    /^[A-Za-z0-9_$]{1,64}$/,
    "must be a MySQL table/column name (letters, digits, _ or $; ≤ 64)",
  );

/** One storefront table the relay captures; the stack config's `tables` uses this too. */
export const relayTableSchema = z.strictObject({
  /** The table's name in the storefront database. */
  name: mysqlIdentifier,
  /** Columns never relayed (and never read by dispatch). Key columns cannot be excluded. */
  excludeColumns: z
    .array(mysqlIdentifier)
    .refine((names) => new Set(names).size === names.length, "lists the same column twice")
    .default(() => []),
  /**
   * The row belongs to a row of another listed table (an address or item row to its order):
   * `column` holds the parent's primary key. Children are purged with their parent, first.
   * @default - no parent (purged on its own retention)
   */
  parent: z.strictObject({ table: mysqlIdentifier, column: mysqlIdentifier }).optional(),
});
export type RelayTable = z.infer<typeof relayTableSchema>;

/** Why a list of tables is inconsistent (duplicates, unknown or cyclic parents); [] when fine. */
export function tableListProblems(
  tables: readonly RelayTable[],
): { index: number; message: string }[] {
  const problems: { index: number; message: string }[] = [];
  const byName = new Map<string, number>();
  tables.forEach((table, index) => {
    const first = byName.get(table.name);
    if (first !== undefined) {
      problems.push({
        index,
        message: `"${table.name}" is listed twice (also [${first}]) — list each table once`,
      });
    } else byName.set(table.name, index);
  });
  tables.forEach((table, index) => {
    if (!table.parent) return;
    if (table.parent.table === table.name) {
      problems.push({
        index,
        message: `parent.table "${table.name}" is the table itself — a parent is another listed table`,
      });
    } else if (!byName.has(table.parent.table)) {
      problems.push({
        index,
        message: `parent.table "${table.parent.table}" is not listed — add { name: ${table.parent.table} } to the tables`,
      });
    }
  });
  // A cycle would make "children first" impossible.
  tables.forEach((table, index) => {
    const seen = new Set<string>([table.name]);
    let current = table.parent?.table;
    while (current !== undefined) {
      if (seen.has(current)) {
        problems.push({
          index,
          message: `parents form a cycle through "${current}" — a table's ancestors cannot include itself`,
        });
        return;
      }
      seen.add(current);
      current = tables.find((t) => t.name === current)?.parent?.table;
    }
  });
  return problems;
}

/** The storefront tables to relay; the stack config's `tables` uses this too. */
export const relayTablesSchema = z
  .array(relayTableSchema)
  .min(1, "lists no table — relay at least one, e.g. [{ name: order_data }]")
  .superRefine((tables, ctx) => {
    for (const { index, message } of tableListProblems(tables)) {
      ctx.addIssue({ code: "custom", path: [index], message });
    }
  });

/**
 * The settings that are also stack config keys of the same name, with their defaults: the stack
 * config schema (config/schema.ts) spreads these very fields, so a default is written once.
 */
export const DATABASE_SETTING_FIELDS = {
  /** Outbox rows per `lambda_async` call (1..500). @default - 100 */
  dispatchBatchSize: dispatchBatchSizeSchema
    .default(100)
    .describe("a whole number 1..500, e.g. 100"),
  /** Interval of the purge event (1..60 minutes). @default - 5 */
  purgeIntervalMinutes: purgeIntervalMinutesSchema
    .default(5)
    .describe("a whole number of minutes 1..60, e.g. 5"),
  /**
   * The storefront tables to relay, each `{ name, excludeColumns?, parent? }`; `parent: { table,
   * column }` purges a child row (address, item) with its parent row, children first.
   * @default - [{ name: order_data }]
   */
  /**
   * What a row needs before the purge may remove it: `confirmed` — the DC acknowledged its latest
   * change (the database keeps it until then and resends what was not confirmed); `handedOff` —
   * its latest change was handed to `lambda_async` (the first release's behaviour). @default - "confirmed"
   */
  purgeRequires: z
    .enum(["confirmed", "handedOff"])
    .default("confirmed")
    .describe('"confirmed" or "handedOff"'),
  /**
   * A change handed off but not confirmed by the DC within this many minutes is dispatched again
   * (the DC's version check makes a second delivery harmless). @default - 30
   */
  resendAfterMinutes: z
    .number()
    .int("must be a whole number of minutes")
    .min(1, "must be at least 1 minute")
    .max(1440, "must be at most 1440 minutes (one day)")
    .default(30)
    .describe("a whole number of minutes 1..1440, e.g. 30"),
  tables: relayTablesSchema
    .default(() => [{ name: "order_data", excludeColumns: [] }])
    .describe('a list of tables, e.g. [{"name": "order_data"}]'),
};

export const databaseSettingsSchema = z.strictObject({
  /** AWS region written into every envelope. */
  region: z
    .string()
    .regex(REGION, "must be an AWS region code such as ap-northeast-1")
    .describe('an AWS region code such as "ap-northeast-1"'),
  /** ARN of the notify function that `lambda_async` invokes. */
  functionArn: z
    .string()
    .regex(FUNCTION_ARN, "must look like arn:aws:lambda:<region>:<account>:function:<name>")
    .describe('the notify function\'s ARN, "arn:aws:lambda:<region>:<account>:function:<name>"'),
  /**
   * Hours after which handed-off rows are purged. The stack config requires > 0; local runs and
   * tests may use 0 or fractions (seconds of retention).
   */
  retentionHours: z
    .number()
    .min(0, "must be >= 0 hours")
    .max(8760, "must be at most 8760 hours (one year)")
    .describe("a number of hours >= 0, e.g. 24"),
  ...DATABASE_SETTING_FIELDS,
  /**
   * Minutes after which a handed-off change the DC has not confirmed is dispatched again. The
   * stack config requires whole minutes 1..1440; local runs and tests may use fractions down to
   * one second (`npm start -- --resend-after-seconds N`).
   */
  resendAfterMinutes: z
    .number()
    .min(1 / 60, "must be at least 1/60 minute (one second)")
    .max(1440, "must be at most 1440 minutes (one day)")
    .default(30)
    .describe("a number of minutes 1/60..1440, e.g. 30"),
});

export type DatabaseSettings = z.infer<typeof databaseSettingsSchema>;
/** What a caller may pass: fields with a default may be left out. */
export type DatabaseSettingsInput = z.input<typeof databaseSettingsSchema>;

const FIELDS = Object.keys(databaseSettingsSchema.shape) as (keyof DatabaseSettings)[];

/** One clause per problem, naming the field and what it must be. */
function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === "unrecognized_keys") {
    return `unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.join(", ")} — known: ${FIELDS.join(", ")}`;
  }
  const field = issue.path.join(".");
  if (!field) {
    return `must be a JSON object {${FIELDS.map((f) => `"${f}": …`).join(", ")}}`;
  }
  const hint = databaseSettingsSchema.shape[field as keyof DatabaseSettings]?.description;
  if (issue.code === "invalid_type") {
    const received = /received (\w+)/.exec(issue.message)?.[1];
    if (received === "undefined") return `${field} is missing${hint ? `: expected ${hint}` : ""}`;
    return `${field} must be ${hint ?? `a ${issue.expected}`}${received ? ` (got ${received})` : ""}`;
  }
  return `${field} ${issue.message.replace(/^Invalid input: /, "")}`;
}

/**
 * `value` as settings, or a `DatabaseSettingsError` whose message is one line naming every bad
 * field and the fix (`source` says where the value came from, e.g. "RELAY_SETTINGS").
 */
export function checkDatabaseSettings(value: unknown, source: string): DatabaseSettings {
  const result = databaseSettingsSchema.safeParse(value);
  if (!result.success) {
    throw new DatabaseSettingsError(
      `${source}: ${result.error.issues.map(describeIssue).join("; ")}`,
    );
  }
  return result.data;
}

/** `text` (JSON) as settings; a one-line `DatabaseSettingsError` naming the field and the fix. */
export function parseDatabaseSettings(text: string, source: string): DatabaseSettings {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new DatabaseSettingsError(
      `${source} is not JSON (${(error as Error).message}); expected {${FIELDS.map((f) => `"${f}": …`).join(", ")}}`,
    );
  }
  return checkDatabaseSettings(value, source);
}

export class DatabaseSettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DatabaseSettingsError";
  }
}
