/**
 * Stage: faults. The dice that make notify and the forwarder throw, the dice that make a
 * handed-off batch vanish, and the timeline of outages: every `lambda_async` failing
 * (`local_lambda_fail`), the aggregator queue rejecting sends, the ack queues rejecting the DC's
 * acknowledgements, the MariaDB server restarting. What happened is noted for the progress display.
 */
import type mysql from "mysql2/promise";
import type { PrivateMariaDb } from "../../emulators/mariadb";
import type { LocalSqs } from "../../emulators/sqs";
import type { Cleanup } from "./cleanup";

/** mulberry32: a small seeded PRNG so fault runs are reproducible. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class InjectedFault extends Error {
  constructor(where: string) {
    super(`injected fault (${where})`);
    this.name = "InjectedFault";
  }
}

/** Runs a handler call under the fault dice. */
export type Dice = <T>(where: string, work: () => Promise<T>) => Promise<T>;

/**
 * Dice that throw with probability `failRate`: half the failures before, half after the real
 * work (a timeout after sending) — the second kind produces duplicates the chain must absorb.
 * One seeded sequence for every handler, so a run is reproducible.
 */
export function faultDice(failRate: number, seed: number): Dice {
  const random = seededRandom(seed);
  return async (where, work) => {
    const roll = failRate > 0 ? random() : 1;
    if (roll < failRate / 2) throw new InjectedFault(`${where}, before sending`);
    const result = await work();
    if (roll < failRate) throw new InjectedFault(`${where}, after sending`);
    return result;
  };
}

/**
 * Whether a handed-off batch vanishes (`--drop-after-handoff-rate`): true with probability `rate`.
 * Its own seeded sequence (seed + 1), so adding it does not change which handler calls fail.
 */
export function dropDice(rate: number, seed: number): (() => boolean) | undefined {
  if (!(rate > 0)) return undefined;
  const random = seededRandom(seed + 1);
  return () => random() < rate;
}

export interface FaultTimelineOptions {
  readonly sqs: LocalSqs;
  readonly aggregatorQueueName: string;
  /** The regions' ack queues (the ack outage rejects the DC's sends to them). */
  readonly ackQueueNames?: readonly string[];
  readonly regionPools: Readonly<Record<string, mysql.Pool>>;
  /** The private server (restarts are only possible on it). */
  readonly server?: PrivateMariaDb;
  /** When the outages start, ms into the run. */
  readonly faultAtMs: number;
  readonly lambdaOutageSeconds?: number;
  readonly aggregatorOutageSeconds?: number;
  /** The ack queues reject sends for this long: the DC keeps its acknowledgements and retries. */
  readonly ackOutageSeconds?: number;
  readonly restartDbAtSeconds?: number;
}

export interface FaultTimeline {
  /** What happened so far, in order (outages, recoveries, redrives). */
  readonly notes: readonly string[];
  note(text: string): void;
  /** The aggregator queue is rejecting sends right now. */
  readonly aggregatorDown: boolean;
  readonly dbRestarted: boolean;
  /** No outage still running or still to come that the end of the run must wait for. */
  readonly over: boolean;
  /** Resolves once a restart that began has finished (or failed). */
  settled(): Promise<void>;
}

export function startFaultTimeline(o: FaultTimelineOptions, cleanup: Cleanup): FaultTimeline {
  const notes: string[] = [];
  let aggregatorDown = false;
  let acksDown = false;
  let ackOutageEnded = !o.ackOutageSeconds;
  const ackQueues = new Set(o.ackQueueNames ?? []);
  let dbRestarted = false;
  let restarting: Promise<void> | undefined;
  const restartScheduled = o.restartDbAtSeconds !== undefined && o.server !== undefined;

  o.sqs.setFault((request) => {
    if (!request.action.startsWith("SendMessage")) return undefined;
    if (aggregatorDown && request.queueName === o.aggregatorQueueName) {
      return {
        kind: "error",
        status: 500,
        code: "InternalError",
        message: "aggregator outage (injected)",
      };
    }
    if (acksDown && request.queueName !== undefined && ackQueues.has(request.queueName)) {
      return {
        kind: "error",
        status: 500,
        code: "InternalError",
        message: "ack outage (injected)",
      };
    }
    return undefined;
  });

  const timers: NodeJS.Timeout[] = [];
  cleanup.defer(async () => timers.forEach(clearTimeout));
  const setLambdaFail = (fail: boolean) =>
    Promise.all(
      Object.values(o.regionPools).map((pool) =>
        pool.query("CALL local_lambda_fail(?)", [fail]).catch(() => undefined),
      ),
    );
  /** From faultAtMs on, `seconds` long: begin(), a note, then end() and the "back" note. */
  const outage = (
    seconds: number | undefined,
    what: string,
    begin: () => void,
    end: () => Promise<unknown> | void,
  ) => {
    if (!seconds) return;
    timers.push(
      setTimeout(() => {
        notes.push(`${what} outage ${seconds}s`);
        begin();
        timers.push(
          setTimeout(
            () => void Promise.resolve(end()).then(() => notes.push(`${what} back`)),
            seconds * 1000,
          ),
        );
      }, o.faultAtMs),
    );
  };
  outage(
    o.lambdaOutageSeconds,
    "lambda",
    () => void setLambdaFail(true),
    () => setLambdaFail(false),
  );
  outage(
    o.aggregatorOutageSeconds,
    "aggregator",
    () => (aggregatorDown = true),
    () => {
      aggregatorDown = false;
    },
  );
  outage(
    o.ackOutageSeconds,
    "ack queue",
    () => (acksDown = true),
    () => {
      acksDown = false;
      ackOutageEnded = true;
    },
  );
  if (restartScheduled) {
    const server = o.server!;
    timers.push(
      setTimeout(() => {
        notes.push("MariaDB restarting");
        restarting = server.restart().then(() => {
          dbRestarted = true;
          notes.push("MariaDB back");
        });
      }, o.restartDbAtSeconds! * 1000),
    );
  }

  return {
    notes,
    note: (text) => notes.push(text),
    get aggregatorDown() {
      return aggregatorDown;
    },
    get dbRestarted() {
      return dbRestarted;
    },
    get over() {
      return !aggregatorDown && ackOutageEnded && (!restartScheduled || dbRestarted);
    },
    settled: async () => {
      await restarting?.catch(() => undefined);
    },
  };
}
