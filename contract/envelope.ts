/**
 * The relay envelope: the one contract between the SQL side (`relay_dispatch()` builds it and
 * hands it to `lambda_async`) and the Lambda side (notify validates it, the forwarder and the DC
 * consumer read the per-record messages derived from it).
 *
 * Defined once here — the TypeScript types are inferred from the runtime validators, so the two
 * cannot drift. The SQL tests validate `relay_dispatch()`'s real output with `parseEnvelope`.
 *
 * A record is one change of one row of a listed storefront table, or the schema of a table:
 * - `UPSERT`: the row was inserted or updated; `row` holds its **current committed state** when
 *   dispatch read it (every relayed column). Two changes of a row between dispatch runs may be
 *   sent as one: the DC converges to the latest state, it does not replay history.
 * - `DELETE`: the row was deleted; `key` only, no `row`.
 * - `SCHEMA`: the table's relayed columns and their MySQL types, sent when capture is installed
 *   and whenever the columns change, before any row that carries the new shape.
 * `outboxId` orders a row's changes: the DC applies a change only if it is newer than what it
 * holds for that `(region, table, key)`.
 *
 * Values are exact and typed (see `RelayValue`): JSON cannot carry every MySQL value natively,
 * so DECIMAL and BIGINT travel as decimal strings, binary as `{ "$base64": "…" }`, TIMESTAMP as
 * UTC ISO-8601, DATETIME/DATE/TIME as MySQL writes them, JSON columns as JSON.
 */
// zod/mini: the same validators at a fraction of the bundle size (the full "zod" build pulls
// every locale into each Lambda bundle: ~450 KiB vs ~20 KiB).
import * as z from "zod/mini";

/**
 * The payload limit the relay holds `lambda_async` calls to: 256 KiB. Lambda raised its
 * asynchronous payload limit to 1 MiB in late 2025, but Aurora's `lambda_async` documentation
 * states no limit of its own, so the relay keeps to the figure every path is documented to accept
 * (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html; Aurora:
 * AuroraMySQL.Integrating.NativeLambda). The local stand-in rejects larger payloads.
 */
export const ASYNC_INVOKE_PAYLOAD_LIMIT_BYTES = 256 * 1024;

/** SQS's maximum message size (set explicitly on every queue): 1 MiB. */
export const SQS_MESSAGE_LIMIT_BYTES = 1024 * 1024;

/**
 * The largest single record dispatch sends: it must fit one `lambda_async` payload with the
 * envelope around it. A larger row is quarantined (recorded with the reason, never blocking).
 */
export const MAX_RECORD_BYTES = ASYNC_INVOKE_PAYLOAD_LIMIT_BYTES - 1024;

/** ISO-8601 UTC, as `relay_dispatch()` formats it: 2026-11-23T01:02:03.456Z (up to 6 digits). */
const isoUtc = z
  .string()
  .check(
    z.regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/, "must be ISO-8601 UTC (…Z)"),
  );

/** Bytes that are not text (BINARY, VARBINARY, BLOB, BIT, spatial): base64 of the raw bytes. */
export const binaryValueSchema = z.strictObject({ $base64: z.string() });
export type BinaryValue = z.infer<typeof binaryValueSchema>;

/**
 * One column value. Which form a column uses follows from its type in the table's `SCHEMA`
 * record (`null` is SQL NULL; "" is an empty string):
 * - string: CHAR/VARCHAR/TEXT/ENUM/SET; DECIMAL and BIGINT (exact decimal text);
 *   TIMESTAMP as UTC ISO-8601 (`…Z`); DATETIME/DATE/TIME/YEAR as MySQL writes them
 * - number: TINYINT/SMALLINT/MEDIUMINT/INT, FLOAT/DOUBLE
 * - `{ $base64 }`: binary strings and BIT
 * - any JSON: a JSON column's document
 */
export const relayValueSchema = z.unknown();
export type RelayValue = unknown;

const tableName = z.string().check(z.minLength(1), z.maxLength(64));
/** Primary-key columns → values; never empty (every relayed table has a primary key). */
const keySchema = z
  .record(z.string(), relayValueSchema)
  .check(z.refine((key) => Object.keys(key).length > 0, "must name the primary-key columns"));

const changeBase = {
  /** Primary key of the outbox row: orders a row's changes. */
  outboxId: z.int().check(z.positive()),
  /** Source table, e.g. `order_data`. */
  table: tableName,
  /** The row's primary key, an object of its key columns (composite keys have several). */
  key: keySchema,
  /** When the change was captured (trigger time), UTC. */
  occurredAt: isoUtc,
};

export const upsertRecordSchema = z.strictObject({
  ...changeBase,
  op: z.literal("UPSERT"),
  /** Every relayed column's current value. Personal data: never log it. */
  row: z.record(z.string(), relayValueSchema),
});

export const deleteRecordSchema = z.strictObject({
  ...changeBase,
  op: z.literal("DELETE"),
});

export const columnSchema = z.strictObject({
  name: z.string().check(z.minLength(1), z.maxLength(64)),
  /** information_schema COLUMN_TYPE, e.g. `decimal(26,8)`, `varbinary(16)`, `bigint(20) unsigned`. */
  type: z.string().check(z.minLength(1)),
  nullable: z.boolean(),
});
export type RelayColumn = z.infer<typeof columnSchema>;

export const schemaRecordSchema = z.strictObject({
  outboxId: z.int().check(z.positive()),
  table: tableName,
  op: z.literal("SCHEMA"),
  occurredAt: isoUtc,
  schema: z.strictObject({
    /** Relayed columns in table order (excluded columns are absent). */
    columns: z.array(columnSchema).check(z.minLength(1)),
    /** Primary-key column names in key order. */
    primaryKey: z.array(z.string()).check(z.minLength(1)),
  }),
});

export const relayRecordSchema = z.discriminatedUnion("op", [
  upsertRecordSchema,
  deleteRecordSchema,
  schemaRecordSchema,
]);

export const relayEnvelopeSchema = z.strictObject({
  /** AWS region of the cluster that produced the records. */
  region: z.string().check(z.minLength(1)),
  records: z.array(relayRecordSchema).check(z.minLength(1)),
});

export type UpsertRecord = z.infer<typeof upsertRecordSchema>;
export type DeleteRecord = z.infer<typeof deleteRecordSchema>;
export type SchemaRecord = z.infer<typeof schemaRecordSchema>;
export type RelayRecord = z.infer<typeof relayRecordSchema>;
export type RelayEnvelope = z.infer<typeof relayEnvelopeSchema>;

/**
 * The once-a-minute heartbeat `relay_heartbeat()` sends through the same `lambda_async`: the
 * relay's status in the database. notify turns it into metrics; its absence raises an alarm.
 * Fields added after the first release are optional (a database migrated before them still
 * reports), and read as 0 when absent.
 */
export const relayHeartbeatSchema = z.strictObject({
  region: z.string().check(z.minLength(1)),
  heartbeat: z.strictObject({
    at: isoUtc,
    /** Outbox rows not yet handed off. */
    pending: z.int().check(z.nonnegative()),
    /** Age of the oldest of them (0 when none). */
    oldestPendingSeconds: z.int().check(z.nonnegative()),
    /** Rows older than the retention that were never handed off. */
    overdue: z.int().check(z.nonnegative()),
    /** Dispatch runs in a row whose lambda_async failed. */
    consecutiveFailures: z.int().check(z.nonnegative()),
    /** Changes too large to send, waiting for an operator (never purged meanwhile). */
    quarantined: z.optional(z.int().check(z.nonnegative())),
    /** Purge runs in a row that failed (the error is in relay_status). */
    purgeFailures: z.optional(z.int().check(z.nonnegative())),
    /** Listed tables whose backfill is not verified complete. */
    backfillIncomplete: z.optional(z.int().check(z.nonnegative())),
    /** Rows handed off, not confirmed by the DC and older than the retention (kept by the purge). */
    unconfirmedOverdue: z.optional(z.int().check(z.nonnegative())),
  }),
});
export type RelayHeartbeat = z.infer<typeof relayHeartbeatSchema>;

/** True for a heartbeat payload (as opposed to a relay envelope); does not validate it. */
export function isHeartbeat(input: unknown): boolean {
  return typeof input === "object" && input !== null && "heartbeat" in input;
}

/** Validates a heartbeat payload. */
export function parseHeartbeat(input: unknown): RelayHeartbeat {
  const result = relayHeartbeatSchema.safeParse(input);
  if (!result.success) throw new InvalidEnvelopeError(describeIssues(result.error));
  return result.data;
}

/**
 * The body of every SQS message on the regional queue and the aggregator queue: one record with
 * its region and the two ids FIFO needs.
 */
export type RelayMessage = RelayRecord & {
  readonly region: string;
  /** `<region>:<outboxId>`: one per change, so an UPDATE right after its INSERT is not dropped. */
  readonly dedupKey: string;
  /** `<region>:<table>:<canonical key>`: one group per row, so a row's changes stay in order. */
  readonly rowKey: string;
};

/** Name of the SQS message attribute that carries the dedup key. */
export const DEDUP_KEY_ATTRIBUTE = "dedupKey";

/** The key as canonical text: columns sorted by name, values as JSON. */
export function canonicalKey(key: Readonly<Record<string, unknown>>): string {
  return JSON.stringify(
    Object.keys(key)
      .sort()
      .map((column) => [column, key[column]]),
  );
}

export function dedupKeyOf(region: string, outboxId: number): string {
  return `${region}:${outboxId}`;
}

/** The row a record is about; a `SCHEMA` record's "row" is its table. */
export function rowKeyOf(region: string, record: RelayRecord): string {
  return record.op === "SCHEMA"
    ? `${region}:${record.table}:$schema`
    : `${region}:${record.table}:${canonicalKey(record.key)}`;
}

export function toRelayMessage(region: string, record: RelayRecord): RelayMessage {
  return {
    ...record,
    region,
    dedupKey: dedupKeyOf(region, record.outboxId),
    rowKey: rowKeyOf(region, record),
  };
}

/** Thrown for a payload that is not a relay envelope; the message names the bad field only. */
export class InvalidEnvelopeError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid relay envelope: ${issues.join("; ")}`);
    this.name = "InvalidEnvelopeError";
  }
}

/**
 * Describes what is wrong by path and rule only — never the offending value, because values are
 * personal data and this message ends up in logs.
 */
function describeIssues(error: z.core.$ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.code}`);
}

/** Validates an unknown value (already JSON-parsed) as a relay envelope. */
export function parseEnvelope(input: unknown): RelayEnvelope {
  const result = relayEnvelopeSchema.safeParse(input);
  if (!result.success) throw new InvalidEnvelopeError(describeIssues(result.error));
  return result.data;
}

const messageFields = {
  region: z.string().check(z.minLength(1)),
  dedupKey: z.string().check(z.minLength(1)),
  rowKey: z.string().check(z.minLength(1)),
};
const relayMessageSchema = z.discriminatedUnion("op", [
  z.extend(upsertRecordSchema, messageFields),
  z.extend(deleteRecordSchema, messageFields),
  z.extend(schemaRecordSchema, messageFields),
]);

/** Validates an SQS message body (a JSON string) as a relay message. */
export function parseRelayMessage(body: string): RelayMessage {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new InvalidEnvelopeError(["body: not JSON"]);
  }
  const result = relayMessageSchema.safeParse(json);
  if (!result.success) throw new InvalidEnvelopeError(describeIssues(result.error));
  const message = result.data as RelayMessage;
  if (message.dedupKey !== dedupKeyOf(message.region, message.outboxId)) {
    throw new InvalidEnvelopeError(["dedupKey: does not match region:outboxId"]);
  }
  if (message.rowKey !== rowKeyOf(message.region, message)) {
    throw new InvalidEnvelopeError(["rowKey: does not match region:table:key"]);
  }
  return message;
}
