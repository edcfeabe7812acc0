/**
 * notify: invoked asynchronously by Aurora (`lambda_async`) with a relay envelope; puts every
 * record on the regional queue (QUEUE_URL) with SendMessageBatch, 10 per call.
 *
 * Failure contract: a malformed envelope or any record still unsent after retries makes the
 * invocation throw, so Lambda's async retries and then the on-failure destination take over —
 * nothing is dropped silently. Re-sending records that did go through is harmless: every message
 * carries its dedup key and the chain is idempotent.
 *
 * Logs carry ids, counts, timings and error codes only — never row contents.
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
  type RelayEnvelope,
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

/** Builds a notify handler around explicit dependencies (tests, local run). */
export function createNotifyHandler(deps: NotifyDeps): (event: unknown) => Promise<NotifyResult> {
  const { client, queueUrl, logger, metrics } = deps;
  return async (event: unknown) => {
    const started = Date.now();
    try {
      let payload: unknown;
      let envelope: RelayEnvelope | undefined;
      try {
        payload = typeof event === "string" ? safeJson(event) : event;
        if (!isHeartbeat(payload)) envelope = parseEnvelope(payload);
      } catch (error) {
        if (error instanceof InvalidEnvelopeError) {
          // The issues name paths and rule codes only, never values.
          logger.error("rejected malformed relay envelope", { issues: error.issues });
        }
        throw error;
      }
      if (envelope === undefined) return recordHeartbeat(payload, logger, metrics);
      const messages = envelope.records.map((record) => toRelayMessage(envelope.region, record));
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
          region: envelope.region,
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
      logger.info("enqueued", {
        region: envelope.region,
        records: messages.length,
        outboxIdMin: Math.min(...outboxIds),
        outboxIdMax: Math.max(...outboxIds),
        calls: result.calls,
        durationMs: Date.now() - started,
      });
      return { region: envelope.region, enqueued: result.sent.length, calls: result.calls };
    } catch (error) {
      if (!(error instanceof InvalidEnvelopeError) && !(error instanceof NotifyDeliveryError)) {
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
  logger.info("heartbeat", { region: heartbeat.region, ...status });
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
