/**
 * notify: invoked asynchronously by Aurora (`lambda_async`) with a relay envelope (v2: UPSERT,
 * DELETE and SCHEMA records, contract/envelope.ts) or the database's heartbeat; puts every record
 * on the regional queue (QUEUE_URL) with SendMessageBatch, up to 10 (and 1 MiB) per call.
 *
 * Records are validated one by one: a record that breaks the contract (e.g. a `row` that is not
 * an object) is reported by position and outboxId, and every valid record of the same envelope is
 * still enqueued. Only an envelope whose frame is broken (no region, no records array) is
 * rejected as a whole.
 *
 * Failure contract: an invalid record, a malformed envelope or any record still unsent after
 * retries makes the invocation throw, so Lambda's async retries and then the on-failure
 * destination (the regional DLQ, which keeps the whole event for an operator) take over — nothing
 * is dropped silently. Re-sending records that did go through is harmless: each message's dedup
 * id is per change (`region:outboxId`) and the DC applies changes by outboxId.
 *
 * Logs carry ids, counts, timings and error codes only — never row or key contents.
 */
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { Logger } from "@aws-lambda-powertools/logger";
import type { Metrics } from "@aws-lambda-powertools/metrics";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import {
  InvalidEnvelopeError,
  isHeartbeat,
  parseEnvelope,
  parseHeartbeat,
  toRelayMessage,
  type RelayRecord,
} from "../contract/envelope";
import { LAMBDA_ENV } from "../contract/lambdaEnv";
import { SERVICE } from "../contract/metrics";
import { requireEnv } from "./lib/env";
import { createLogger, createMetrics, errorSummary, METRIC } from "./lib/observability";
import { createSqsClient, sendMessageBatchWithRetry, type RetryOptions } from "./lib/sqs";
import { relayEntry } from "./lib/relay";

export const NOTIFY_SERVICE = SERVICE.notify;

export interface NotifyDeps {
  readonly client: SQSClient;
  readonly queueUrl: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly retry?: RetryOptions;
}

export interface NotifyResult {
  readonly region: string;
  readonly enqueued: number;
  readonly calls: number;
}

/** Thrown when records could not be enqueued; names outbox ids only. */
export class NotifyDeliveryError extends Error {
  constructor(
    readonly failedOutboxIds: number[],
    readonly total: number,
  ) {
    super(
      `notify: ${failedOutboxIds.length} of ${total} records not enqueued (outboxIds ${failedOutboxIds.join(",")})`,
    );
    this.name = "NotifyDeliveryError";
  }
}

/** One record of an envelope that breaks the contract: its position, outboxId if any, issues. */
export interface InvalidRecord {
  readonly index: number;
  readonly outboxId?: number;
  readonly issues: string[];
}

/**
 * Thrown after the valid records of an envelope were enqueued, when some records were invalid:
 * the invocation fails so the event reaches the on-failure destination. Names positions, outbox
 * ids and rule codes only.
 */
export class InvalidRecordsError extends Error {
  constructor(
    readonly invalid: readonly InvalidRecord[],
    readonly total: number,
    readonly enqueued: number,
  ) {
    super(
      `notify: ${invalid.length} of ${total} records invalid, ${enqueued} valid ones enqueued (` +
        invalid
          .map(
            (r) =>
              `records.${r.index}${r.outboxId ? ` outboxId ${r.outboxId}` : ""}: ${r.issues.join(", ")}`,
          )
          .join("; ") +
        ")",
    );
    this.name = "InvalidRecordsError";
  }
}

/**
 * Validates an envelope record by record. The frame (region, a non-empty records array) must be
 * valid, or the whole envelope is rejected (InvalidEnvelopeError); each record is then checked on
 * its own with the contract's validator, so one bad record cannot hide the valid ones.
 */
export function parseEnvelopeRecords(payload: unknown): {
  region: string;
  records: RelayRecord[];
  invalid: InvalidRecord[];
} {
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    throw new InvalidEnvelopeError(["(root): invalid_type"]);
  }
  const { region, records, ...rest } = payload as Record<string, unknown>;
  const frameIssues: string[] = [];
  if (typeof region !== "string" || region === "") frameIssues.push("region: invalid_type");
  if (!Array.isArray(records)) frameIssues.push("records: invalid_type");
  else if (records.length === 0) frameIssues.push("records: too_small");
  for (const key of Object.keys(rest)) frameIssues.push(`${key}: unrecognized_keys`);
  if (frameIssues.length > 0) throw new InvalidEnvelopeError(frameIssues);
  const valid: RelayRecord[] = [];
  const invalid: InvalidRecord[] = [];
  (records as unknown[]).forEach((record, index) => {
    try {
      // The contract's own validator, on an envelope of this one record.
      valid.push(parseEnvelope({ region, records: [record] }).records[0]);
    } catch (error) {
      if (!(error instanceof InvalidEnvelopeError)) throw error;
      const outboxId = (record as { outboxId?: unknown } | null)?.outboxId;
      invalid.push({
        index,
        ...(Number.isSafeInteger(outboxId) && (outboxId as number) > 0
          ? { outboxId: outboxId as number }
          : {}),
        issues: error.issues.map((issue) =>
          issue.replace(/^records\.0(\.|:)/, "$1").replace(/^[.:]\s*/, ""),
        ),
      });
    }
  });
  return { region: region as string, records: valid, invalid };
}

/** Builds a notify handler around explicit dependencies (tests, local run). */
export function createNotifyHandler(deps: NotifyDeps): (event: unknown) => Promise<NotifyResult> {
  const { client, queueUrl, logger, metrics } = deps;
  return async (event: unknown) => {
    const started = Date.now();
    try {
      let payload: unknown;
      let parsed: ReturnType<typeof parseEnvelopeRecords> | undefined;
      try {
        payload = typeof event === "string" ? safeJson(event) : event;
        if (!isHeartbeat(payload)) parsed = parseEnvelopeRecords(payload);
      } catch (error) {
        if (error instanceof InvalidEnvelopeError) {
          // The issues name paths and rule codes only, never values.
          logger.error("rejected malformed relay envelope", { issues: error.issues });
        }
        throw error;
      }
      if (parsed === undefined) return recordHeartbeat(payload, logger, metrics);
      const { region, records, invalid } = parsed;
      const total = records.length + invalid.length;
      if (invalid.length > 0) {
        logger.error("invalid records in the relay envelope; enqueueing the valid ones", {
          region,
          records: total,
          invalid: invalid.map((r) => ({ index: r.index, outboxId: r.outboxId, issues: r.issues })),
        });
      }
      const messages = records.map((record) => toRelayMessage(region, record));
      const result = await sendMessageBatchWithRetry(
        client,
        queueUrl,
        messages.map((message) => ({
          key: message.outboxId,
          entry: relayEntry(message, { fifo: false }),
        })),
        deps.retry,
      );
      metrics.addMetric(METRIC.enqueued, MetricUnit.Count, result.sent.length);
      const outboxIds = messages.map((m) => m.outboxId);
      if (result.failed.length > 0) {
        logger.error("records not enqueued after retries", {
          region,
          records: messages.length,
          enqueued: result.sent.length,
          failed: result.failed.map(({ key, failure }) => ({
            outboxId: key,
            code: failure.code,
            senderFault: failure.senderFault,
            attempts: failure.attempts,
          })),
          calls: result.calls,
          durationMs: Date.now() - started,
        });
        throw new NotifyDeliveryError(
          result.failed.map((f) => f.key),
          messages.length,
        );
      }
      if (invalid.length > 0) throw new InvalidRecordsError(invalid, total, result.sent.length);
      logger.info("enqueued", {
        region,
        records: messages.length,
        outboxIdMin: Math.min(...outboxIds),
        outboxIdMax: Math.max(...outboxIds),
        calls: result.calls,
        durationMs: Date.now() - started,
      });
      return { region, enqueued: result.sent.length, calls: result.calls };
    } catch (error) {
      if (
        !(error instanceof InvalidEnvelopeError) &&
        !(error instanceof NotifyDeliveryError) &&
        !(error instanceof InvalidRecordsError)
      ) {
        logger.error("notify failed", { error: errorSummary(error) });
      }
      throw error;
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };
}

/**
 * The database's once-a-minute status: metrics only (nothing is enqueued). Its absence raises the
 * HeartbeatMissing alarm, the one signal for a relay that cannot reach Lambda at all.
 */
function recordHeartbeat(payload: unknown, logger: Logger, metrics: Metrics): NotifyResult {
  let heartbeat;
  try {
    heartbeat = parseHeartbeat(payload);
  } catch (error) {
    if (error instanceof InvalidEnvelopeError) {
      logger.error("rejected malformed relay heartbeat", { issues: error.issues });
    }
    throw error;
  }
  const status = heartbeat.heartbeat;
  metrics.addMetric(METRIC.heartbeat, MetricUnit.Count, 1);
  metrics.addMetric(METRIC.outboxPending, MetricUnit.Count, status.pending);
  metrics.addMetric(METRIC.outboxOldestPending, MetricUnit.Seconds, status.oldestPendingSeconds);
  metrics.addMetric(METRIC.outboxOverdue, MetricUnit.Count, status.overdue);
  // Fields added in wave 2: a database migrated before them reports without them (read as 0).
  metrics.addMetric(METRIC.outboxQuarantined, MetricUnit.Count, status.quarantined ?? 0);
  metrics.addMetric(METRIC.purgeFailures, MetricUnit.Count, status.purgeFailures ?? 0);
  metrics.addMetric(METRIC.backfillIncomplete, MetricUnit.Count, status.backfillIncomplete ?? 0);
  metrics.addMetric(METRIC.unconfirmedOverdue, MetricUnit.Count, status.unconfirmedOverdue ?? 0);
  logger.info("heartbeat", {
    region: heartbeat.region,
    ...status,
    quarantined: status.quarantined ?? 0,
    purgeFailures: status.purgeFailures ?? 0,
    backfillIncomplete: status.backfillIncomplete ?? 0,
    unconfirmedOverdue: status.unconfirmedOverdue ?? 0,
  });
  return { region: heartbeat.region, enqueued: 0, calls: 0 };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new InvalidEnvelopeError(["(root): not JSON"]);
  }
}

let defaultHandler: ((event: unknown) => Promise<NotifyResult>) | undefined;

/** Lambda entry point; dependencies are built from the environment on first use. */
export async function handler(event: unknown): Promise<NotifyResult> {
  if (!defaultHandler) {
    defaultHandler = createNotifyHandler({
      client: createSqsClient(),
      queueUrl: requireEnv(LAMBDA_ENV.queueUrl),
      logger: createLogger(NOTIFY_SERVICE),
      metrics: createMetrics(NOTIFY_SERVICE),
    });
  }
  return defaultHandler(event);
}
