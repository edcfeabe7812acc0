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

export const databaseSettingsSchema = z.strictObject({
  /** AWS region written into every envelope. */
  region: z.string().regex(REGION, "must be an AWS region code such as ap-northeast-1"),
  /** ARN of the notify function that `lambda_async` invokes. */
  functionArn: z
    .string()
    .regex(FUNCTION_ARN, "must look like arn:aws:lambda:<region>:<account>:function:<name>"),
  /**
   * Hours after which handed-off rows are purged. The stack config requires > 0; local runs and
   * tests may use 0 or fractions (seconds of retention).
   */
  retentionHours: z
    .number()
    .min(0, "must be >= 0 hours")
    .max(8760, "must be at most 8760 hours (one year)"),
  dispatchBatchSize: dispatchBatchSizeSchema,
  purgeIntervalMinutes: purgeIntervalMinutesSchema,
});

export type DatabaseSettings = z.infer<typeof databaseSettingsSchema>;

/** Why `text` is not a settings object, one line per problem naming the field and the fix. */
export function parseDatabaseSettings(text: string, source: string): DatabaseSettings {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new DatabaseSettingsError(
      `${source} is not JSON (${(error as Error).message}); expected {"region": …, "functionArn": …, "retentionHours": …, "dispatchBatchSize": …, "purgeIntervalMinutes": …}`,
    );
  }
  const result = databaseSettingsSchema.safeParse(value);
  if (!result.success) {
    throw new DatabaseSettingsError(
      `${source}: ` +
        result.error.issues
          .map((issue) =>
            issue.code === "unrecognized_keys"
              ? `unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.join(", ")} — known: ${Object.keys(databaseSettingsSchema.shape).join(", ")}`
              : `${issue.path.join(".") || "value"} ${issue.message.replace(/^Invalid input: /, "")}`,
          )
          .join("; "),
    );
  }
  return result.data;
}

export class DatabaseSettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DatabaseSettingsError";
  }
}
