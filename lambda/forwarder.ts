/**
 * forwarder: SQS event source on the regional queue → aggregator queue (AGGREGATOR_QUEUE_URL in
 * AGGREGATOR_REGION; FIFO when AGGREGATOR_FIFO=true).
 *
 * The event's records are validated one by one (envelope v2 messages: UPSERT, DELETE, SCHEMA),
 * then forwarded with SendMessageBatch in groups of up to 10 entries and 1 MiB (per-entry retry
 * with backoff for server faults and throttling). On a FIFO aggregator each message gets its
 * per-change dedup id (`region:outboxId`) and its per-row group (`region:table:key`), see
 * lib/relay.ts. Powertools' BatchProcessor then
 * turns the per-message outcome into `batchItemFailures`, naming exactly the messages that were
 * not forwarded (invalid bodies included: they go to the regional DLQ after maxReceiveCount).
 *
 * Metrics: RelayLag (ms, now − occurredAt, per forwarded message), Forwarded, ForwardFailed.
 * Logs carry message ids, outbox ids, counts, timings and error codes only — never row or key
 * contents.
 */
import type { SQSClient } from "@aws-sdk/client-sqs";
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { Logger } from "@aws-lambda-powertools/logger";
import type { Metrics } from "@aws-lambda-powertools/metrics";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { InvalidEnvelopeError, parseRelayMessage, type RelayMessage } from "../contract/envelope";
import { LAMBDA_ENV } from "../contract/lambdaEnv";
import { SERVICE } from "../contract/metrics";
import { booleanEnv, requireEnv } from "./lib/env";
import { createLogger, createMetrics, errorSummary, METRIC } from "./lib/observability";
import { relayEntry } from "./lib/relay";
import { createSqsClient, sendMessageBatchWithRetry, type RetryOptions } from "./lib/sqs";
import type { SqsBatchResponse, SqsEvent, SqsRecord } from "./lib/sqs-event";

export const FORWARDER_SERVICE = SERVICE.forwarder;

export interface ForwarderDeps {
  /** SQS client for the aggregator's region. */
  readonly client: SQSClient;
  readonly aggregatorQueueUrl: string;
  readonly fifo: boolean;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly retry?: RetryOptions;
  readonly now?: () => number;
}

/** Why one message was not forwarded; carries codes and ids only. */
export class ForwardError extends Error {
  constructor(
    readonly messageId: string,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ForwardError";
  }
}

export function createForwarderHandler(
  deps: ForwarderDeps,
): (event: SqsEvent, context?: unknown) => Promise<SqsBatchResponse> {
  const { client, aggregatorQueueUrl, fifo, logger, metrics } = deps;
  const now = deps.now ?? Date.now;
  const processor = new BatchProcessor(EventType.SQS, { logger });

  return async (event: SqsEvent) => {
    const started = now();
    const outcomes = new Map<string, ForwardError | undefined>();
    try {
      const valid: { record: SqsRecord; message: RelayMessage }[] = [];
      for (const record of event.Records) {
        try {
          valid.push({ record, message: parseRelayMessage(record.body) });
        } catch (error) {
          const issues =
            error instanceof InvalidEnvelopeError ? error.issues : [errorSummary(error).name];
          logger.warn("invalid relay message; leaving it for redrive to the DLQ", {
            messageId: record.messageId,
            receiveCount: record.attributes?.ApproximateReceiveCount,
            issues,
          });
          outcomes.set(
            record.messageId,
            new ForwardError(
              record.messageId,
              "InvalidMessage",
              `invalid relay message: ${issues.join("; ")}`,
            ),
          );
        }
      }

      const result = await sendMessageBatchWithRetry(
        client,
        aggregatorQueueUrl,
        valid.map(({ record, message }) => ({
          key: { record, message },
          // Forward the validated body verbatim: byte-identical on both queues.
          entry: relayEntry(message, { fifo, body: record.body }),
        })),
        deps.retry,
      );
      const sentAt = now();
      for (const { record, message } of result.sent) {
        outcomes.set(record.messageId, undefined);
        metrics.addMetric(
          METRIC.relayLag,
          MetricUnit.Milliseconds,
          Math.max(0, sentAt - Date.parse(message.occurredAt)),
        );
      }
      for (const { key, failure } of result.failed) {
        outcomes.set(
          key.record.messageId,
          new ForwardError(
            key.record.messageId,
            failure.code,
            `not forwarded: ${failure.code} after ${failure.attempts} attempt(s)`,
          ),
        );
      }

      const response = (await processPartialResponse(
        event,
        async (record: SqsRecord) => {
          const error = outcomes.get(record.messageId);
          if (error) throw error;
          if (!outcomes.has(record.messageId)) {
            throw new ForwardError(record.messageId, "NoOutcome", "message was not processed");
          }
        },
        processor,
        // An all-failed batch still returns its explicit list (and flushes metrics) instead of throwing.
        { throwOnFullBatchFailure: false },
      )) as SqsBatchResponse;

      const failedCount = response.batchItemFailures.length;
      metrics.addMetric(METRIC.forwarded, MetricUnit.Count, event.Records.length - failedCount);
      metrics.addMetric(METRIC.forwardFailed, MetricUnit.Count, failedCount);
      const logFields = {
        records: event.Records.length,
        forwarded: event.Records.length - failedCount,
        failed: failedCount,
        calls: result.calls,
        durationMs: now() - started,
      };
      if (failedCount > 0) {
        logger.warn("forwarded with failures", {
          ...logFields,
          failures: result.failed.map(({ key, failure }) => ({
            messageId: key.record.messageId,
            outboxId: key.message.outboxId,
            code: failure.code,
            senderFault: failure.senderFault,
          })),
        });
      } else {
        logger.info("forwarded", logFields);
      }
      return response;
    } catch (error) {
      logger.error("forwarder failed", {
        error: errorSummary(error),
        records: event.Records?.length,
      });
      throw error;
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };
}

let defaultHandler: ((event: SqsEvent) => Promise<SqsBatchResponse>) | undefined;

/** Lambda entry point; dependencies are built from the environment on first use. */
export async function handler(event: SqsEvent): Promise<SqsBatchResponse> {
  if (!defaultHandler) {
    defaultHandler = createForwarderHandler({
      client: createSqsClient(requireEnv(LAMBDA_ENV.aggregatorRegion)),
      aggregatorQueueUrl: requireEnv(LAMBDA_ENV.aggregatorQueueUrl),
      fifo: booleanEnv(LAMBDA_ENV.aggregatorFifo),
      logger: createLogger(FORWARDER_SERVICE),
      metrics: createMetrics(FORWARDER_SERVICE),
    });
  }
  return defaultHandler(event);
}
