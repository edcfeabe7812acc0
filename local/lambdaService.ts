/**
 * The local Lambda service: turns the calls the local `lambda_async` stand-in recorded in each
 * region's `lambda_invocations` table into asynchronous invocations of the real notify handler,
 * the way Lambda's async invocation queue does:
 *  - every recorded call is taken off the table (it holds personal data) and invoked once;
 *  - a failing invocation is retried twice (AWS waits ~1 min then ~2 min; locally `retryDelaysMs`);
 *  - after the last failure an invocation record shaped like AWS's on-failure destination record
 *    (`requestContext.condition = "RetriesExhausted"`, the original envelope as `requestPayload`)
 *    is sent to the regional DLQ — the program's on-failure destination;
 *  - with `dropAfterHandoff`, an accepted call may vanish instead (never invoked, no on-failure
 *    record): what an on-failure record that expired in its DLQ, or an aggregator message that
 *    expired unread, leaves behind. Only the database's resend (purgeRequires: confirmed) brings
 *    such a change to the DC.
 */
import { randomUUID } from "node:crypto";
import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type mysql from "mysql2/promise";

export interface LambdaServiceRegion {
  readonly region: string;
  readonly functionArn: string;
  readonly pool: mysql.Pool;
  /** The function: the real notify handler (possibly wrapped by fault injection). */
  readonly invoke: (payload: unknown) => Promise<unknown>;
  /** On-failure destination (the regional DLQ). */
  readonly onFailureQueueUrl: string;
  readonly client: SQSClient;
}

export interface LambdaServiceStats {
  /** Recorded lambda_async calls taken from the tables. */
  accepted: number;
  /** Handler invocations, retries included. */
  invocations: number;
  failures: number;
  succeeded: number;
  /** Events sent to the on-failure destination. */
  toOnFailure: number;
  /** Events waiting for a retry or running. */
  inFlight: number;
  /** Accepted calls that vanished (`dropAfterHandoff`), and the change records they carried. */
  dropped: number;
  droppedRecords: number;
  pollErrors: number;
}

export interface LambdaServiceOptions {
  readonly regions: readonly LambdaServiceRegion[];
  /** Delays before the 1st and 2nd retry. @default [1000, 2000] */
  readonly retryDelaysMs?: readonly number[];
  /** How often the tables are read. @default 100 */
  readonly pollIntervalMs?: number;
  /** Whether an accepted call vanishes (fault injection). @default - none does */
  readonly dropAfterHandoff?: () => boolean;
}

export interface LambdaService {
  readonly stats: Readonly<LambdaServiceStats>;
  readonly perRegion: Readonly<Record<string, LambdaServiceStats>>;
  stop(): Promise<void>;
}

/** AWS's asynchronous-invocation record for a destination (the fields Lambda sends). */
export interface InvocationRecord {
  readonly version: "1.0";
  readonly timestamp: string;
  readonly requestContext: {
    readonly requestId: string;
    readonly functionArn: string;
    readonly condition: "RetriesExhausted";
    readonly approximateInvokeCount: number;
  };
  readonly requestPayload: unknown;
  readonly responseContext: {
    readonly statusCode: number;
    readonly executedVersion: string;
    readonly functionError: "Unhandled";
  };
  readonly responsePayload: { readonly errorType: string; readonly errorMessage: string };
}

export function isInvocationRecord(value: unknown): value is InvocationRecord {
  const v = value as Partial<InvocationRecord> | null;
  return (
    typeof v === "object" &&
    v !== null &&
    v.version === "1.0" &&
    typeof v.requestContext === "object" &&
    v.requestContext?.condition === "RetriesExhausted" &&
    "requestPayload" in v
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function emptyStats(): LambdaServiceStats {
  return {
    accepted: 0,
    invocations: 0,
    failures: 0,
    succeeded: 0,
    toOnFailure: 0,
    inFlight: 0,
    dropped: 0,
    droppedRecords: 0,
    pollErrors: 0,
  };
}

export function startLambdaService(options: LambdaServiceOptions): LambdaService {
  const retryDelays = options.retryDelaysMs ?? [1000, 2000];
  const pollInterval = options.pollIntervalMs ?? 100;
  const total = emptyStats();
  const perRegion: Record<string, LambdaServiceStats> = {};
  let running = true;
  const pending = new Set<Promise<void>>();

  const bump = (s: LambdaServiceStats, key: keyof LambdaServiceStats, by = 1) => {
    s[key] += by;
    total[key] += by;
  };

  async function runEvent(r: LambdaServiceRegion, payload: unknown): Promise<void> {
    const stats = perRegion[r.region]!;
    const requestId = randomUUID();
    let lastError: unknown;
    for (let attempt = 0; attempt <= retryDelays.length; attempt++) {
      if (attempt > 0) await sleep(retryDelays[attempt - 1]!);
      bump(stats, "invocations");
      try {
        await r.invoke(payload);
        bump(stats, "succeeded");
        return;
      } catch (error) {
        bump(stats, "failures");
        lastError = error;
      }
    }
    const err = lastError instanceof Error ? lastError : new Error(String(lastError));
    const record: InvocationRecord = {
      version: "1.0",
      timestamp: new Date().toISOString(),
      requestContext: {
        requestId,
        functionArn: `${r.functionArn}:$LATEST`,
        condition: "RetriesExhausted",
        approximateInvokeCount: retryDelays.length + 1,
      },
      requestPayload: payload,
      responseContext: { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" },
      responsePayload: { errorType: err.name, errorMessage: err.message },
    };
    // The destination itself may be briefly unavailable: keep trying (AWS does too).
    for (;;) {
      try {
        await r.client.send(
          new SendMessageCommand({
            QueueUrl: r.onFailureQueueUrl,
            MessageBody: JSON.stringify(record),
          }),
        );
        bump(stats, "toOnFailure");
        return;
      } catch {
        if (!running) return;
        await sleep(500);
      }
    }
  }

  function dispatch(r: LambdaServiceRegion, payload: unknown) {
    const stats = perRegion[r.region]!;
    if (options.dropAfterHandoff?.()) {
      bump(stats, "dropped");
      const records = (payload as { records?: unknown } | null)?.records;
      bump(stats, "droppedRecords", Array.isArray(records) ? records.length : 0);
      return;
    }
    bump(stats, "inFlight");
    const p = runEvent(r, payload).finally(() => {
      bump(stats, "inFlight", -1);
      pending.delete(p);
    });
    pending.add(p);
  }

  async function pollRegion(r: LambdaServiceRegion): Promise<void> {
    const stats = perRegion[r.region]!;
    while (running) {
      try {
        const [rows] = await r.pool.query<mysql.RowDataPacket[]>(
          "SELECT id, payload FROM lambda_invocations ORDER BY id LIMIT 500",
        );
        if (rows.length > 0) {
          const lastId = rows[rows.length - 1]!.id as number;
          await r.pool.query("DELETE FROM lambda_invocations WHERE id <= ?", [lastId]);
          for (const row of rows) {
            bump(stats, "accepted");
            let payload: unknown;
            try {
              payload = JSON.parse(String(row.payload));
            } catch {
              payload = String(row.payload);
            }
            dispatch(r, payload);
          }
          continue;
        }
      } catch {
        bump(stats, "pollErrors");
        await sleep(500);
      }
      await sleep(pollInterval);
    }
  }

  for (const r of options.regions) perRegion[r.region] = emptyStats();
  const loops = options.regions.map((r) => pollRegion(r));

  return {
    stats: total,
    perRegion,
    async stop() {
      running = false;
      await Promise.all(loops);
      await Promise.allSettled([...pending]);
    },
  };
}
