/**
 * `npm run dc:consume` (dc/cli.ts) as the DC runs it: its own process, the password from the
 * environment (never in `ps`, never in a log line), SIGKILL in the middle of a batch then a
 * restart (nothing lost), SIGTERM (in-flight work finished, the stopped summary printed), the
 * health endpoint, one clear line and exit 78 for a wrong password, exit 2 for a bad flag — and,
 * in-process, an unreachable SQS endpoint labelled as SQS and retried with backoff.
 */
import { strict as assert } from "assert";
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { SQSClient } from "@aws-sdk/client-sqs";
import type { Pool, RowDataPacket } from "mysql2/promise";
import { HelpRequested, UsageError } from "../../cli/command";
import { DC_COMMAND, parseCli, usage } from "../../dc/cli";
import { createDcPoolFromUrl, readOptionFile, resolveMysqlTarget } from "../../dc/connection";
import { startDcConsumer } from "../../dc/consumer";
import { startLocalSqs, type LocalSqs } from "../../emulators/sqs";
import { createLogger } from "../../lambda/lib/observability";
import {
  captureOutput,
  createTestQueues,
  freshConfig,
  queueDepth,
  type Captured,
} from "../lambda/support";
import { createScratchDatabase, serverUrl, type ScratchDatabase } from "../support/mysql";
import { count, createDcUser, schemaRecord, sendRecords, upsert, waitFor } from "./support";

const ROOT = path.join(__dirname, "..", "..");
const TSX_LOADER = pathToFileURL(path.join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;
const CLI = path.join(ROOT, "dc", "cli.ts");
const REGION = "ap-southeast-2";

interface Running {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function runCli(args: string[], env: Record<string, string>): Running {
  const child = spawn(process.execPath, ["--import", TSX_LOADER, CLI, ...args], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      AWS_ACCESS_KEY_ID: "local",
      AWS_SECRET_ACCESS_KEY: "local",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exit };
}

describe("dc:consume command line", () => {
  it("--help explains every flag and its environment variable", () => {
    const text = usage();
    for (const [name, option] of Object.entries(DC_COMMAND.options)) {
      assert.match(text, new RegExp(`--${name}\\b`), name);
      if ("env" in option) assert.ok(text.includes(option.env), `${name}: ${option.env}`);
    }
    assert.match(text, /MYSQL_PASSWORD/);
    assert.match(text, /Exit codes: 0 stopped; 2 bad flag or value; 78/);
    assert.throws(() => parseCli(["--help"], {}), HelpRequested);
  });

  it("rejects each bad value with one line naming the flag, never echoing a password", () => {
    const base = ["--queue-url", "https://sqs.eu-central-1.amazonaws.com/123456789012/q.fifo"];
    const url = ["--mysql-url", "mysql://dc@db:3306/relay"];
    const cases: [string[], Record<string, string>, RegExp][] = [
      [[...url], {}, /missing --queue-url \(or DC_QUEUE_URL\)/],
      [[...base], {}, /missing --mysql-url/],
      [[...base, "--mysql-url", "mysql://dc:s3cret@db:3306/"], {}, /names no database/],
      [[...base, ...url, "--concurrency", "0"], {}, /--concurrency must be in 1\.\.64, got 0/],
      [
        [...base, ...url, "--deletes", "soft"],
        {},
        /--deletes must be one of tombstone, apply, got "soft"/,
      ],
      [[...base, ...url, "--wait-seconds", "30"], {}, /--wait-seconds must be in 0\.\.20/],
      [
        [...base, ...url],
        { DC_MAX_MESSAGES: "11" },
        /DC_MAX_MESSAGES \(for --max-messages\) must be in 1\.\.10/,
      ],
      [[...base, ...url, "--table-prefix", "dc-"], {}, /--table-prefix must be up to 32 letters/],
      [
        [...base, ...url, "--mysql-password-file", "/nonexistent/pw"],
        {},
        /cannot read --mysql-password-file/,
      ],
      [["--queue-url", "http://127.0.0.1:1/000/q", ...url], {}, /missing --region/],
      [["--bogus"], {}, /unknown option --bogus/],
    ];
    for (const [argv, env, message] of cases) {
      assert.throws(
        () => parseCli(argv, env),
        (error: unknown) => {
          assert.ok(error instanceof UsageError, `${argv.join(" ")}: ${String(error)}`);
          assert.match(error.message, message);
          assert.ok(!error.message.includes("\n"), "one line");
          assert.doesNotMatch(error.message, /s3cret/);
          return true;
        },
      );
    }
  });

  it("takes the password from MYSQL_PASSWORD, a file or an option file; one in the URL works but is warned about", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dc-cli-"));
    try {
      const base = ["--queue-url", "https://sqs.eu-central-1.amazonaws.com/123456789012/q.fifo"];
      const fromEnv = parseCli([...base, "--mysql-url", "mysql://dc@db:3306/relay"], {
        MYSQL_PASSWORD: "from-env",
      });
      assert.equal(fromEnv.target.password, "from-env");
      assert.equal(fromEnv.target.passwordSource, "MYSQL_PASSWORD");
      assert.deepEqual(fromEnv.warnings, []);
      assert.equal(fromEnv.region, "eu-central-1");
      assert.equal(fromEnv.concurrency, 8);
      assert.equal(fromEnv.deletes, "tombstone");
      fs.writeFileSync(path.join(dir, "pw"), "from-file\n", { mode: 0o600 });
      const fromFile = parseCli(
        [
          ...base,
          "--mysql-url",
          "mysql://dc@db/relay",
          "--mysql-password-file",
          path.join(dir, "pw"),
        ],
        { MYSQL_PASSWORD: "ignored" },
      );
      assert.equal(fromFile.target.password, "from-file");
      fs.writeFileSync(
        path.join(dir, "dc.cnf"),
        '[client]\nuser = relay_dc\npassword = "from option file"\nhost=db.dc.internal\nport=3307\ndatabase=relay\n[mysqld]\nuser=nobody\n',
      );
      const fromOptions = parseCli(
        [...base, "--mysql-defaults-file", path.join(dir, "dc.cnf")],
        {},
      );
      assert.deepEqual(
        { ...fromOptions.target },
        {
          host: "db.dc.internal",
          port: 3307,
          user: "relay_dc",
          database: "relay",
          password: "from option file",
          passwordSource: "option-file",
        },
      );
      assert.equal(readOptionFile(path.join(dir, "dc.cnf")).user, "relay_dc");
      const legacy = resolveMysqlTarget({ url: "mysql://dc:in%20url@db:3306/relay", env: {} });
      assert.equal(legacy.target.password, "in url");
      assert.match(legacy.warnings[0]!, /`ps` shows it/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("dc:consume as a process (local SQS, MariaDB)", function () {
  this.timeout(90_000);
  let sqs: LocalSqs;
  let db: ScratchDatabase;
  let pool: Pool;
  let dc: { user: string; password: string; url: string };
  let captured: Captured | undefined;
  const running: Running[] = [];

  before(async () => {
    sqs = await startLocalSqs();
    db = await createScratchDatabase("dc_cli");
    dc = await createDcUser(serverUrl(), db.name);
    pool = createDcPoolFromUrl(db.url, 2);
  });
  after(async () => {
    for (const r of running) if (r.child.exitCode === null) r.child.kill("SIGKILL");
    await pool.end();
    await db.drop();
    await sqs.close();
  });
  afterEach(() => {
    captured?.restore();
    captured = undefined;
  });

  const env = () => ({ AWS_ENDPOINT_URL_SQS: sqs.endpoint, MYSQL_PASSWORD: dc.password });
  const args = (queueUrl: string, extra: string[] = []) => [
    "--queue-url",
    queueUrl,
    "--region",
    "eu-central-1",
    "--mysql-url",
    dc.url,
    "--wait-seconds",
    "1",
    "--status-seconds",
    "1",
    ...extra,
  ];

  it("SIGKILL in the middle of a batch, then a restart: nothing lost; SIGTERM: in-flight finished, summary, health endpoint", async () => {
    const client = sqs.client("eu-central-1", { harness: true });
    const q = await createTestQueues(client, freshConfig(), 2);
    const n = 1200;
    await sendRecords(client, q.aggregator.queue.url, REGION, [
      schemaRecord(
        "orders",
        1,
        [
          ["id", "int(11)"],
          ["item", "varchar(64)"],
        ],
        ["id"],
      ),
      ...Array.from({ length: n }, (_, i) =>
        upsert("orders", 10 + i, { id: i }, { item: `item ${i}` }),
      ),
    ]);
    const first = runCli(args(q.aggregator.queue.url), env());
    running.push(first);
    await waitFor(
      async () => {
        try {
          return (await count(pool, "SELECT COUNT(*) FROM orders")) >= 300;
        } catch {
          return false; // the table is not there yet
        }
      },
      30_000,
      "300 rows",
    );
    // Kill it while one of its transactions is open (mid-batch): a lock on the whole table (all
    // rows and gaps) makes its next multi-row upsert wait inside its transaction.
    const locker = await pool.getConnection();
    await locker.beginTransaction();
    await locker.query("SELECT COUNT(*) FROM orders FOR UPDATE");
    let midTransaction = false;
    let sessions: RowDataPacket[] = [];
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && !midTransaction) {
      // A consumer session waiting for a lock inside its transaction — or whose write has run
      // for over half a second: a statement in progress is a transaction of its own.
      [sessions] = await pool.query<RowDataPacket[]>(
        `SELECT p.ID, p.COMMAND, p.STATE, p.TIME_MS, LEFT(p.INFO, 60) AS info, t.trx_state
           FROM information_schema.PROCESSLIST p
           LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID
          WHERE p.USER = ?`,
        [dc.user],
      );
      midTransaction = sessions.some(
        (s) =>
          s.trx_state === "LOCK WAIT" ||
          (s.COMMAND === "Query" && /^INSERT/i.test(String(s.info)) && Number(s.TIME_MS) > 500),
      );
      if (!midTransaction) await new Promise((r) => setTimeout(r, 20));
    }
    // The password is in neither the command line nor the output.
    const cmdline = fs.readFileSync(`/proc/${first.child.pid}/cmdline`, "utf8");
    first.child.kill("SIGKILL");
    const killed = await first.exit;
    await locker.rollback();
    locker.release();
    assert.equal(killed.signal, "SIGKILL");
    const atKill = await count(pool, "SELECT COUNT(*) FROM orders");
    assert.ok(
      midTransaction,
      `killed while a transaction was open (${atKill} rows); its sessions: ` +
        `${JSON.stringify(sessions)}; the consumer said:\n` +
        `${first.stdout().slice(-3000)}\n${first.stderr().slice(-2000)}`,
    );
    assert.ok(atKill < n, `killed before the end (${atKill} rows)`);
    assert.ok(!cmdline.includes(dc.password), "no password in ps");

    const second = runCli(
      args(q.aggregator.queue.url, ["--health-port", "0", "--concurrency", "2"]),
      env(),
    );
    running.push(second);
    await waitFor(
      async () => (await count(pool, "SELECT COUNT(*) FROM orders")) === n,
      60_000,
      `${n} rows after restart`,
    );
    await waitFor(() => /health endpoint listening/.test(second.stdout()), 5000, "health endpoint");
    const healthUrl = /"url":"(http:[^"]+)"/.exec(second.stdout())![1]!;
    const health = await fetch(healthUrl);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { status: string }).status, "ok");
    const metrics = await (await fetch(healthUrl.replace("/healthz", "/metrics"))).text();
    assert.match(metrics, /^order_relay_dc_applied_total \d+$/m);
    assert.match(metrics, /^order_relay_dc_up 1$/m);
    await waitFor(() => /"message":"status"/.test(second.stdout()), 5000, "a status line");
    await waitFor(
      async () => (await queueDepth(client, q.aggregator.queue.url)).inFlight === 0,
      10_000,
      "drained",
    );
    second.child.kill("SIGTERM");
    const stopped = await second.exit;
    assert.equal(stopped.code, 143, second.stderr());
    assert.match(
      second.stderr(),
      /dc:consume: stopped \(signal\) after [\d.]+ s: \d+ received, \d+ applied/,
    );
    assert.match(second.stdout(), /"message":"DC consumer stopped"/);

    const [rows] = await pool.query<RowDataPacket[]>(
      "SELECT id, item, relay_outbox_id AS v FROM orders ORDER BY id",
    );
    assert.equal(rows.length, n);
    rows.forEach((r, i) =>
      assert.deepEqual({ ...r }, { id: i, item: `item ${i}`, v: String(10 + i) }),
    );
    // Nothing waits unprocessed. A long poll aborted by the stop may still have been answered
    // by the server: those messages are in flight until their visibility timeout and are
    // redeliveries of changes every row above already holds (nothing lost, nothing doubled).
    assert.equal((await queueDepth(client, q.aggregator.queue.url)).visible, 0);
    assert.deepEqual(await queueDepth(client, q.aggregator.dlq.url), { visible: 0, inFlight: 0 });
    for (const r of [first, second]) {
      assert.ok(
        !r.stdout().includes(dc.password) && !r.stderr().includes(dc.password),
        "no password in logs",
      );
      assert.doesNotMatch(r.stdout(), /mysql error/);
    }
    assert.match(second.stdout(), /"passwordFrom":"MYSQL_PASSWORD"/);
  });

  it("a wrong password or an unknown database at start: one clear line, exit 78 (no retry loop)", async () => {
    const client = sqs.client("eu-central-1", { harness: true });
    const q = await createTestQueues(client, freshConfig());
    const wrong = runCli(args(q.aggregator.queue.url), { ...env(), MYSQL_PASSWORD: "wrong" });
    const unknownDb = new URL(dc.url);
    unknownDb.pathname = "/no_such_db";
    const noDb = runCli(
      [
        "--queue-url",
        q.aggregator.queue.url,
        "--region",
        "eu-central-1",
        "--mysql-url",
        unknownDb.toString(),
      ],
      env(),
    );
    const bad = runCli([...args(q.aggregator.queue.url), "--concurrency", "zero"], env());
    running.push(wrong, noDb, bad);
    const [w, d, b] = await Promise.all([wrong.exit, noDb.exit, bad.exit]);
    assert.equal(w.code, 78, wrong.stderr());
    assert.equal(wrong.stderr().trim().split("\n").length, 1, wrong.stderr());
    assert.match(
      wrong.stderr(),
      /^dc:consume: MySQL refused the consumer's login \(ER_ACCESS_DENIED_ERROR\)/,
    );
    assert.doesNotMatch(wrong.stderr(), /wrong/);
    assert.equal(d.code, 78, noDb.stderr());
    // MariaDB answers an unknown database with ER_DBACCESS_DENIED_ERROR to a user without rights on it.
    assert.match(
      noDb.stderr(),
      /^dc:consume: (the DC database named in --mysql-url does not exist|MySQL refused the consumer's login \(ER_DBACCESS_DENIED_ERROR\))/,
    );
    assert.equal(b.code, 2);
    assert.match(
      bad.stderr(),
      /^dc:consume: --concurrency must be a whole number in 1..64, got "zero"/,
    );
  });

  it("an unreachable SQS endpoint is reported as SQS, once, and retried with backoff", async () => {
    const q = await createTestQueues(sqs.client("eu-central-1", { harness: true }), freshConfig());
    captured = captureOutput();
    const c = startDcConsumer({
      client: new SQSClient({
        region: "eu-central-1",
        endpoint: "http://127.0.0.1:1",
        credentials: { accessKeyId: "l", secretAccessKey: "l" },
        maxAttempts: 1,
      }),
      queueUrl: q.aggregator.queue.url,
      pool,
      concurrency: 4,
      waitTimeSeconds: 1,
      statusIntervalMs: 0,
      backoff: { initialMs: 200, maxMs: 2000 },
      logger: createLogger("order-relay-dc-consumer"),
    });
    await new Promise((r) => setTimeout(r, 4000));
    const during = c.status();
    await c.stop();
    assert.notEqual(during.state, "running", "/healthz answers 503 meanwhile");
    assert.match(during.pausedFor ?? "", /^sqs ECONNREFUSED$/);
    const text = captured.text();
    captured.restore();
    const lines = text.split("\n").filter((l) => /"level":"ERROR"/.test(l));
    assert.ok(
      lines.length >= 1 && lines.length <= 2,
      `${lines.length} error lines in 4 s:\n${lines.join("\n")}`,
    );
    assert.match(lines[0]!, /SQS endpoint unreachable \(ECONNREFUSED\)/);
    assert.match(lines[0]!, /"service":"sqs"/);
    assert.doesNotMatch(text, /mysql/i);
    assert.ok(
      c.stats.sqsErrors >= 2 && c.stats.sqsErrors <= 8,
      `backoff: ${c.stats.sqsErrors} attempts in 4 s`,
    );
  });
});
