/**
 * Capacity piece 2: how many outbox rows one region's `relay_dispatch()` hands off per second.
 *
 * One private MariaDB (or MYSQL_URL), one database per schema migrated exactly like a region by
 * `migrate()` (sql/migrate.ts) with the local `lambda_async` stand-in (sql/local/), settings from
 * the prod stack (`databaseSettingsFor`). The outbox is filled by real INSERTs into `order_data`
 * (the capture trigger writes it), then `CALL relay_dispatch()` runs back to back, each call being
 * one run of the dispatch event (bounded by relay_settings.dispatch_max_batches / dispatch_max_ms).
 *
 * Call latency: Aurora's `lambda_async` is a synchronous call of Lambda's Invoke API with
 * InvocationType=Event, which answers 202 once the event is queued. The stand-in answers at once,
 * so the harness adds a latency to every call. The figure that stands for AWS is 25 ms — an
 * in-region Invoke (Event) round trip through the Lambda interface endpoint with the connection
 * reused is typically 10–30 ms (not measured here: no AWS access); the sweep (0, 10, 25, 50 ms)
 * shows how the rate depends on it. Two variants of the call:
 * - `stand-in`: sql/local/'s stand-in as shipped (it records every payload in
 *   `lambda_invocations`: one more INSERT and commit per call than Aurora makes), with a trigger
 *   on that table adding SLEEP(latency) per call;
 * - `call-only`: the stand-in replaced, in the bench database only, by a function that only waits
 *   SLEEP(latency) and counts the call and its bytes — what Aurora's call costs the database.
 *   This is the figure that stands for AWS.
 *
 * Rows: the prod-like schema has a ~500-byte row (13 typical storefront columns); the seed
 * schema (`id`, `item`) is measured too, as the lightest case.
 *
 * Dispatchers: 1 = `relay_dispatch()` alone (one session, every partition); 2 = it and
 * `relay_dispatch_helper()` started together on two connections, as their two events start
 * every second in a region with a backlog (the helper takes partition 1, relay_dispatch.sql).
 * A run's time is then the wall time until both calls returned.
 */
import mysql from "mysql2/promise";
import { readStackFile, stackFilePath } from "../config/load";
import { databaseSettingsFor, parseConfig } from "../config/schema";
import { parseEnvelope } from "../contract/envelope";
import { startPrivateMariaDb, type PrivateMariaDb } from "../emulators/mariadb";
import { migrate } from "../sql/migrate";
import { orderRow } from "./capacity-rows";
import { median, round } from "./util";

export const DISPATCH_COMMAND = "npx tsx bench/capacity.ts --only dispatch";
/** The latency that stands for an in-region Invoke (Event) call (see the header). */
export const AWS_INVOKE_LATENCY_MS = 25;

export type CallVariant = "stand-in" | "call-only";

export interface DispatchPoint {
  readonly schema: "prod-like" | "seed";
  readonly variant: CallVariant;
  /** Sessions dispatching at once (absent in results written before the helper: 1). */
  readonly dispatchers?: 1 | 2;
  readonly rowJsonBytes: number;
  readonly batchSize: number;
  readonly latencyMs: number;
  readonly runs: number;
  /** Median rows one relay_dispatch() run handed off. */
  readonly rowsPerRun: number;
  /** Median wall time of one run (ms). */
  readonly runMs: number;
  /** rowsPerRun / runMs: the rate inside a run. */
  readonly rowsPerSecondInRun: number;
  /**
   * What the event (every 1 s) sustains: each second starts one run, a run that is still going
   * makes the next one return at once (GET_LOCK): rowsPerRun / max(1 s, run time rounded up to
   * the next whole second).
   */
  readonly rowsPerSecondSustained: number;
  /** Every run: rows handed off and its wall time (ms). */
  readonly samples: readonly { readonly rows: number; readonly ms: number }[];
  /**
   * The least disturbed run (highest sustained rate, then the fastest): this machine is shared, so
   * the best of several runs is the closer estimate of what one region's database can do. The
   * capacity model uses it; the medians above show the spread.
   */
  readonly best: {
    readonly rowsPerRun: number;
    readonly runMs: number;
    readonly rowsPerSecondInRun: number;
    readonly rowsPerSecondSustained: number;
  };
  /** lambda_async calls per run (= notify invocations). */
  readonly callsPerRun: number;
  /** Median payload bytes per call. */
  readonly payloadBytes: number;
}

export interface DispatchFigures {
  readonly command: string;
  readonly awsLatencyMs: number;
  readonly points: readonly DispatchPoint[];
  /** The payload the run produced, checked against contract/envelope.ts (v2). */
  readonly envelopeCheck: string;
  /** Set when the SQL side could not be measured (e.g. mid-change): the error, verbatim. */
  readonly blocker?: string;
}

const REGION = "ap-northeast-1";

const PROD_LIKE_TABLE = `CREATE TABLE IF NOT EXISTS order_data (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  customer_name VARCHAR(100) NOT NULL,
  email VARCHAR(200) NOT NULL,
  phone VARCHAR(40) NOT NULL,
  address VARCHAR(300) NOT NULL,
  item VARCHAR(100) NOT NULL,
  quantity INT NOT NULL,
  unit_price DECIMAL(12, 2) NOT NULL,
  total DECIMAL(12, 2) NOT NULL,
  currency CHAR(3) NOT NULL,
  status VARCHAR(20) NOT NULL,
  created_at DATETIME NOT NULL,
  note VARCHAR(400) NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4`;

function dbUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

export async function prepare(
  serverUrl: string,
  schema: DispatchPoint["schema"],
  rows: number,
  sqlDir: string | undefined,
  log: (line: string) => void,
): Promise<mysql.Connection & { url?: string }> {
  const database = `cap_dispatch_${schema.replace(/-/g, "_")}_${process.pid}`;
  const admin = await mysql.createConnection({ uri: serverUrl, multipleStatements: true });
  await admin.query(`DROP DATABASE IF EXISTS \`${database}\`; CREATE DATABASE \`${database}\``);
  await admin.end();
  const url = dbUrl(serverUrl, database);
  const conn = await mysql.createConnection({ uri: url, multipleStatements: true });
  if (schema === "prod-like") await conn.query(PROD_LIKE_TABLE);
  const file = readStackFile(stackFilePath("prod"), "prod");
  const config = parseConfig(file.relay, "prod");
  await migrate({
    url,
    settings: {
      ...databaseSettingsFor(config, REGION),
      functionArn: `arn:aws:lambda:${REGION}:123456789012:function:capacity-notify`,
    },
    localLambda: true,
    createOrderData: true,
    ...(sqlDir ? { sqlDir } : {}),
  });
  // Only this harness runs dispatch (no event scheduler surprises).
  await conn.query("ALTER EVENT relay_dispatch_event DISABLE").catch(() => undefined);
  await conn.query("ALTER EVENT relay_dispatch_helper_event DISABLE").catch(() => undefined);
  await conn.query(
    "CREATE TABLE bench_lambda_latency (id TINYINT PRIMARY KEY, seconds DECIMAL(9, 6) NOT NULL);" +
      "INSERT INTO bench_lambda_latency VALUES (1, 0);" +
      "CREATE TRIGGER bench_lambda_latency AFTER INSERT ON lambda_invocations FOR EACH ROW " +
      "SET @bench_slept = SLEEP((SELECT seconds FROM bench_lambda_latency WHERE id = 1))",
  );
  const started = Date.now();
  const chunk = 500;
  for (let i = 0; i < rows; i += chunk) {
    const n = Math.min(chunk, rows - i);
    if (schema === "seed") {
      const values = Array.from({ length: n }, (_, k) => [`item ${i + k}`]);
      await conn.query("INSERT INTO order_data (item) VALUES ?", [values]);
    } else {
      const values = Array.from({ length: n }, (_, k) => {
        const r = orderRow(i + k, 500);
        return [
          r.customer_name,
          r.email,
          r.phone,
          r.address,
          r.item,
          r.quantity,
          r.unit_price,
          r.total,
          r.currency,
          r.status,
          r.created_at,
          String(r.note).slice(0, 400),
        ];
      });
      await conn.query(
        "INSERT INTO order_data (customer_name, email, phone, address, item, quantity, unit_price, " +
          "total, currency, status, created_at, note) VALUES ?",
        [values],
      );
    }
  }
  log(`  ${schema}: ${rows} orders inserted in ${Date.now() - started} ms`);
  return Object.assign(conn, { url });
}

/** Replaces the stand-in (bench database only) by a call that only waits and counts. */
export const CALL_ONLY_FUNCTION =
  "DROP FUNCTION IF EXISTS lambda_async;" +
  "CREATE FUNCTION lambda_async(p_arn VARCHAR(2048) CHARACTER SET utf8mb4, " +
  "p_payload LONGTEXT CHARACTER SET utf8mb4) RETURNS INT NOT DETERMINISTIC READS SQL DATA " +
  "BEGIN SET @bench_calls = COALESCE(@bench_calls, 0) + 1; " +
  "SET @bench_bytes = COALESCE(@bench_bytes, 0) + LENGTH(p_payload); " +
  "RETURN SLEEP((SELECT seconds FROM bench_lambda_latency WHERE id = 1)); END";

async function counters(conn: mysql.Connection, variant: CallVariant, helper?: mysql.Connection) {
  const sql =
    variant === "stand-in"
      ? "SELECT (SELECT COUNT(*) FROM relay_outbox WHERE handed_off_at IS NULL) AS pending, " +
        "(SELECT COUNT(*) FROM lambda_invocations) AS calls, " +
        "(SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM lambda_invocations) AS bytes"
      : "SELECT (SELECT COUNT(*) FROM relay_outbox WHERE handed_off_at IS NULL) AS pending, " +
        "COALESCE(@bench_calls, 0) AS calls, COALESCE(@bench_bytes, 0) AS bytes";
  const [[row]] = (await conn.query(sql)) as unknown as [
    [{ pending: number; calls: number; bytes: number }],
  ];
  const own = { pending: Number(row.pending), calls: Number(row.calls), bytes: Number(row.bytes) };
  if (!helper || variant === "stand-in") return own;
  // call-only counts per session: add the helper's.
  const [[h]] = (await helper.query(
    "SELECT COALESCE(@bench_calls, 0) AS calls, COALESCE(@bench_bytes, 0) AS bytes",
  )) as unknown as [[{ calls: number; bytes: number }]];
  return { ...own, calls: own.calls + Number(h.calls), bytes: own.bytes + Number(h.bytes) };
}

async function measurePoint(
  conn: mysql.Connection,
  schema: DispatchPoint["schema"],
  variant: CallVariant,
  batchSize: number,
  latencyMs: number,
  runs: number,
  helper?: mysql.Connection,
): Promise<DispatchPoint> {
  // Same outbox, fresh start: every row pending again, the recorded calls cleared.
  // (Columns of the outbox as far as both layouts share them: v1 row copies, v2 keys only.)
  await conn.query("UPDATE relay_outbox SET handed_off_at = NULL, attempts = 0");
  await conn.query("TRUNCATE TABLE lambda_invocations");
  // Direct write of one setting for the sweep (migrate() validates the real values).
  await conn.query("UPDATE relay_settings SET batch_size = ? WHERE id = 1", [batchSize]);
  await conn.query("UPDATE bench_lambda_latency SET seconds = ? WHERE id = 1", [latencyMs / 1000]);
  if (variant === "call-only") await conn.query(CALL_ONLY_FUNCTION);
  // The row's JSON as it travels (v2 reads it from the source table at dispatch time).
  const rowJsonBytes =
    schema === "prod-like"
      ? Buffer.byteLength(JSON.stringify(orderRow(1, 500)))
      : Buffer.byteLength(JSON.stringify({ id: 1, item: "item 1" }));
  const perRun: { rows: number; ms: number; calls: number; bytes: number }[] = [];
  for (let r = 0; r < runs; r++) {
    const before = await counters(conn, variant, helper);
    if (before.pending === 0) break;
    const start = process.hrtime.bigint();
    // With a helper: both sessions' calls go out together (the helper's first, as if its event
    // fired a moment earlier; either order works, relay_dispatch hands partition 1 over).
    await Promise.all([
      ...(helper ? [helper.query("CALL relay_dispatch_helper()")] : []),
      conn.query("CALL relay_dispatch()"),
    ]);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    const after = await counters(conn, variant, helper);
    // A run that ran out of rows is not a capacity sample (unless it is the only one).
    if (after.pending > 0 || r === 0) {
      perRun.push({
        rows: before.pending - after.pending,
        ms,
        calls: after.calls - before.calls,
        bytes: after.bytes - before.bytes,
      });
    }
  }
  const rowsPerRun = median(perRun.map((p) => p.rows));
  const runMs = median(perRun.map((p) => p.ms));
  const sustained = (rows: number, ms: number) =>
    Math.round(rows / Math.max(1, Math.ceil(ms / 1000)));
  // Best = highest sustained rate (a run past 1 s loses the next tick), then the fastest run.
  const best = perRun.reduce((a, b) => {
    const [sa, sb] = [sustained(a.rows, a.ms), sustained(b.rows, b.ms)];
    return sb > sa || (sb === sa && b.rows / b.ms > a.rows / a.ms) ? b : a;
  });
  const calls = perRun.reduce((sum, p) => sum + p.calls, 0);
  return {
    schema,
    variant,
    dispatchers: helper ? 2 : 1,
    rowJsonBytes: Math.round(Number(rowJsonBytes)),
    batchSize,
    latencyMs,
    runs: perRun.length,
    rowsPerRun,
    runMs: round(runMs, 1),
    rowsPerSecondInRun: Math.round(rowsPerRun / (runMs / 1000)),
    rowsPerSecondSustained: sustained(rowsPerRun, runMs),
    samples: perRun.map((p) => ({ rows: p.rows, ms: round(p.ms, 1) })),
    best: {
      rowsPerRun: best.rows,
      runMs: round(best.ms, 1),
      rowsPerSecondInRun: Math.round(best.rows / (best.ms / 1000)),
      rowsPerSecondSustained: sustained(best.rows, best.ms),
    },
    callsPerRun: median(perRun.map((p) => p.calls)),
    payloadBytes: calls ? Math.round(perRun.reduce((sum, p) => sum + p.bytes, 0) / calls) : 0,
  };
}

async function envelopeCheck(conn: mysql.Connection): Promise<string> {
  const [rows] = (await conn.query(
    "SELECT payload FROM lambda_invocations ORDER BY id LIMIT 1",
  )) as unknown as [{ payload: string }[]];
  if (rows.length === 0) return "no payload recorded";
  try {
    const envelope = parseEnvelope(JSON.parse(rows[0].payload));
    return `valid v2 envelope (${envelope.records.length} records)`;
  } catch (error) {
    const issues = (error as Error).message.replace(/^invalid relay envelope: /, "").split("; ");
    return `payload does not match contract/envelope.ts (${issues.length} issues, first: ${issues[0]})`;
  }
}

export interface DispatchOptions {
  readonly latenciesMs?: readonly number[];
  readonly batchSizes?: readonly number[];
  /** Batch sizes measured with the helper too (2 dispatchers, AWS latency). @default batchSizes */
  readonly parallelBatchSizes?: readonly number[];
  readonly rows?: number;
  readonly runs?: number;
  /** Directory with migrations/, routines/ and local/. @default the working tree's sql/ */
  readonly sqlDir?: string;
  readonly log?: (line: string) => void;
}

export async function measureDispatch(options: DispatchOptions = {}): Promise<DispatchFigures> {
  const log = options.log ?? (() => {});
  const latencies = options.latenciesMs ?? [0, 10, AWS_INVOKE_LATENCY_MS, 50];
  const batchSizes = options.batchSizes ?? [100, 500];
  const rows = options.rows ?? 45_000;
  const runs = options.runs ?? 6;
  let server: PrivateMariaDb | undefined;
  const points: DispatchPoint[] = [];
  let check = "not reached";
  try {
    const serverUrl =
      process.env.MYSQL_URL ??
      (server = await startPrivateMariaDb({
        extraArgs: ["--innodb-flush-log-at-trx-commit=1", "--max-allowed-packet=256M"],
      })).url;
    const wide = await prepare(serverUrl, "prod-like", rows, options.sqlDir, log);
    try {
      // As shipped first (the envelope check reads its recorded payloads), then call-only.
      for (const latencyMs of [0, AWS_INVOKE_LATENCY_MS]) {
        const point = await measurePoint(
          wide,
          "prod-like",
          "stand-in",
          batchSizes[0],
          latencyMs,
          runs,
        );
        points.push(point);
        log(`  ${JSON.stringify(point)}`);
      }
      check = await envelopeCheck(wide);
      for (const batchSize of batchSizes) {
        for (const latencyMs of latencies) {
          const point = await measurePoint(
            wide,
            "prod-like",
            "call-only",
            batchSize,
            latencyMs,
            runs,
          );
          points.push(point);
          log(`  ${JSON.stringify(point)}`);
        }
      }
      // relay_dispatch and its helper together (what a region with a backlog runs).
      const helper = await mysql.createConnection({ uri: wide.url!, multipleStatements: true });
      try {
        for (const batchSize of options.parallelBatchSizes ?? batchSizes) {
          for (const latencyMs of [0, AWS_INVOKE_LATENCY_MS]) {
            const point = await measurePoint(
              wide,
              "prod-like",
              "call-only",
              batchSize,
              latencyMs,
              runs,
              helper,
            );
            points.push(point);
            log(`  ${JSON.stringify(point)}`);
          }
        }
      } finally {
        await helper.end();
      }
    } finally {
      await wide.end();
    }
    const seed = await prepare(serverUrl, "seed", rows, options.sqlDir, log);
    try {
      const point = await measurePoint(
        seed,
        "seed",
        "call-only",
        batchSizes[0],
        AWS_INVOKE_LATENCY_MS,
        runs,
      );
      points.push(point);
      log(`  ${JSON.stringify(point)}`);
    } finally {
      await seed.end();
    }
    return {
      command: DISPATCH_COMMAND,
      awsLatencyMs: AWS_INVOKE_LATENCY_MS,
      points,
      envelopeCheck: check,
    };
  } catch (error) {
    // The SQL side may be mid-change (another issue rewrites dispatch): keep what was measured
    // and report the failure instead of hiding it.
    return {
      command: DISPATCH_COMMAND,
      awsLatencyMs: AWS_INVOKE_LATENCY_MS,
      points,
      envelopeCheck: check,
      blocker: error instanceof Error ? error.message : String(error),
    };
  } finally {
    await server?.stop();
  }
}

/**
 * `tsx bench/capacity-dispatch.ts [--rows N] [--runs N] [--quick]`: the measurement alone, as
 * JSON on stdout (bench/capacity.ts runs it in a checkout of HEAD when the working tree's SQL is
 * mid-change).
 */
if (require.main === module) {
  const args = process.argv.slice(2);
  const value = (flag: string) =>
    args.includes(flag) ? Number(args[args.indexOf(flag) + 1]) : undefined;
  const quick = args.includes("--quick");
  measureDispatch({
    rows: value("--rows") ?? (quick ? 12_000 : 45_000),
    runs: value("--runs") ?? (quick ? 2 : 6),
    ...(quick ? { latenciesMs: [0, AWS_INVOKE_LATENCY_MS] } : {}),
    log: (line) => process.stderr.write(`${line}\n`),
  }).then(
    (figures) => {
      process.stdout.write(`${JSON.stringify(figures)}\n`);
      process.exit(0);
    },
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
