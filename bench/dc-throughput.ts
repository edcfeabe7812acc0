/**
 * Figure 7 (issue 13): rows per second ONE DC consumer process writes into MariaDB from a
 * pre-filled local aggregator queue — the new sink (`dc/cli.ts`, typed mirror table, multi-row
 * versioned upserts, `--concurrency` default) against the old one-row-at-a-time `relay_rows`
 * path (bench/dc-legacy.ts) in the same run, on the same server, with the same messages.
 *
 *   npx tsx bench/dc-throughput.ts [--rows N] [--legacy-rows N] [--concurrency N] [--rounds N]
 *                                  [--write-results]  (also put it into bench/RESULTS.md)
 *   npx tsx bench/dc-throughput.ts --render          (RESULTS.md from the last run's JSON)
 *
 * Set-up (not timed): a private MariaDB (durable commits, as a DC runs), a DC user without
 * SUPER whose password reaches the consumer through MYSQL_PASSWORD only, a FIFO aggregator
 * queue + DLQ exactly as the program declares them (prod stack), filled with SCHEMA + N UPSERT
 * messages of a 12-column order table from 3 regions (one FIFO group per row, as the forwarder
 * sends them). Timed: the consumer process from its first to its last row; the figure is the
 * steady rate between 10 % and 90 % of the rows at the DC (start-up and the tail excluded).
 * CPU per row from /proc: the consumer process, mariadbd, and this process (the local SQS
 * server answering every call).
 */
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { SendMessageBatchCommand } from "@aws-sdk/client-sqs";
import mysql from "mysql2/promise";
import { readStackFile, stackFilePath } from "../config/load";
import { queueSpecs } from "../config/names";
import { parseConfig } from "../config/schema";
import { toRelayMessage, type RelayRecord } from "../contract/envelope";
import { startPrivateMariaDb } from "../emulators/mariadb";
import { createQueuesFromSpecs, startLocalSqs, type LocalSqs } from "../emulators/sqs";
import { prepareChange, writeChanges, type ChangeMessage } from "../dc/apply";
import { createDcPoolFromUrl } from "../dc/connection";
import { DEFAULT_CONCURRENCY } from "../dc/consumer";
import { ensureDcSchema, MirrorCatalog } from "../dc/mirror";
import { relayEntry } from "../lambda/lib/relay";
import { LEGACY_TABLE_SQL, legacyUpsertAll } from "./dc-legacy";
import { batchGroups, entryBytes } from "../lambda/lib/sqs";
import { ROOT, round, WORK } from "./util";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

export const DC_GOAL = { rowsPerSecond: 5000, ratio: 5 } as const;

export interface DcPathResult {
  readonly path: "sink" | "legacy";
  readonly rows: number;
  /** Receive loops of the consumer process (the old path has one). */
  readonly concurrency: number;
  /** Rows/s between 10 % and 90 % of the rows at the DC. */
  readonly steadyRowsPerSecond: number;
  /** Rows / (first row → last row at the DC). */
  readonly wallRowsPerSecond: number;
  readonly durationMs: number;
  readonly sqsCalls: Record<string, number>;
  readonly sqsCallsPerRow: number;
  /** CPU-ms per row in the steady window, by process. */
  readonly cpuMsPerRow: { consumer: number; mariadb: number; sqsServer: number };
  /** Machine busy share (0..1) in the steady window (/proc/stat). */
  readonly machineBusy: number;
}

/** The database write path alone (no SQS, no parsing): the same statements, in this process. */
export interface WritePathResult {
  readonly sinkRowsPerSecond: number;
  readonly legacyRowsPerSecond: number;
  readonly ratio: number;
  readonly rows: { sink: number; legacy: number };
  readonly mariadbCpuMsPerRow: { sink: number; legacy: number };
}

export interface DcThroughputFigure {
  readonly command: string;
  readonly messageBytes: number;
  readonly columns: number;
  readonly sink: DcPathResult;
  readonly legacy: DcPathResult;
  readonly ratio: number;
  readonly writePath: WritePathResult;
  /** Steady rows/s of every round (the figure is the median round). */
  readonly rounds: { readonly sink: number[]; readonly legacy: number[] };
  readonly loadAverage: { readonly start: number[]; readonly end: number[] };
}

const REGIONS = ["ap-northeast-1", "us-west-2", "eu-west-1"];
const TSX_LOADER = pathToFileURL(path.join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;

const COLUMNS: [string, string][] = [
  ["id", "bigint(20) unsigned"],
  ["shop_id", "int(11)"],
  ["status", "varchar(20)"],
  ["customer", "varchar(100)"],
  ["email", "varchar(100)"],
  ["total", "decimal(12,2)"],
  ["currency", "char(3)"],
  ["items", "smallint(6)"],
  ["created_at", "datetime(6)"],
  ["updated_at", "timestamp(6)"],
  ["address", "json"],
  ["note", "text"],
];

function records(n: number): RelayRecord[][] {
  const byRegion: RelayRecord[][] = REGIONS.map(() => [
    {
      outboxId: 1,
      table: "orders",
      op: "SCHEMA",
      occurredAt: "2026-11-23T00:00:00.000Z",
      schema: {
        columns: COLUMNS.map(([name, type]) => ({ name, type, nullable: name !== "id" })),
        primaryKey: ["id"],
      },
    },
  ]);
  for (let i = 0; i < n; i++) {
    const at = new Date(Date.UTC(2026, 10, 23, 1, 0, 0, i)).toISOString();
    byRegion[i % REGIONS.length]!.push({
      outboxId: 10 + i,
      table: "orders",
      op: "UPSERT",
      key: { id: i + 1 },
      occurredAt: at,
      row: {
        id: i + 1,
        shop_id: 1 + (i % 7),
        status: ["new", "paid", "shipped", "completed"][i % 4],
        customer: `山田 太郎 ${i}`,
        email: `customer${i}@example.com`,
        total: `${(i % 100000) + 0.99}`,
        currency: "JPY",
        items: 1 + (i % 9),
        created_at: at.replace("T", " ").replace("Z", ""),
        updated_at: at.replace(/\.(\d{3})Z$/, ".$1123Z"),
        address: { zip: "100-0001", city: "千代田区", line1: `${i} Chiyoda`, country: "JP" },
        note: i % 5 === 0 ? "" : "please ring twice 🍣",
      },
    });
  }
  return byRegion;
}

/** Fills the queue as the forwarder would (FIFO dedup id per change, group per row). */
async function fill(sqs: LocalSqs, queueUrl: string, n: number): Promise<number> {
  const client = sqs.client("eu-central-1", { harness: true });
  const entries = records(n).flatMap((list, r) =>
    list.map((record) => relayEntry(toRelayMessage(REGIONS[r]!, record), { fifo: true })),
  );
  const groups = batchGroups(entries, entryBytes);
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < groups.length) {
        const group = groups[next++]!;
        await client.send(
          new SendMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: group.map((e, i) => ({ ...e, Id: String(i) })),
          }),
        );
      }
    }),
  );
  return Math.round(entries.slice(3).reduce((a, e) => a + entryBytes(e), 0) / n);
}

function procCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(rest[11]) + Number(rest[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
}

function findChild(match: (cmd: string) => boolean): number | undefined {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (ppid === process.pid && match(cmd)) return Number(entry);
    } catch {
      // gone
    }
  }
  return undefined;
}

function machineCpu(): { busy: number; total: number } {
  const v = readFileSync("/proc/stat", "utf8")
    .split("\n")[0]!
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

interface Snapshot {
  readonly at: number;
  readonly rows: number;
  readonly consumer: number;
  readonly mariadb: number;
  readonly self: number;
  readonly machine: { busy: number; total: number };
}

async function measurePath(o: {
  path: "sink" | "legacy";
  round: number;
  sqs: LocalSqs;
  dbPort: number;
  mariadbPid: number;
  admin: mysql.Connection;
  rows: number;
  concurrency?: number;
  log: (line: string) => void;
}): Promise<DcPathResult> {
  const database = `dc_${o.path}_${o.round}`;
  const password = `bench-${Math.random().toString(36).slice(2)}`;
  const user = `dc_${o.path}_${o.round}`;
  await o.admin.query(`CREATE DATABASE ${database} CHARACTER SET utf8mb4`);
  await o.admin.query(`CREATE USER ?@'%' IDENTIFIED BY ?`, [user, password]);
  await o.admin.query(`GRANT ALL PRIVILEGES ON ${database}.* TO ?@'%'`, [user]);
  const file = readStackFile(stackFilePath("prod"), "prod");
  const config = parseConfig(
    { ...file.relay, namePrefix: `bench-dc-${o.path}-${o.round}` },
    "prod",
  );
  const queues = await createQueuesFromSpecs(
    o.sqs.client("eu-central-1", { harness: true }),
    queueSpecs(config),
  );
  const queueUrl = queues.aggregator.queue.url;
  o.log(`  ${o.path}: filling the aggregator queue with ${o.rows} changes`);
  const messageBytes = await fill(o.sqs, queueUrl, o.rows);
  const mysqlUrl = `mysql://${user}@127.0.0.1:${o.dbPort}/${database}`;
  const env = {
    PATH: process.env.PATH ?? "",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    AWS_ENDPOINT_URL_SQS: o.sqs.endpoint,
    AWS_ACCESS_KEY_ID: "local",
    AWS_SECRET_ACCESS_KEY: "local",
    AWS_REGION: "eu-central-1",
    POWERTOOLS_LOG_LEVEL: "WARN",
    MYSQL_PASSWORD: password, // never on the command line
    DC_QUEUE_URL: queueUrl,
    DC_MYSQL_URL: mysqlUrl,
  };
  const args =
    o.path === "sink"
      ? [
          path.join(ROOT, "dc", "cli.ts"),
          "--wait-seconds",
          "1",
          "--status-seconds",
          "0",
          ...(o.concurrency ? ["--concurrency", String(o.concurrency)] : []),
        ]
      : [path.join(ROOT, "bench", "dc-legacy.ts")];
  o.sqs.resetCalls();
  // BENCH_DC_CPU_PROF=<dir>: write a V8 CPU profile of the consumer process there.
  const profile = process.env.BENCH_DC_CPU_PROF
    ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_DC_CPU_PROF}`]
    : [];
  const child = spawn(process.execPath, [...profile, "--import", TSX_LOADER, ...args], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  const table = o.path === "sink" ? "orders" : "relay_rows";
  const snapshots: Snapshot[] = [];
  const snap = async (): Promise<Snapshot> => {
    let rows: number;
    try {
      const [r] = await o.admin.query<mysql.RowDataPacket[]>(
        `SELECT COUNT(*) AS n FROM ${database}.${table}`,
      );
      rows = Number(r[0]!.n);
    } catch {
      rows = 0; // not created yet
    }
    const u = process.cpuUsage();
    return {
      at: performance.now(),
      rows,
      consumer: procCpuMs(child.pid!),
      mariadb: procCpuMs(o.mariadbPid),
      self: (u.user + u.system) / 1000,
      machine: machineCpu(),
    };
  };
  const deadline = Date.now() + 600_000;
  for (;;) {
    const s = await snap();
    snapshots.push(s);
    if (s.rows >= o.rows) break;
    if (child.exitCode !== null) throw new Error(`${o.path} consumer exited: ${stderr.trim()}`);
    if (Date.now() > deadline)
      throw new Error(`${o.path}: only ${s.rows} of ${o.rows} rows in 10 minutes`);
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill("SIGTERM");
  await exited;
  const calls = o.sqs.calls();
  const first = snapshots.find((s) => s.rows > 0)!;
  const last = snapshots[snapshots.length - 1]!;
  const at = (fraction: number) => snapshots.find((s) => s.rows >= o.rows * fraction)!;
  const a = at(0.1);
  const b = at(0.9);
  const rowsIn = b.rows - a.rows;
  const perRow = (x: number) => round(x / rowsIn, 3);
  const steady = round((rowsIn * 1000) / (b.at - a.at), 0);
  const result: DcPathResult = {
    path: o.path,
    rows: o.rows,
    concurrency: o.path === "sink" ? (o.concurrency ?? DEFAULT_CONCURRENCY) : 1,
    steadyRowsPerSecond: steady,
    wallRowsPerSecond: round((o.rows * 1000) / (last.at - first.at), 0),
    durationMs: Math.round(last.at - first.at),
    sqsCalls: calls,
    sqsCallsPerRow: round(Object.values(calls).reduce((x, y) => x + y, 0) / o.rows, 3),
    cpuMsPerRow: {
      consumer: perRow(b.consumer - a.consumer),
      mariadb: perRow(b.mariadb - a.mariadb),
      sqsServer: perRow(b.self - a.self),
    },
    machineBusy: round((b.machine.busy - a.machine.busy) / (b.machine.total - a.machine.total), 2),
  };
  o.log(
    `  ${o.path}: ${steady} rows/s steady (${result.wallRowsPerSecond}/s first→last row), ` +
      `${result.sqsCallsPerRow} SQS calls/row, CPU-ms/row consumer ${result.cpuMsPerRow.consumer}, ` +
      `mariadb ${result.cpuMsPerRow.mariadb}, SQS server ${result.cpuMsPerRow.sqsServer}; ` +
      `machine ${Math.round(result.machineBusy * 100)}% busy; ${messageBytes} B/message`,
  );
  (result as { messageBytes?: number }).messageBytes = messageBytes;
  return result;
}

/**
 * Both write paths without SQS: batches of 10 changes (one receive's worth), the sink's
 * prepared multi-row upsert from `concurrency` loops sharing a pool (as the consumer runs), the
 * old path's per-row upserts in one transaction per batch from one loop.
 */
async function writePath(o: {
  dbUrl: string;
  mariadbPid: number;
  rows: number;
  legacyRows: number;
  concurrency: number;
}): Promise<WritePathResult> {
  const admin = await mysql.createConnection({ uri: o.dbUrl });
  await admin.query("CREATE DATABASE dc_write_sink CHARACTER SET utf8mb4");
  await admin.query("CREATE DATABASE dc_write_legacy CHARACTER SET utf8mb4");
  await admin.end();
  const base = new URL(o.dbUrl);
  const sinkPool = createDcPoolFromUrl(
    new URL("/dc_write_sink", base).toString(),
    o.concurrency + 1,
  );
  const legacyPool = mysql.createPool({
    uri: new URL("/dc_write_legacy", base).toString(),
    charset: "utf8mb4",
    connectionLimit: 2,
    timezone: "Z",
  });
  try {
    const [byRegion] = [records(Math.max(o.rows, o.legacyRows))];
    const messages = byRegion.flatMap((list, r) =>
      list.map((rec) => toRelayMessage(REGIONS[r]!, rec)),
    );
    const schema = messages.find((m) => m.op === "SCHEMA")!;
    const changes = messages.filter((m) => m.op !== "SCHEMA") as ChangeMessage[];
    await ensureDcSchema(sinkPool);
    const catalog = new MirrorCatalog(sinkPool);
    await catalog.applySchema(schema.region, schema as never);
    const table = (await catalog.get("orders"))!;
    const prepared = changes.slice(0, o.rows).map((m) => {
      const p = prepareChange(m, table, 600);
      if (p.kind !== "ready") throw new Error(`not ready: ${p.kind}`);
      return p.change;
    });
    const batches = <T>(list: readonly T[]) =>
      Array.from({ length: Math.ceil(list.length / 10) }, (_, i) =>
        list.slice(i * 10, i * 10 + 10),
      );

    const sinkBatches = batches(prepared);
    let next = 0;
    let cpu0 = procCpuMs(o.mariadbPid);
    let t0 = performance.now();
    await Promise.all(
      Array.from({ length: o.concurrency }, async () => {
        while (next < sinkBatches.length) {
          const batch = sinkBatches[next++]!;
          const conn = await sinkPool.getConnection();
          try {
            await writeChanges(conn, batch, "tombstone"); // one statement: autocommit
          } finally {
            conn.release();
          }
        }
      }),
    );
    const sinkMs = performance.now() - t0;
    const sinkCpu = procCpuMs(o.mariadbPid) - cpu0;

    await legacyPool.query(LEGACY_TABLE_SQL);
    const legacyBatches = batches(changes.slice(0, o.legacyRows));
    cpu0 = procCpuMs(o.mariadbPid);
    t0 = performance.now();
    for (const batch of legacyBatches) {
      const conn = await legacyPool.getConnection();
      try {
        await conn.beginTransaction();
        await legacyUpsertAll(
          conn,
          batch.map((message) => ({ sqs: { MessageId: String(message.outboxId) }, message })),
        );
        await conn.commit();
      } finally {
        conn.release();
      }
    }
    const legacyMs = performance.now() - t0;
    const legacyCpu = procCpuMs(o.mariadbPid) - cpu0;
    const sinkRate = round((o.rows * 1000) / sinkMs, 0);
    const legacyRate = round((o.legacyRows * 1000) / legacyMs, 0);
    return {
      sinkRowsPerSecond: sinkRate,
      legacyRowsPerSecond: legacyRate,
      ratio: round(sinkRate / legacyRate, 1),
      rows: { sink: o.rows, legacy: o.legacyRows },
      mariadbCpuMsPerRow: {
        sink: round(sinkCpu / o.rows, 3),
        legacy: round(legacyCpu / o.legacyRows, 3),
      },
    };
  } finally {
    await sinkPool.end();
    await legacyPool.end();
  }
}

/** Measures both paths on one private MariaDB and one local SQS server. */
export async function dcThroughputFigure(o: {
  rows?: number;
  legacyRows?: number;
  concurrency?: number;
  rounds?: number;
  log?: (line: string) => void;
  command?: string;
}): Promise<DcThroughputFigure> {
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const rows = o.rows ?? 10_000;
  const legacyRows = o.legacyRows ?? 3_000;
  const rounds = o.rounds ?? 3;
  const loadStart = loadavg().map((v) => round(v, 1));
  const [db, sqs] = await Promise.all([startPrivateMariaDb(), startLocalSqs()]);
  const admin = await mysql.createConnection({ uri: db.url });
  try {
    const mariadbPid = findChild(
      (cmd) => cmd.includes("mariadbd") && cmd.includes(`--port=${db.port}`),
    );
    if (!mariadbPid) throw new Error("mariadbd process not found");
    // Interleaved rounds on this shared machine: the figure is the median round of each path.
    const legacyRounds: DcPathResult[] = [];
    const sinkRounds: DcPathResult[] = [];
    for (let round = 1; round <= rounds; round++) {
      log(` round ${round} of ${rounds}`);
      legacyRounds.push(
        await measurePath({
          path: "legacy",
          round,
          sqs,
          dbPort: db.port,
          mariadbPid,
          admin,
          rows: legacyRows,
          log,
        }),
      );
      sinkRounds.push(
        await measurePath({
          path: "sink",
          round,
          sqs,
          dbPort: db.port,
          mariadbPid,
          admin,
          rows,
          ...(o.concurrency ? { concurrency: o.concurrency } : {}),
          log,
        }),
      );
    }
    const medianRound = (list: DcPathResult[]) =>
      [...list].sort((a, b) => a.steadyRowsPerSecond - b.steadyRowsPerSecond)[
        Math.floor((list.length - 1) / 2)
      ]!;
    const legacy = medianRound(legacyRounds);
    const sink = medianRound(sinkRounds);
    log("  write path alone (no SQS): sink vs old path, same MariaDB");
    const write = await writePath({
      dbUrl: db.url,
      mariadbPid,
      rows: Math.max(rows, 20_000),
      legacyRows,
      concurrency: o.concurrency ?? DEFAULT_CONCURRENCY,
    });
    log(
      `  write path: sink ${write.sinkRowsPerSecond} rows/s, old path ${write.legacyRowsPerSecond} rows/s (×${write.ratio})`,
    );
    return {
      command: o.command ?? "npx tsx bench/dc-throughput.ts",
      writePath: write,
      rounds: {
        sink: sinkRounds.map((r) => r.steadyRowsPerSecond),
        legacy: legacyRounds.map((r) => r.steadyRowsPerSecond),
      },
      loadAverage: { start: loadStart, end: loadavg().map((v) => round(v, 1)) },
      messageBytes: (sink as { messageBytes?: number }).messageBytes ?? 0,
      columns: COLUMNS.length,
      sink,
      legacy,
      ratio: round(sink.steadyRowsPerSecond / legacy.steadyRowsPerSecond, 1),
    };
  } finally {
    await admin.end().catch(() => undefined);
    await sqs.close();
    await db.stop();
  }
}

/** The figure's section of bench/RESULTS.md. */
export function renderDcThroughput(f: DcThroughputFigure): string[] {
  const met = (ok: boolean) => (ok ? "**met**" : "**missed**");
  const row = (p: DcPathResult, name: string) =>
    `| ${name} | ${p.concurrency} | ${p.rows} | **${p.steadyRowsPerSecond}** | ${p.wallRowsPerSecond} | ${p.sqsCallsPerRow} | ${p.cpuMsPerRow.consumer} / ${p.cpuMsPerRow.mariadb} / ${p.cpuMsPerRow.sqsServer} | ${Math.round(p.machineBusy * 100)}% |`;
  const s = f.sink;
  const cpu = s.cpuMsPerRow.consumer + s.cpuMsPerRow.mariadb + s.cpuMsPerRow.sqsServer;
  return [
    "## 7. DC consumer throughput: typed mirror tables vs the old one-row-at-a-time path",
    "",
    `Command: \`${f.command}\` (bench/dc-throughput.ts; also part of \`npm run bench\`). One private MariaDB`,
    "(durable commits), a DC user without SUPER (password via MYSQL_PASSWORD only), the prod stack's FIFO",
    `aggregator queue pre-filled with SCHEMA + N UPSERTs of a ${f.columns}-column order table from 3 regions`,
    `(${f.messageBytes} B per message, one FIFO group per row). One consumer process each: the new sink`,
    "(`dc/cli.ts`, default `--concurrency`) and the old path (bench/dc-legacy.ts: one loop, one",
    "`INSERT … ON DUPLICATE KEY UPDATE` per row into `relay_rows`). Rate = rows at the DC between 10 % and",
    "90 % of N (start-up and tail excluded). CPU-ms per row in that window from /proc.",
    "",
    "| path | loops | rows | rows/s (steady) | rows/s (first→last) | SQS calls/row | CPU-ms/row: consumer / mariadbd / SQS server | machine busy |",
    "|---|---|---|---|---|---|---|---|",
    row(s, "new sink (mirror table, multi-row upsert)"),
    row(f.legacy, "old path (`relay_rows`, row by row)"),
    "",
    `The database write path alone (bench/dc-throughput.ts \`writePath\`: the same statements without SQS, batches of`,
    `10 changes, ${s.concurrency} loops vs one): **${f.writePath.sinkRowsPerSecond} rows/s** (${f.writePath.rows.sink} rows) against ${f.writePath.legacyRowsPerSecond} rows/s`,
    `for the old path (${f.writePath.rows.legacy} rows), ×${f.writePath.ratio}; mariadbd CPU-ms per row ${f.writePath.mariadbCpuMsPerRow.sink} vs ${f.writePath.mariadbCpuMsPerRow.legacy}.`,
    `Rounds (steady rows/s, interleaved old → new): new ${f.rounds.sink.join(", ")}; old ${f.rounds.legacy.join(", ")}. Load average`,
    `(1/5/15 min) ${f.loadAverage.start.join(", ")} at the start, ${f.loadAverage.end.join(", ")} at the end: the machine is shared and the figures move with it.`,
    "",
    `Goals: ≥ ${DC_GOAL.rowsPerSecond.toLocaleString("en")} rows/s per process — ${met(s.steadyRowsPerSecond >= DC_GOAL.rowsPerSecond)} (${s.steadyRowsPerSecond}/s);` +
      ` ≥ ×${DC_GOAL.ratio} the old path — ${met(f.ratio >= DC_GOAL.ratio)} (×${f.ratio}).`,
    "",
    `What bounds it here: the CPU of this ${availableParallelism()}-core machine, which the consumer shares with the SQS server and`,
    `MariaDB. One row costs ≈ ${round(cpu, 2)} CPU-ms summed over the three (consumer ${s.cpuMsPerRow.consumer}, mariadbd`,
    `${s.cpuMsPerRow.mariadb}, local SQS server ${s.cpuMsPerRow.sqsServer}), so ${availableParallelism()} cores give at most ≈ ${Math.round((availableParallelism() * 1000) / cpu)} rows/s even with nothing else`,
    `running (the new sink ran at ${Math.round(s.machineBusy * 100)}% of the machine). The floor is SQS's own: ${s.sqsCallsPerRow} calls per row (one`,
    "ReceiveMessage and one DeleteMessageBatch per 10 messages, SQS's batch limit), and on this VM one SDK",
    "call costs the consumer ≈ 1.5–2 CPU-ms plus as much again in the local server; a CPU profile of the",
    "consumer (`BENCH_DC_CPU_PROF=<dir> npx tsx bench/dc-throughput.ts`) puts about half of its time in the AWS",
    "SDK and Node's HTTP stack, about a tenth in the sink's own code (parsing, validation, statement",
    "building). In AWS the SQS side is not on the DC's host, and the database write path alone — what",
    `the sink changed — does ${f.writePath.sinkRowsPerSecond} rows/s here. The old path is latency-bound instead (one loop, 12 database`,
    `round trips per 10 rows; the machine was ${Math.round(f.legacy.machineBusy * 100)}% busy), so its rate moves most with the load of the machine.`,
    "",
  ];
}

async function main(): Promise<void> {
  if (process.argv.includes("--render")) {
    // Re-render from the last run's bench/.work/dc-throughput.json (no measuring).
    const last = JSON.parse(
      readFileSync(path.join(WORK, "dc-throughput.json"), "utf8"),
    ) as DcThroughputFigure;
    writeFileSync(RESULTS_MD, updateResultsMd(readFileSync(RESULTS_MD, "utf8"), last));
    process.stderr.write("re-rendered figure 7 in bench/RESULTS.md\n");
    return;
  }
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? Number(process.argv[i + 1]) : undefined;
  };
  const figure = await dcThroughputFigure({
    rows: arg("rows"),
    legacyRows: arg("legacy-rows"),
    concurrency: arg("concurrency"),
    rounds: arg("rounds"),
    command: `npx tsx bench/dc-throughput.ts${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(" ")}` : ""}`,
  });
  mkdirSync(WORK, { recursive: true });
  writeFileSync(path.join(WORK, "dc-throughput.json"), `${JSON.stringify(figure, null, 2)}\n`);
  process.stdout.write(`${renderDcThroughput(figure).join("\n")}\n`);
  if (process.argv.includes("--write-results")) {
    writeFileSync(RESULTS_MD, updateResultsMd(readFileSync(RESULTS_MD, "utf8"), figure));
    process.stderr.write("updated figure 7 in bench/RESULTS.md\n");
  }
}

const RESULTS_MD = path.join(__dirname, "RESULTS.md");

/** The summary-table row of figure 7. */
export function dcSummaryRow(f: DcThroughputFigure): string {
  const met = f.sink.steadyRowsPerSecond >= DC_GOAL.rowsPerSecond && f.ratio >= DC_GOAL.ratio;
  return (
    `| 7 | DC consumer rows/s, one process, from a pre-filled aggregator queue | ${f.sink.steadyRowsPerSecond}/s ` +
    `(old row-by-row path ${f.legacy.steadyRowsPerSecond}/s, ×${f.ratio}); database write path alone ` +
    `${f.writePath.sinkRowsPerSecond}/s (×${f.writePath.ratio}) | ≥ ${DC_GOAL.rowsPerSecond}/s, ≥ ×${DC_GOAL.ratio} | ` +
    `${met ? "**met**" : "**missed**"} |`
  );
}

/**
 * `--write-results`: puts figure 7 into an existing RESULTS.md (its summary row after row 6,
 * its section at the end), replacing an earlier figure 7 — the other figures stay as measured.
 */
export function updateResultsMd(markdown: string, f: DcThroughputFigure): string {
  const lines = markdown.replace(/\n+$/, "").split("\n");
  const rowAt = lines.findIndex((l) => l.startsWith("| 7 | DC consumer"));
  if (rowAt >= 0) lines[rowAt] = dcSummaryRow(f);
  else {
    const six = lines.findIndex((l) => l.startsWith("| 6 |"));
    if (six >= 0) lines.splice(six + 1, 0, dcSummaryRow(f));
  }
  const start = lines.findIndex((l) => l.startsWith("## 7. DC consumer"));
  if (start >= 0) {
    const next = lines.findIndex((l, i) => i > start && l.startsWith("## "));
    lines.splice(start, (next >= 0 ? next : lines.length) - start);
  }
  return `${[...lines, "", ...renderDcThroughput(f)]
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .replace(/\n+$/, "")}\n`;
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(
        `dc-throughput: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exit(1);
    },
  );
}
