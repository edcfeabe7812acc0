/**
 * The relay envelope: the one contract between the SQL side (`relay_dispatch()` builds it and
 * hands it to `lambda_async`) and the Lambda side (notify validates it, the forwarder and the DC
 * consumer read the per-record messages derived from it).
 *
 * Defined once here — the TypeScript types are inferred from the runtime validators, so the two
 * cannot drift. The SQL tests validate `relay_dispatch()`'s real output with `parseEnvelope`.
 */
// zod/mini: the same validators at a fraction of the bundle size (the full "zod" build pulls
// every locale into each Lambda bundle: ~450 KiB vs ~20 KiB).
import * as z from "zod/mini";

/** Lambda's limit for an asynchronous invocation payload is 1 MiB (256 KiB before 2025). */
export const ASYNC_INVOKE_PAYLOAD_LIMIT_BYTES = 256 * 1024;

/** ISO-8601 UTC with milliseconds, as `relay_dispatch()` formats it: 2026-11-23T01:02:03.456Z. */
const isoUtc = z
  .string()
  .check(
    z.regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/, "must be ISO-8601 UTC (…Z)"),
  );

export const relayRecordSchema = z.strictObject({
  /** Primary key of the outbox row; strictly increasing in commit-ish order. */
  outboxId: z.int().check(z.positive()),
  /** Source table, e.g. `order_data`. */
  table: z.string().check(z.minLength(1), z.maxLength(64)),
  /** Only inserts are relayed (the storefront never updates or deletes orders). */
  op: z.literal("INSERT"),
  /** Primary key of the source row. */
  rowId: z.int().check(z.nonnegative()),
  /** When the source row was inserted (trigger time), UTC. */
  occurredAt: isoUtc,
  /** Every column of the source row, as built by `JSON_OBJECT`. Personal data: never log it. */
  row: z.record(z.string(), z.unknown()),
});

export const relayEnvelopeSchema = z.strictObject({
  /** AWS region of the cluster that produced the records. */
  region: z.string().check(z.minLength(1)),
  records: z.array(relayRecordSchema).check(z.minLength(1)),
});

export type RelayRecord = z.infer<typeof relayRecordSchema>;
export type RelayEnvelope = z.infer<typeof relayEnvelopeSchema>;

/**
 * The once-a-minute heartbeat `relay_heartbeat()` sends through the same `lambda_async`: the
 * relay's status in the database. notify turns it into metrics; its absence raises an alarm.
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

/** The body of every SQS message on the regional queue and the aggregator queue. */
export const relayMessageSchema = z.extend(relayRecordSchema, {
  region: z.string().check(z.minLength(1)),
  /** `<region>:<table>:<rowId>`: the idempotency key all the way to the DC. */
  dedupKey: z.string().check(z.minLength(1)),
});
export type RelayMessage = z.infer<typeof relayMessageSchema>;

/** Name of the SQS message attribute that carries the dedup key. */
export const DEDUP_KEY_ATTRIBUTE = "dedupKey";

export function dedupKeyOf(region: string, table: string, rowId: number): string {
  return `${region}:${table}:${rowId}`;
}

export function toRelayMessage(region: string, record: RelayRecord): RelayMessage {
  return { ...record, region, dedupKey: dedupKeyOf(region, record.table, record.rowId) };
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
  if (
    result.data.dedupKey !== dedupKeyOf(result.data.region, result.data.table, result.data.rowId)
  ) {
    throw new InvalidEnvelopeError(["dedupKey: does not match region:table:rowId"]);
  }
  return result.data;
}
