/**
 * ack: the region's end of the acknowledgement path. The DC consumer, after committing a batch,
 * sends the `outboxId`s it holds back to their region's ack queue (contract/ack.ts); this handler
 * marks those outbox rows confirmed with `CALL relay_confirm(<ids JSON>)`, so the purge may
 * remove them (order-relay:purgeRequires = confirmed).
 *
 * In AWS it runs in the region's VPC and connects to Aurora with IAM database authentication as
 * a MySQL user that may only EXECUTE relay_confirm: no password exists anywhere; the token is
 * signed locally from the function's role (rds-db:connect on that user only). Locally (npm start,
 * tests) the same handler gets a password connection instead.
 *
 * Failure contract: an invalid message fails alone (redriven to the ack DLQ after
 * maxReceiveCount); a database error fails the whole batch (SQS retries it; confirming twice is
 * harmless).
 */
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { Logger } from "@aws-lambda-powertools/logger";
import { MetricUnit, type Metrics } from "@aws-lambda-powertools/metrics";
import { Signer } from "@aws-sdk/rds-signer";
import mysql from "mysql2/promise";
import { InvalidAckError, parseAckMessage, type AckMessage } from "../contract/ack";
import { LAMBDA_ENV } from "../contract/lambdaEnv";
import { METRIC, SERVICE } from "../contract/metrics";
import { requireEnv } from "./lib/env";
import { createLogger, createMetrics, errorSummary } from "./lib/observability";
import type { SqsBatchResponse, SqsEvent, SqsRecord } from "./lib/sqs-event";

export const ACK_SERVICE = SERVICE.ack;

/** What the handler needs of a database connection (mysql2's promise API has it). */
export interface ConfirmingConnection {
  query(sql: string, values?: unknown[]): Promise<unknown>;
}

export interface AckDeps {
  /** A connection to the region's storefront database (opened once, reused while it works). */
  readonly connect: () => Promise<ConfirmingConnection & { end(): Promise<void> }>;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly now?: () => number;
}

export function createAckHandler(
  deps: AckDeps,
): (event: SqsEvent, context?: unknown) => Promise<SqsBatchResponse> {
  const { logger, metrics } = deps;
  const now = deps.now ?? Date.now;
  const processor = new BatchProcessor(EventType.SQS, { logger });
  let connection: (ConfirmingConnection & { end(): Promise<void> }) | undefined;

  const confirm = async (ids: number[]): Promise<void> => {
    connection ??= await deps.connect();
    try {
      await connection.query("CALL relay_confirm(?)", [JSON.stringify(ids)]);
    } catch (error) {
      // A broken connection is reopened on the next batch.
      const dead = connection;
      connection = undefined;
      await dead.end().catch(() => {});
      throw error;
    }
  };

  return async (event: SqsEvent) => {
    const valid = new Map<string, AckMessage>();
    const invalid = new Map<string, Error>();
    for (const record of event.Records) {
      try {
        valid.set(record.messageId, parseAckMessage(record.body));
      } catch (error) {
        const issues = error instanceof InvalidAckError ? error.issues : [errorSummary(error).name];
        logger.warn("invalid ack message; leaving it for redrive to the DLQ", {
          messageId: record.messageId,
          issues,
        });
        invalid.set(record.messageId, error as Error);
      }
    }
    try {
      const ids = [...valid.values()].flatMap((message) => message.outboxIds);
      // One CALL for the whole batch; a failure fails every valid message (SQS retries them).
      let failure: Error | undefined;
      if (ids.length > 0) {
        try {
          await confirm(ids);
        } catch (error) {
          failure = error as Error;
          logger.error("relay_confirm failed; the batch is retried", {
            error: errorSummary(error),
            ids: ids.length,
          });
        }
      }
      const response = (await processPartialResponse(
        event,
        async (record: SqsRecord) => {
          const bad = invalid.get(record.messageId);
          if (bad) throw bad;
          if (failure) throw failure;
        },
        processor,
        { throwOnFullBatchFailure: false },
      )) as SqsBatchResponse;
      if (!failure && ids.length > 0) {
        metrics.addMetric(METRIC.confirmed, MetricUnit.Count, ids.length);
        const newest = Math.max(...[...valid.values()].map((m) => Date.parse(m.committedAt)));
        metrics.addMetric(METRIC.confirmationLag, MetricUnit.Milliseconds, now() - newest);
        logger.info("confirmed", { messages: valid.size, ids: ids.length });
      }
      return response;
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };
}

/** `host:port` → parts; the endpoint is the program's own output, so a bad one is a bug. */
function hostAndPort(endpoint: string): { host: string; port: number } {
  const match = /^(.+):(\d+)$/.exec(endpoint);
  if (!match) throw new Error(`${LAMBDA_ENV.ackDbEndpoint} must be host:port, got "${endpoint}"`);
  return { host: match[1], port: Number(match[2]) };
}

/**
 * A connection with IAM database authentication: a 15-minute token signed from the function's
 * own credentials, sent in clear text over TLS (the only way MySQL accepts it).
 */
export async function connectWithIamToken(env: NodeJS.ProcessEnv = process.env) {
  const { host, port } = hostAndPort(requireEnv(LAMBDA_ENV.ackDbEndpoint, env));
  const user = requireEnv(LAMBDA_ENV.ackDbUser, env);
  const region = requireEnv("AWS_REGION", env);
  const token = await new Signer({ hostname: host, port, username: user, region }).getAuthToken();
  return mysql.createConnection({
    host,
    port,
    user,
    password: token,
    database: requireEnv(LAMBDA_ENV.ackDbName, env),
    // mysql2 answers the server's mysql_clear_password request with the token; TLS is required.
    ssl: "Amazon RDS",
    connectTimeout: 5000,
  });
}

let defaultHandler: ((event: SqsEvent) => Promise<SqsBatchResponse>) | undefined;

/** Lambda entry point; dependencies are built from the environment on first use. */
export async function handler(event: SqsEvent): Promise<SqsBatchResponse> {
  defaultHandler ??= createAckHandler({
    connect: () => connectWithIamToken(),
    logger: createLogger(ACK_SERVICE),
    metrics: createMetrics(ACK_SERVICE),
  });
  return defaultHandler(event);
}
