/**
 * The DC consumer: long-polls the aggregator queue with several receive loops and writes every
 * change into typed mirror tables (dc/mirror.ts), versioned by outboxId (dc/apply.ts).
 *
 * Per batch (one ReceiveMessage, up to 10 messages):
 *  1. SCHEMA records first: each creates or evolves its mirror table (DDL, outside any data
 *     transaction, serialised across processes).
 *  2. One transaction: per mirror table one multi-row versioned upsert (and one statement for
 *     DELETEs), plus the changes whose table or column the DC does not know yet, parked in
 *     `relay_pending` (they are applied when the SCHEMA arrives — see below).
 *  3. After COMMIT: one DeleteMessageBatch for everything committed.
 *
 * Delivery rules:
 *  - A message is deleted only after what it carries is committed (applied, found older than
 *    what the DC holds, or parked). While a batch is held its messages stay invisible
 *    (ChangeMessageVisibilityBatch heartbeat).
 *  - Only a message's own fault counts towards the DLQ (dc/errors.ts): an invalid body, a value
 *    its column rejects, a SCHEMA the DC cannot follow safely. Such a message is logged (ids,
 *    table and column names, error codes — never values) and left alone; SQS's redrive policy
 *    moves it to the DLQ after maxReceiveCount. The rest of its batch is committed without it.
 *  - A DC that cannot take writes (read-only, privileges, disk full, lock timeouts, connection
 *    lost…) is an outage: the loop keeps its batch (visibility extended, receive counts
 *    untouched) and retries it with backoff while every other loop stops receiving. The first
 *    error of each kind is logged once; while it lasts, one reminder a minute; then "recovered".
 *  - SQS failures are labelled as SQS and retried with backoff, logged the same way.
 *  - A change that arrives before its table's SCHEMA (SQS orders a row's group and the table's
 *    SCHEMA group independently) is parked at the DC, not bounced: bouncing would burn receive
 *    counts and could push good changes to the DLQ. Parking is safe because changes are applied
 *    by outboxId — a parked change applied later never overwrites a newer one.
 *  - stop(): stops receiving (an idle long poll is aborted at once), lets in-flight batches
 *    commit and delete, and abandons a batch that is waiting for the database (its messages are
 *    made visible again, nothing is lost), then resolves.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { Logger } from "@aws-lambda-powertools/logger";
import type { Pool, PoolConnection, RowDataPacket } from "mysql2/promise";
import {
  InvalidEnvelopeError,
  parseRelayMessage,
  type RelayMessage,
  type SchemaRecord,
} from "../contract/envelope";
import { SERVICE } from "../contract/metrics";
import { chunk, SQS_BATCH_LIMIT } from "../lambda/lib/sqs";
import {
  emptyCounts,
  parkChanges,
  prepareChange,
  statementCount,
  writeChanges,
  type ChangeMessage,
  type DeleteMode,
  type PreparedChange,
  type WriteCounts,
} from "./apply";
import {
  classifyDbError,
  dbErrorInfo,
  messageErrorText,
  sqsErrorInfo,
  type DbErrorKind,
} from "./errors";
import { ensureDcSchema, MirrorCatalog, type MirrorTable } from "./mirror";

export { ensureDcSchema } from "./mirror";
export type { DeleteMode } from "./apply";

export const DC_SERVICE = SERVICE.dcConsumer;

/**
 * Receive loops per process. Against a real SQS endpoint a loop mostly waits for the network
 * (tens of ms per call from a data centre), so one loop moves roughly 10 rows per round trip;
 * eight keep the database busy without holding many connections (one per loop while it
 * writes). Rough sizing: loops ≈ wanted rows/s × round-trip seconds / 10.
 */
export const DEFAULT_CONCURRENCY = 8;

/** The logger methods the consumer uses (a Powertools Logger, or a test double). */
export type DcLogger = Pick<Logger, "debug" | "info" | "warn" | "error">;

export interface DcConsumerOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
  /** The DC database; best from createDcPool (dc/connection.ts), which sets up each session. */
  readonly pool: Pool;
  /** Receive loops in this process (default DEFAULT_CONCURRENCY). */
  readonly concurrency?: number;
  /** Mirror table name = prefix + source table (default ""). */
  readonly tablePrefix?: string;
  /** DELETEs as tombstones (relay_deleted_at, default) or applied for real. */
  readonly deletes?: DeleteMode;
  /** Long-poll wait, 0..20 s (default 20). */
  readonly waitTimeSeconds?: number;
  /** Visibility per receive (default: the queue's VisibilityTimeout, else 60 s). */
  readonly visibilityTimeoutSeconds?: number;
  /** Visibility heartbeat period (default: a third of the visibility timeout). */
  readonly heartbeatMs?: number;
  /** Messages per receive, 1..10 (default 10). */
  readonly maxMessages?: number;
  /** Create the DC's bookkeeping tables if missing (default true). */
  readonly ensureSchema?: boolean;
  readonly logger?: DcLogger;
  /** One-line JSON status log every this many ms (default 60 000; 0 = off). */
  readonly statusIntervalMs?: number;
  /** Backoff while the database or SQS fails (default 500 ms doubling to 30 s). */
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number };
  /** How often parked changes are retried (default 10 000 ms). */
  readonly pendingSweepMs?: number;
  /** Test hook: runs inside the data transaction before COMMIT. */
  readonly beforeCommit?: (messages: RelayMessage[]) => Promise<void>;
  /** Runs after each commit with what was committed (e.g. acknowledgements to the regions). */
  readonly onCommitted?: (messages: readonly RelayMessage[]) => Promise<void>;
}

export interface DcConsumerStats {
  batches: number;
  received: number;
  /** Rows inserted or updated with a newer change. */
  applied: number;
  /** Changes older than or equal to what the DC holds (duplicates, late deliveries): no-ops. */
  stale: number;
  tombstones: number;
  /** Rows deleted for real (--deletes apply). */
  rowsDeleted: number;
  /** Changes kept in relay_pending until their schema arrives. */
  parked: number;
  /** Parked changes applied later. */
  replayed: number;
  schemasApplied: number;
  schemasStale: number;
  /** Messages whose own content the DC cannot apply (left for the DLQ). */
  rejected: number;
  /** Bodies that are not relay messages (left for the DLQ). */
  invalid: number;
  /** Messages deleted from SQS after commit. */
  sqsDeleted: number;
  /** Database errors that held a batch (outage, lock, deadlock). */
  dbErrors: number;
  sqsErrors: number;
}

export type DcState = "starting" | "running" | "paused" | "stopping" | "stopped";

export interface DcStatus {
  readonly state: DcState;
  /** Why receiving is paused (e.g. "mysql ER_OPTION_PREVENTS_STATEMENT"), with since when. */
  readonly pausedFor?: string;
  readonly pausedSinceMs?: number;
  readonly concurrency: number;
  readonly batchesInFlight: number;
  /** Changes waiting in relay_pending (as of the last sweep). */
  readonly pending: number;
  readonly lastCommitAgoMs?: number;
  readonly stats: Readonly<DcConsumerStats>;
}

export interface DcConsumer {
  readonly stats: Readonly<DcConsumerStats>;
  status(): DcStatus;
  /** Stops receiving, finishes or abandons in-flight batches, then resolves. */
  stop(): Promise<void>;
  /** Resolves when every loop has ended (after stop()); rejects with DcConfigError at start. */
  readonly done: Promise<void>;
}

/** A configuration mistake found at start (wrong password, unknown database or queue). */
export class DcConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DcConfigError";
  }
}

export function createDcLogger(): Logger {
  return new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? DC_SERVICE });
}

/** Marks pools that set up their sessions themselves (createDcPool). */
export const DC_POOL = Symbol.for("order-relay.dc-pool");

const SESSION_SQL =
  "SET SESSION time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'";

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done);
  });

/**
 * One failure episode of a dependency (the database, SQS): the first error of each code is
 * logged, then one reminder a minute while it lasts, then one "recovered" line.
 */
class Incident {
  private failures = 0;
  private since = 0;
  private lastLog = 0;
  private readonly codes = new Set<string>();

  constructor(
    private readonly logger: DcLogger,
    private readonly what: string,
    private readonly backoff: { initialMs: number; maxMs: number },
    private readonly remindEveryMs = 60_000,
  ) {}

  get failing(): boolean {
    return this.failures > 0;
  }

  /** The code of the last failure and since when the episode lasts (when failing). */
  get current(): { code: string; since: number } | undefined {
    return this.failures > 0 ? { code: this.lastCode, since: this.since } : undefined;
  }

  private lastCode = "";

  fail(code: string, message: string, fields: Record<string, unknown>): number {
    const now = Date.now();
    this.failures++;
    this.lastCode = code;
    if (this.failures === 1) this.since = now;
    const delay = this.delayMs();
    if (!this.codes.has(code)) {
      this.codes.add(code);
      this.lastLog = now;
      this.logger.error(message, { ...fields, retryInMs: delay });
    } else if (now - this.lastLog >= this.remindEveryMs) {
      this.lastLog = now;
      this.logger.error(`${message} (still failing)`, {
        ...fields,
        failures: this.failures,
        failingForMs: now - this.since,
        retryInMs: delay,
      });
    }
    return delay;
  }

  recover(): void {
    if (this.failures === 0) return;
    this.logger.info(`${this.what} recovered`, {
      failures: this.failures,
      outageMs: Date.now() - this.since,
    });
    this.failures = 0;
    this.codes.clear();
  }

  private delayMs(): number {
    const { initialMs, maxMs } = this.backoff;
    const base = Math.min(maxMs, initialMs * 2 ** Math.min(this.failures - 1, 20));
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }
}

interface Parsed {
  readonly sqs: Message;
  readonly message: RelayMessage;
  readonly body: string;
}

interface BatchOutcome {
  /** Messages whose content is committed (delete them). */
  readonly done: Parsed[];
  /** SCHEMA records applied (not stale): their tables' parked changes can be replayed now. */
  readonly schemaTables: { region: string; table: string }[];
}

/** Starts the consume loops; returns at once. */
export function startDcConsumer(options: DcConsumerOptions): DcConsumer {
  const { client, queueUrl, pool } = options;
  const logger: DcLogger = options.logger ?? createDcLogger();
  const waitTimeSeconds = options.waitTimeSeconds ?? 20;
  const maxMessages = options.maxMessages ?? SQS_BATCH_LIMIT;
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  const deletes: DeleteMode = options.deletes ?? "tombstone";
  const backoff = {
    initialMs: options.backoff?.initialMs ?? 500,
    maxMs: options.backoff?.maxMs ?? 30_000,
  };
  if (!Number.isInteger(waitTimeSeconds) || waitTimeSeconds < 0 || waitTimeSeconds > 20) {
    throw new Error(`waitTimeSeconds must be an integer 0..20, got ${waitTimeSeconds}`);
  }
  if (!Number.isInteger(maxMessages) || maxMessages < 1 || maxMessages > 10) {
    throw new Error(`maxMessages must be an integer 1..10, got ${maxMessages}`);
  }
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new Error(`concurrency must be a positive integer, got ${concurrency}`);
  }
  const ownSessions = (pool as unknown as Record<symbol, unknown>)[DC_POOL] === true;
  const catalog = new MirrorCatalog(pool, { tablePrefix: options.tablePrefix ?? "" });
  const stats: DcConsumerStats = {
    batches: 0,
    received: 0,
    applied: 0,
    stale: 0,
    tombstones: 0,
    rowsDeleted: 0,
    parked: 0,
    replayed: 0,
    schemasApplied: 0,
    schemasStale: 0,
    rejected: 0,
    invalid: 0,
    sqsDeleted: 0,
    dbErrors: 0,
    sqsErrors: 0,
  };
  let state: DcState = "starting";
  let running = true;
  let batchesInFlight = 0;
  let pending = 0;
  let lastCommitAt: number | undefined;
  let visibility = 60;
  const idle = new AbortController(); // aborts long polls and backoff sleeps on stop()
  const dbIncident = new Incident(logger, "DC database", backoff);
  const sqsIncident = new Incident(logger, "SQS", backoff);

  // While the database cannot take writes, no loop receives (the loops holding a batch retry
  // it; their success resumes everyone).
  let paused: { reason: string; since: number } | undefined;
  let resumeWaiters: (() => void)[] = [];
  const pause = (reason: string) => {
    if (!paused) paused = { reason, since: Date.now() };
    if (state === "running") state = "paused";
  };
  const resume = () => {
    if (!paused) return;
    paused = undefined;
    if (state === "paused") state = "running";
    for (const wake of resumeWaiters.splice(0)) wake();
  };
  const whilePaused = () =>
    new Promise<void>((resolve) => {
      resumeWaiters.push(resolve);
      idle.signal.addEventListener("abort", () => resolve(), { once: true });
    });

  function status(): DcStatus {
    // Receiving failing against SQS counts as paused too (for /healthz), the database first.
    const sqsDown = sqsIncident.current;
    const why =
      paused ?? (sqsDown ? { reason: `sqs ${sqsDown.code}`, since: sqsDown.since } : undefined);
    return {
      state: state === "running" && why ? "paused" : state,
      ...(why ? { pausedFor: why.reason, pausedSinceMs: Date.now() - why.since } : {}),
      concurrency,
      batchesInFlight,
      pending,
      ...(lastCommitAt !== undefined ? { lastCommitAgoMs: Date.now() - lastCommitAt } : {}),
      stats: { ...stats },
    };
  }

  /**
   * Runs `work` in one transaction. `singleStatement`: the work is one statement, which
   * InnoDB runs as a transaction of its own in autocommit mode — the same atomicity without
   * the BEGIN and COMMIT round trips (two of three per batch).
   */
  async function transaction<T>(
    work: (conn: PoolConnection) => Promise<T>,
    singleStatement = false,
  ): Promise<T> {
    const conn = await pool.getConnection();
    try {
      if (!ownSessions) await conn.query(SESSION_SQL);
      if (singleStatement) return await work(conn);
      await conn.beginTransaction();
      const result = await work(conn);
      await conn.commit();
      return result;
    } catch (error) {
      await conn.rollback().catch(() => undefined);
      // A connection that failed mid-transaction may be broken: do not return it to the pool.
      if ((error as { fatal?: boolean }).fatal) conn.destroy();
      throw error;
    } finally {
      conn.release();
    }
  }

  function addCounts(counts: WriteCounts): void {
    stats.applied += counts.applied;
    stats.stale += counts.stale;
    stats.tombstones += counts.tombstones;
    stats.rowsDeleted += counts.deleted;
  }

  function reject(item: Parsed, error: unknown): void {
    stats.rejected++;
    logger.error(
      "the DC cannot apply this message; leaving it for redrive to the DLQ after maxReceiveCount",
      {
        messageId: item.sqs.MessageId,
        receiveCount: item.sqs.Attributes?.ApproximateReceiveCount,
        region: item.message.region,
        table: item.message.table,
        op: item.message.op,
        outboxId: item.message.outboxId,
        reason: messageErrorText(error),
        error: dbErrorInfo(error),
      },
    );
  }

  /** Tables read from the DC at most once per batch (refreshed when something is missing). */
  async function tablesFor(
    changes: readonly Parsed[],
  ): Promise<Map<string, { dcTable: string; table?: MirrorTable; refreshed: boolean }>> {
    const out = new Map<string, { dcTable: string; table?: MirrorTable; refreshed: boolean }>();
    for (const { message } of changes) {
      if (out.has(message.table)) continue;
      const dcTable = catalog.dcTableName(message.table);
      out.set(message.table, { dcTable, table: await catalog.get(dcTable), refreshed: false });
    }
    return out;
  }

  /** Applies a batch; throws on anything that is not the fault of one message. */
  async function applyBatch(schemas: Parsed[], changes: Parsed[]): Promise<BatchOutcome> {
    const done: Parsed[] = [];
    const schemaTables: { region: string; table: string }[] = [];
    for (const item of schemas) {
      try {
        const result = await catalog.applySchema(item.message.region, item.message as SchemaRecord);
        done.push(item);
        if (result.stale) {
          stats.schemasStale++;
          continue;
        }
        stats.schemasApplied++;
        schemaTables.push({ region: item.message.region, table: item.message.table });
        logger.info("schema applied", {
          region: item.message.region,
          table: item.message.table,
          dcTable: result.dcTable,
          outboxId: item.message.outboxId,
          created: result.created,
          added: result.added,
          widened: result.widened,
        });
      } catch (error) {
        if (classifyDbError(error) !== "message") throw error;
        reject(item, error);
      }
    }

    const ready: { item: Parsed; change: PreparedChange }[] = [];
    const parked: { item: Parsed; reason: string }[] = [];
    const tables = await tablesFor(
      changes.filter(({ message }) => {
        try {
          catalog.dcTableName(message.table);
          return true;
        } catch {
          return false;
        }
      }),
    );
    for (const item of changes) {
      const entry = tables.get(item.message.table);
      if (!entry) {
        try {
          catalog.dcTableName(item.message.table);
        } catch (error) {
          reject(item, error);
        }
        continue;
      }
      let prepared = prepareChange(
        item.message as ChangeMessage,
        entry.table,
        item.body.length + 64,
      );
      if (prepared.kind === "park" && !entry.refreshed) {
        // Another loop or process may have evolved the table meanwhile.
        entry.table = await catalog.get(entry.dcTable, true);
        entry.refreshed = true;
        prepared = prepareChange(item.message as ChangeMessage, entry.table, item.body.length + 64);
      }
      if (prepared.kind === "ready") ready.push({ item, change: prepared.change });
      else if (prepared.kind === "park") parked.push({ item, reason: prepared.reason });
      else reject(item, prepared.error);
    }
    if (ready.length === 0 && parked.length === 0) return { done, schemaTables };

    const write = async (
      subset: readonly { item: Parsed; change: PreparedChange }[],
      park: readonly { item: Parsed; reason: string }[],
    ) => {
      const changes = subset.map((r) => r.change);
      const single =
        park.length === 0 && !options.beforeCommit && statementCount(changes, deletes) === 1;
      const counts = await transaction(async (conn) => {
        const c =
          subset.length > 0
            ? await writeChanges(
                conn,
                subset.map((r) => r.change),
                deletes,
              )
            : emptyCounts();
        await parkChanges(
          conn,
          park.map((p) => ({
            message: p.item.message as ChangeMessage,
            body: p.item.body,
            reason: p.reason,
          })),
        );
        await options.beforeCommit?.([...subset, ...park].map((r) => r.item.message));
        return c;
      }, single);
      addCounts(counts);
      stats.parked += park.length;
      lastCommitAt = Date.now();
    };

    try {
      await write(ready, parked);
      done.push(...ready.map((r) => r.item), ...parked.map((p) => p.item));
    } catch (error) {
      if (classifyDbError(error) !== "message") throw error;
      // One message's value broke the statement: isolate it, commit the others one by one.
      for (const r of ready) {
        try {
          await write([r], []);
          done.push(r.item);
        } catch (single) {
          if (classifyDbError(single) !== "message") throw single;
          reject(r.item, single);
        }
      }
      if (parked.length > 0) {
        await write([], parked);
        done.push(...parked.map((p) => p.item));
      }
    }
    if (parked.length > 0) {
      logger.info("parked changes until their schema arrives", {
        changes: parked.length,
        reasons: [...new Set(parked.map((p) => p.reason))],
      });
    }
    return { done, schemaTables };
  }

  /** Applies parked changes of one region's table that the DC can now write. */
  async function replayPending(region: string, table: string): Promise<void> {
    let dcTable: string;
    try {
      dcTable = catalog.dcTableName(table);
    } catch {
      return;
    }
    for (;;) {
      const mirror = await catalog.get(dcTable, true);
      if (!mirror) return;
      const result = await transaction(async (conn) => {
        const [rows] = await conn.query<RowDataPacket[]>(
          `SELECT id, body FROM relay_pending WHERE relay_region = ? AND source_table = ?
            ORDER BY id LIMIT 500 FOR UPDATE`,
          [region, table],
        );
        const readyIds: number[] = [];
        const changes: PreparedChange[] = [];
        for (const row of rows) {
          let message: RelayMessage;
          try {
            message = parseRelayMessage(String(row.body));
          } catch {
            continue; // cannot happen (it was parsed before parking); left for an operator
          }
          const prepared = prepareChange(message as ChangeMessage, mirror, String(row.body).length);
          if (prepared.kind === "ready") {
            changes.push(prepared.change);
            readyIds.push(Number(row.id));
          } else if (prepared.kind === "reject") {
            await conn.query("UPDATE relay_pending SET reason = ? WHERE id = ?", [
              `cannot apply: ${messageErrorText(prepared.error)}`.slice(0, 255),
              row.id,
            ]);
          }
        }
        const counts =
          changes.length > 0 ? await writeChanges(conn, changes, deletes) : emptyCounts();
        if (readyIds.length > 0) {
          await conn.query(
            `DELETE FROM relay_pending WHERE id IN (${readyIds.map(() => "?").join(", ")})`,
            readyIds,
          );
        }
        return { counts, rows: rows.length, replayed: readyIds.length };
      });
      addCounts(result.counts);
      stats.replayed += result.replayed;
      if (result.replayed > 0) {
        logger.info("applied parked changes", { region, table, changes: result.replayed });
      }
      if (result.rows < 500 || result.replayed < result.rows) return;
    }
  }

  let sweeping = false;
  async function sweepPending(): Promise<void> {
    if (sweeping || paused || !running) return;
    sweeping = true;
    try {
      const [groups] = await pool.query<RowDataPacket[]>(
        "SELECT relay_region, source_table, COUNT(*) AS n FROM relay_pending GROUP BY relay_region, source_table",
      );
      pending = groups.reduce((n, g) => n + Number(g.n), 0);
      for (const g of groups) {
        if (!running || paused) break;
        await replayPending(String(g.relay_region), String(g.source_table));
      }
      if (groups.length > 0) {
        const [[left]] = await pool.query<RowDataPacket[]>(
          "SELECT COUNT(*) AS n FROM relay_pending",
        );
        pending = Number(left?.n ?? 0);
      }
    } catch (error) {
      logger.warn("could not retry parked changes; trying again later", {
        error: dbErrorInfo(error),
      });
    } finally {
      sweeping = false;
    }
  }

  async function changeVisibility(messages: readonly Message[], seconds: number): Promise<void> {
    for (const group of chunk(messages, SQS_BATCH_LIMIT)) {
      await client.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: group.map((m, i) => ({
            Id: String(i),
            ReceiptHandle: m.ReceiptHandle,
            VisibilityTimeout: seconds,
          })),
        }),
      );
    }
  }

  async function deleteMessages(items: readonly Message[]): Promise<void> {
    for (const group of chunk(items, SQS_BATCH_LIMIT)) {
      for (let attempt = 1; ; attempt++) {
        try {
          const result = await client.send(
            new DeleteMessageBatchCommand({
              QueueUrl: queueUrl,
              Entries: group.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
            }),
          );
          stats.sqsDeleted += result.Successful?.length ?? 0;
          if (result.Failed?.length) {
            // Committed but not deleted: it comes back and the versioned upsert absorbs it.
            logger.warn(
              "some deletes failed; the changes are committed and redelivery is harmless",
              {
                failed: result.Failed.map((f) => ({
                  messageId: group[Number(f.Id)]?.MessageId,
                  code: f.Code,
                })),
              },
            );
          }
          break;
        } catch (error) {
          stats.sqsErrors++;
          if (attempt >= 3) {
            logger.warn(
              "DeleteMessageBatch failed; the changes are committed and redelivery is harmless",
              {
                error: sqsErrorInfo("DeleteMessageBatch", error),
                messages: group.length,
              },
            );
            break;
          }
          await sleep(200 * attempt);
        }
      }
    }
  }

  function parseAll(messages: readonly Message[]): Parsed[] {
    const valid: Parsed[] = [];
    for (const sqs of messages) {
      const body = sqs.Body ?? "";
      try {
        valid.push({ sqs, message: parseRelayMessage(body), body });
      } catch (error) {
        stats.invalid++;
        logger.warn(
          "invalid relay message; not deleting it, redrive moves it to the DLQ after maxReceiveCount",
          {
            messageId: sqs.MessageId,
            receiveCount: sqs.Attributes?.ApproximateReceiveCount,
            issues: error instanceof InvalidEnvelopeError ? error.issues : ["(unreadable)"],
          },
        );
      }
    }
    return valid;
  }

  /**
   * Handles one received batch. Returns the DeleteMessageBatch of what was committed, still in
   * flight: the loop receives its next batch meanwhile (the delete is off the critical path, as
   * it must be against a real SQS endpoint tens of milliseconds away) and waits for it before
   * the next one.
   */
  async function handleBatch(messages: Message[]): Promise<{ deletion?: Promise<void> }> {
    let deletion: Promise<void> | undefined;
    stats.batches++;
    stats.received += messages.length;
    batchesInFlight++;
    const started = Date.now();
    const parsed = parseAll(messages);
    // Held = still ours: the heartbeat keeps exactly these invisible. Invalid and rejected
    // messages are let go at once so they return after the visibility timeout (→ DLQ).
    let held: Message[] = parsed.map((p) => p.sqs);
    const heartbeatMs = options.heartbeatMs ?? Math.max(200, (visibility * 1000) / 3);
    const heartbeat = setInterval(() => {
      if (held.length === 0) return;
      changeVisibility(held, visibility).catch((error) =>
        logger.warn("visibility heartbeat failed", {
          error: sqsErrorInfo("ChangeMessageVisibilityBatch", error),
        }),
      );
    }, heartbeatMs);
    try {
      if (parsed.length === 0) return {};
      const schemas = parsed
        .filter((p) => p.message.op === "SCHEMA")
        .sort((a, b) => a.message.outboxId - b.message.outboxId);
      const changes = parsed.filter((p) => p.message.op !== "SCHEMA");
      let staleRetries = 0;
      let lockRetries = 0;
      for (;;) {
        let outcome: BatchOutcome;
        try {
          outcome = await applyBatch(schemas, changes);
        } catch (error) {
          let kind: DbErrorKind = classifyDbError(error);
          if (kind === "message") kind = "unavailable"; // escaped isolation: not provably the message's
          if (kind === "stale-schema" && staleRetries++ < 3) {
            catalog.invalidate();
            continue;
          }
          stats.dbErrors++;
          if (!running) {
            // Stopping while the database is down: give the batch back, nothing is lost.
            await changeVisibility(held, 0).catch(() => undefined);
            held = [];
            logger.warn("stopping: batch abandoned, its messages return to the queue", {
              messages: messages.length,
              error: dbErrorInfo(error),
            });
            return {};
          }
          let delay: number;
          if (kind === "retry" && lockRetries < 10) {
            delay = Math.min(1000, 20 * 2 ** lockRetries++) * (0.5 + Math.random());
            logger.warn("lock wait timeout or deadlock; retrying the batch", {
              error: dbErrorInfo(error),
              retryInMs: Math.round(delay),
            });
          } else {
            const info = dbErrorInfo(error);
            pause(`mysql ${info.code}`);
            delay = dbIncident.fail(
              info.code,
              kind === "credentials"
                ? "DC database refused the consumer's credentials or database; holding the batch and not receiving"
                : "DC database cannot take writes; holding the batch (messages stay invisible, receive counts untouched) and not receiving",
              { error: info, kind, messages: held.length },
            );
          }
          await sleep(delay, idle.signal);
          continue;
        }
        dbIncident.recover();
        resume();
        const doneMessages = outcome.done.map((d) => d.sqs);
        held = []; // committed: redelivery would be a no-op; rejected ones go back to the queue
        deletion = deleteMessages(doneMessages);
        if (outcome.done.length > 0 && options.onCommitted) {
          await options
            .onCommitted(outcome.done.map((d) => d.message))
            .catch((error) =>
              logger.warn("onCommitted hook failed", { error: (error as Error).message }),
            );
        }
        for (const t of outcome.schemaTables) {
          await replayPending(t.region, t.table).catch((error) =>
            logger.warn("could not apply parked changes yet; the sweep retries", {
              region: t.region,
              table: t.table,
              error: dbErrorInfo(error),
            }),
          );
        }
        // Per batch (hundreds a second at full speed): DEBUG; the status line has the counters.
        logger.debug("batch committed", {
          received: messages.length,
          committed: outcome.done.length,
          durationMs: Date.now() - started,
        });
        return { deletion };
      }
    } finally {
      clearInterval(heartbeat);
      // In flight until its messages are deleted from SQS.
      if (deletion) void deletion.finally(() => batchesInFlight--);
      else batchesInFlight--;
    }
  }

  async function receive(): Promise<Message[]> {
    const received = await client.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: maxMessages,
        WaitTimeSeconds: waitTimeSeconds,
        VisibilityTimeout: visibility,
        // Both spellings: local-aws-sqs reads the legacy one, AWS prefers the new one.
        AttributeNames: ["All"],
        MessageSystemAttributeNames: ["ApproximateReceiveCount"],
      }),
      { abortSignal: idle.signal },
    );
    return received.Messages ?? [];
  }

  async function runLoop(): Promise<void> {
    let previousDelete: Promise<void> | undefined;
    try {
      await loop();
    } finally {
      await previousDelete;
    }
    async function loop(): Promise<void> {
      while (running) {
        if (paused) {
          await whilePaused();
          continue;
        }
        let messages: Message[];
        try {
          messages = await receive();
          sqsIncident.recover();
        } catch (error) {
          if (!running) break;
          stats.sqsErrors++;
          const info = sqsErrorInfo("ReceiveMessage", error);
          const delay = sqsIncident.fail(info.code, `${info.message}; not receiving, retrying`, {
            error: info,
          });
          await sleep(delay, idle.signal);
          continue;
        }
        if (messages.length === 0) continue;
        const { deletion } = await handleBatch(messages);
        await previousDelete;
        previousDelete = deletion;
      }
    }
  }

  /** Start-up: the database answers with our credentials, the queue exists. */
  async function startUp(): Promise<void> {
    for (;;) {
      try {
        if (options.ensureSchema ?? true) await ensureDcSchema(pool);
        else await pool.query("SELECT 1");
        dbIncident.recover();
        break;
      } catch (error) {
        const kind = classifyDbError(error);
        const info = dbErrorInfo(error);
        if (kind === "credentials") {
          throw new DcConfigError(
            info.errno === 1049
              ? "the DC database named in --mysql-url does not exist (ER_BAD_DB_ERROR); create it (CREATE DATABASE … CHARACTER SET utf8mb4) or fix the URL"
              : `MySQL refused the consumer's login (${info.code}); check the user in --mysql-url and the password (MYSQL_PASSWORD, --mysql-password-file or the option file)`,
          );
        }
        if (!running) return;
        const delay = dbIncident.fail(info.code, "DC database unavailable at start; waiting", {
          error: info,
        });
        await sleep(delay, idle.signal);
        if (!running) return;
      }
    }
    for (;;) {
      try {
        const attrs = await client.send(
          new GetQueueAttributesCommand({
            QueueUrl: queueUrl,
            AttributeNames: ["VisibilityTimeout", "RedrivePolicy"],
          }),
          { abortSignal: idle.signal },
        );
        sqsIncident.recover();
        const queueVisibility = Number(attrs.Attributes?.VisibilityTimeout);
        visibility =
          options.visibilityTimeoutSeconds ??
          (Number.isInteger(queueVisibility) && queueVisibility > 0 ? queueVisibility : 60);
        let maxReceiveCount: number | undefined;
        try {
          maxReceiveCount = JSON.parse(attrs.Attributes?.RedrivePolicy ?? "{}").maxReceiveCount;
        } catch {
          maxReceiveCount = undefined;
        }
        if (maxReceiveCount === undefined) {
          logger.warn(
            "the queue has no redrive policy: a message the DC cannot apply is retried forever instead of moving to a DLQ",
          );
        }
        return;
      } catch (error) {
        if (!running) return;
        const info = sqsErrorInfo("GetQueueAttributes", error);
        if (/NonExistentQueue|QueueDoesNotExist/.test(info.code)) {
          throw new DcConfigError(`${info.message}: check --queue-url and --region`);
        }
        stats.sqsErrors++;
        const delay = sqsIncident.fail(info.code, `${info.message} at start; retrying`, {
          error: info,
        });
        await sleep(delay, idle.signal);
      }
    }
  }

  const timers: NodeJS.Timeout[] = [];
  const done = (async () => {
    await startUp();
    if (!running) {
      state = "stopped";
      return;
    }
    state = "running";
    logger.info("DC consumer started", {
      concurrency,
      waitTimeSeconds,
      visibilityTimeoutSeconds: visibility,
      maxMessages,
      deletes,
      tablePrefix: catalog.tablePrefix,
    });
    const statusMs = options.statusIntervalMs ?? 60_000;
    if (statusMs > 0) {
      timers.push(setInterval(() => logger.info("status", { ...status() }), statusMs));
    }
    const sweepMs = options.pendingSweepMs ?? 10_000;
    timers.push(setInterval(() => void sweepPending(), sweepMs));
    void sweepPending();
    try {
      await Promise.all(Array.from({ length: concurrency }, () => runLoop()));
    } finally {
      for (const timer of timers) clearInterval(timer);
      while (sweeping) await sleep(20);
      state = "stopped";
      logger.info("DC consumer stopped", { ...stats });
    }
  })();

  return {
    stats,
    status,
    done,
    stop: async () => {
      if (running) {
        running = false;
        if (state !== "stopped") state = "stopping";
        idle.abort();
        resumeWaiters = [];
      }
      await done.catch(() => undefined);
    },
  };
}
