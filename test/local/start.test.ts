/**
 * `npm start` end to end: the real SQL relay, notify, forwarder and DC consumer, on the shared
 * test MariaDB (own databases per run; the runner drives relay_dispatch() every second because
 * the shared server runs with event_scheduler OFF) — except the DB-restart run, which needs its
 * own server (event_scheduler ON). One short run per fault kind on the storefront schema (orders
 * keyed by UUID, addresses by (order_ref, kind) with a foreign key; inserts, updates, deletes):
 * 0 lost, every DC mirror row equal to the source's latest state (tombstones for deleted rows).
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as path from "path";
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { readStackFile, stackFilePath } from "../../config/load";
import { queueSpecs } from "../../config/names";
import { parseConfig, type RelayConfig } from "../../config/schema";
import { startLambdaService, isInvocationRecord } from "../../local/lambdaService";
import { runRelay, type RunReport } from "../../local/runner";
import { formatSummary } from "../../local/report";
import { parseStartCommandLine } from "../../local/start";
import { createQueuesFromSpecs, startLocalSqs } from "../../emulators/sqs";
import { redrive, silentNotify } from "../../ops/redrive";
import { createScratchDatabase, serverUrl } from "../support/mysql";
import { migrate } from "../../sql/migrate";
import mysql from "mysql2/promise";

const stack = (name: string): RelayConfig => {
  const file = readStackFile(stackFilePath(name), name);
  return parseConfig(file.relay, file.stack);
};

function assertClean(report: RunReport): void {
  const s = report.summary;
  assert.equal(report.completed, true, `run did not complete: ${JSON.stringify(report.missing)}`);
  assert.equal(s.lost, 0);
  assert.equal(s.pending, 0);
  assert.equal(s.duplicatesAtDc, 0);
  assert.equal(s.delivered, s.inserted);
  assert.ok(s.inserted > 0);
  assert.ok(s.rowsCompared > s.inserted, "orders and their addresses");
  assert.equal(s.rowsEqual, s.rowsCompared, JSON.stringify(s.firstMismatches));
  assert.equal(s.mismatches, 0);
  assert.equal(s.missingAtDc, 0);
  assert.equal(s.extraAtDc, 0);
  for (const [queue, depth] of Object.entries(report.details.dlqAtEnd)) {
    assert.equal(depth, 0, `${queue} not empty at the end`);
  }
}

describe("npm start: the whole relay locally, with faults", function () {
  this.timeout(150_000);
  this.slow(10_000);

  it("parses the CLI flags (--x v and --x=v, MYSQL_URL) and rejects bad ones", () => {
    const parse = (argv: string[], env: NodeJS.ProcessEnv = {}) => parseStartCommandLine(argv, env);
    const args = parse(["--stack=prod", "--orders", "10", "--fail-rate=0.2", "--json"]);
    assert.equal(args.stack, "prod");
    assert.equal(args.orders, 10);
    assert.equal(args.failRate, 0.2);
    assert.equal(args.json, true);
    assert.equal(args.redrive, true);
    assert.equal(parse(["--no-redrive"]).redrive, false);
    assert.equal(parse([], { MYSQL_URL: "mysql://u@h:3306/" }).mysqlUrl, "mysql://u@h:3306/");
    assert.equal(
      parse(["--mysql-url", "mysql://a@b/"], { MYSQL_URL: "mysql://u@h/" }).mysqlUrl,
      "mysql://a@b/",
    );
    assert.throws(() => parse(["--fail-rate", "2"]), /--fail-rate must be in 0\.\.1, got 2/);
    assert.throws(() => parse(["--orders", "x"]), /--orders must be a whole number ≥ 1, got "x"/);
    assert.throws(() => parse(["--rate", "0"]), /--rate must be > 0/);
    assert.throws(() => parse(["--retention-seconds", "-1"]), /--retention-seconds must be ≥ 0/);
    assert.throws(() => parse(["--bogus"]), /unknown option --bogus/);
    assert.throws(() => parse(["--mysql-url", "notaurl"]), /must look like mysql:\/\//);
    assert.throws(() => parse([], { MYSQL_URL: "x" }), /MYSQL_URL \(for --mysql-url\)/);
    assert.throws(
      () => parse(["--restart-db-at-seconds", "1"], { MYSQL_URL: "mysql://u@h/" }),
      /needs the runner's own MariaDB: drop MYSQL_URL/,
    );
    const faults = parse([
      "--drop-after-handoff-rate",
      "0.2",
      "--ack-outage-seconds=5",
      "--resend-after-seconds",
      "3",
    ]);
    assert.equal(faults.dropAfterHandoffRate, 0.2);
    assert.equal(faults.ackOutageSeconds, 5);
    assert.equal(faults.resendAfterSeconds, 3);
    assert.throws(
      () => parse(["--drop-after-handoff-rate", "1.5"]),
      /--drop-after-handoff-rate must be in 0\.\.1, got 1\.5/,
    );
    assert.throws(
      () => parse(["--ack-outage-seconds", "x"]),
      /--ack-outage-seconds must be a number/,
    );
    assert.throws(() => parse(["--resend-after-seconds", "0"]), /--resend-after-seconds must be/);
    assert.throws(() => parse(["--drop-after-handoff"]), /did you mean --drop-after-handoff-rate/);
  });

  it("plain run via the CLI: --json prints one object, exit 0, nothing lost", () => {
    const result = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        path.join(__dirname, "..", "..", "local", "start.ts"),
        "--orders",
        "60",
        "--rate",
        "60",
        "--json",
        "--mysql-url",
        serverUrl(),
      ],
      { encoding: "utf8", timeout: 120_000 },
    );
    assert.equal(result.status, 0, result.stderr);
    const lines = result.stdout.trim().split("\n");
    assert.equal(lines.length, 1, `stdout must be one JSON line, got:\n${result.stdout}`);
    const summary = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.deepEqual(Object.keys(summary).sort(), [
      "confirmed",
      "delivered",
      "duplicatesAtDc",
      "extraAtDc",
      "firstMismatches",
      "inserted",
      "lambdaInvocationsPerOrder",
      "latencyMs",
      "lost",
      "mismatches",
      "missingAtDc",
      "orderRowsLeft",
      "ordersPerSecond",
      "pending",
      "purged",
      "purgedBeforeDelivery",
      "resent",
      "rowsCompared",
      "rowsEqual",
      "sqsCallsPerOrder",
      "tables",
      "unconfirmedOverdue",
      "writes",
    ]);
    assert.equal(summary.inserted, 60);
    // Every order and its two addresses, compared row by row with the source.
    assert.equal(summary.rowsCompared, 180);
    assert.equal(summary.rowsEqual, 180);
    assert.equal(summary.mismatches, 0);
    assert.deepEqual(summary.tables, {
      sf_orders: { compared: 60, equal: 60 },
      sf_address: { compared: 120, equal: 120 },
    });
    const writes = summary.writes as { updates: number; deletes: number };
    assert.ok(writes.updates > 60 && writes.deletes > 0, JSON.stringify(writes));
    assert.equal(summary.delivered, 60);
    assert.equal(summary.lost, 0);
    assert.equal(summary.duplicatesAtDc, 0);
    const latency = summary.latencyMs as { p50: number; p95: number; p99: number };
    assert.ok(latency.p50 > 0 && latency.p50 <= latency.p95 && latency.p95 <= latency.p99);
  });

  it("a run that times out with rows still in the outbox reports them pending, not lost", async () => {
    const report = await runRelay({
      config: stack("dev"),
      orders: 20,
      rate: 40,
      lambdaOutageSeconds: 120, // every lambda_async fails: nothing leaves the outbox
      faultAtSeconds: 0,
      timeoutSeconds: 3,
      mysqlUrl: serverUrl(),
    });
    assert.equal(report.completed, false);
    assert.equal(report.interrupted, false);
    const s = report.summary;
    assert.equal(s.inserted, 20);
    assert.equal(s.delivered, 0);
    assert.equal(s.lost, 0, "rows in the outbox are not lost");
    assert.equal(s.pending, 20);
    assert.equal(report.missing[0]!.inOutbox, 20);
    const text = formatSummary(report);
    assert.match(
      text,
      /^TIMED OUT after \d+\.\d s — 20 order\(s\) not at the DC yet: 20 still in the relay \(20 in the outbox\), 0 lost/,
    );
    // The outbox holds every change of those orders (inserts, updates, deletes): at least 20.
    assert.match(text, /: 20 still in the outbox; where: outboxNotHandedOff=\d{2,}/);
    assert.doesNotMatch(text, /lost \(nowhere/);
  });

  it("--fail-rate 0.3 on the 3-region prod stack: notify and forwarder throw, 0 lost, 0 duplicates", async () => {
    const report = await runRelay({
      config: stack("prod"),
      orders: 100,
      rate: 150,
      failRate: 0.3,
      seed: 3,
      // A failed forwarder batch comes back after the visibility timeout: 2 s rather than the
      // runner's 3 keeps three failures in a row within seconds.
      visibilityTimeoutSeconds: 2,
      // Three regions' inserts, updates and deletes through failing Lambdas, dispatch driven by
      // the runner on the shared server: more than the default minute.
      timeoutSeconds: 120,
      mysqlUrl: serverUrl(),
    });
    assertClean(report);
    assert.ok(report.details.forwarder.failures > 0, "the forwarder must have failed sometimes");
    assert.equal(report.details.regions.length, 3);
  });

  it("--lambda-outage-seconds: lambda_async fails, rows wait in the outbox, then all arrive", async () => {
    const report = await runRelay({
      config: stack("dev"),
      orders: 60,
      rate: 60,
      lambdaOutageSeconds: 2,
      faultAtSeconds: 0,
      mysqlUrl: serverUrl(),
    });
    assertClean(report);
    // Orders inserted during the outage waited at least until it ended.
    assert.ok(report.summary.latencyMs.p99 >= 1000, `p99 ${report.summary.latencyMs.p99}`);
  });

  it("--aggregator-outage-seconds: the forwarder's sends fail, messages are retried, all arrive once", async () => {
    const report = await runRelay({
      config: stack("dev"),
      orders: 60,
      rate: 60,
      aggregatorOutageSeconds: 3,
      faultAtSeconds: 0,
      mysqlUrl: serverUrl(),
    });
    assertClean(report);
    assert.ok(report.summary.latencyMs.p50 >= 1000, `p50 ${report.summary.latencyMs.p50}`);
  });

  it("--retention-seconds: the purge removes delivered rows after the shortened retention", async () => {
    const report = await runRelay({
      config: stack("dev"),
      orders: 40,
      rate: 80,
      retentionSeconds: 1,
      mysqlUrl: serverUrl(),
    });
    assertClean(report);
    // The orders left after the load's deletes, and their addresses, children first.
    const kept = 40 - report.summary.writes.deletes;
    assert.ok(report.summary.purged >= kept, `purged ${report.summary.purged} of ${kept} orders`);
    assert.equal(report.details.orderDataLeft, 0);
  });

  it("--drop-after-handoff-rate: vanished batches are resent and arrive once; nothing undelivered is purged", async () => {
    const report = await runRelay({
      // Batches of 10 changes: enough calls that some are dropped whatever the timing.
      config: { ...stack("dev"), dispatchBatchSize: 10 },
      orders: 60,
      rate: 60,
      dropAfterHandoffRate: 0.3,
      resendAfterSeconds: 2,
      retentionSeconds: 1,
      mysqlUrl: serverUrl(),
    });
    assertClean(report);
    const s = report.summary;
    assert.ok(report.details.notify.dropped > 0, "some handed-off batches vanished");
    assert.ok(s.resent > 0, "what vanished was dispatched again");
    assert.equal(s.purgedBeforeDelivery, 0);
    assert.equal(s.unconfirmedOverdue, 0);
    // Every order the load did not delete is purged, its addresses with it.
    assert.equal(s.purged, 60 - s.writes.deletes);
    assert.equal(s.orderRowsLeft, 0);
    assert.ok(s.confirmed > 0);
    assert.ok(report.details.acks!.invocations > 0);
  });

  it("--ack-outage-seconds: acknowledgements wait, purging waits, nothing is lost", async () => {
    const started = Date.now();
    const report = await runRelay({
      config: stack("dev"),
      orders: 40,
      rate: 80,
      ackOutageSeconds: 5,
      faultAtSeconds: 0,
      retentionSeconds: 1,
      mysqlUrl: serverUrl(),
    });
    assertClean(report);
    const s = report.summary;
    assert.equal(s.purgedBeforeDelivery, 0);
    assert.equal(s.orderRowsLeft, 0);
    assert.equal(s.purged, 40 - s.writes.deletes);
    // The DC kept trying: more ack sends than one per region and flush, and the purge (which
    // needs the acknowledgements) could only finish once the outage was over.
    assert.ok((report.details.acks!.sqsCalls.SendMessageBatch ?? 0) > 3);
    assert.ok(Date.now() - started >= 5000, "the run ended before the ack outage did");
  });

  it("purgeRequires handedOff: no ack path, and a vanished batch is lost (the first release's behaviour)", async () => {
    const report = await runRelay({
      // Batches of 10 changes: a dozen or more calls to drop from, not the two or three a run of
      // 40 orders makes at the stack's batch size (one of which may carry every order's last change).
      config: { ...stack("dev"), purgeRequires: "handedOff", dispatchBatchSize: 10 },
      orders: 40,
      rate: 80,
      dropAfterHandoffRate: 0.5,
      retentionSeconds: 1,
      // A bound only: the run ends once nothing is left that could still reach the DC.
      timeoutSeconds: 40,
      mysqlUrl: serverUrl(),
    });
    const s = report.summary;
    assert.equal(report.details.acks, undefined);
    // Ended because everything was purged, not on the timeout: every order arrived in some state
    // (completed), or nothing left could bring the missing ones (settled).
    assert.ok(report.settled || report.completed, `ended after ${report.durationMs} ms`);
    // Handed off was enough: orders whose latest change the DC never had were purged from their
    // region (a dropped batch may carry an order's first change or its last).
    assert.ok(s.purgedBeforeDelivery > 0, `purged before delivery ${s.purgedBeforeDelivery}`);
    assert.equal(s.confirmed, 0);
    assert.equal(s.resent, 0);
    assert.ok(report.details.notify.dropped > 0);
    // What vanished never reached the DC: orders missing there, or held in an older state.
    assert.ok(
      s.lost > 0 || s.rowsEqual < s.rowsCompared,
      `lost ${s.lost}, rows equal ${s.rowsEqual}/${s.rowsCompared}`,
    );
  });

  it("--restart-db-at-seconds: MariaDB stops and starts mid-run (own server, events on)", async () => {
    const report = await runRelay({
      config: stack("dev"),
      orders: 80,
      rate: 40,
      restartDbAtSeconds: 1,
    });
    assertClean(report);
    assert.equal(report.details.dbRestarted, true);
    assert.equal(report.details.eventsDrivenBy, "event_scheduler");
  });

  it("notify failing 3 times goes to the on-failure DLQ as an AWS-like record; redrive re-invokes it", async () => {
    const config = stack("dev");
    const region = config.regions[0]!.region;
    const db = await createScratchDatabase("local_lambda");
    const sqs = await startLocalSqs();
    const pool = mysql.createPool({ uri: db.url, connectionLimit: 2 });
    try {
      await migrate({
        url: db.url,
        settings: {
          region,
          functionArn: `arn:aws:lambda:${region}:123456789012:function:notify`,
          retentionHours: config.retentionHours,
          dispatchBatchSize: config.dispatchBatchSize,
          purgeIntervalMinutes: config.purgeIntervalMinutes,
        },
        localLambda: true,
      });
      const client = sqs.client(region);
      const queues = await createQueuesFromSpecs(client, queueSpecs(config));
      const { queue, dlq } = queues.regions[region]!;
      let calls = 0;
      const service = startLambdaService({
        retryDelaysMs: [10, 10],
        pollIntervalMs: 20,
        regions: [
          {
            region,
            functionArn: `arn:aws:lambda:${region}:123456789012:function:notify`,
            pool,
            client,
            onFailureQueueUrl: dlq.url,
            invoke: async () => {
              calls++;
              throw new Error("boom");
            },
          },
        ],
      });
      await pool.query("INSERT INTO order_data (item) VALUES ('a'), ('b')");
      await pool.query("CALL relay_dispatch()");
      const deadline = Date.now() + 10_000;
      while (service.stats.toOnFailure < 1 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      await service.stop();
      assert.equal(calls, 3, "one invocation and two retries");
      assert.equal(service.stats.toOnFailure, 1);
      const [left] = await pool.query<mysql.RowDataPacket[]>(
        "SELECT COUNT(*) AS n FROM lambda_invocations",
      );
      assert.equal(Number(left[0]!.n), 0, "recorded calls are taken off the table");

      const peek = await client.send(
        new ReceiveMessageCommand({ QueueUrl: dlq.url, VisibilityTimeout: 0 }),
      );
      const record = JSON.parse(peek.Messages![0]!.Body!) as unknown;
      assert.ok(isInvocationRecord(record));
      assert.equal(record.requestContext.approximateInvokeCount, 3);
      assert.equal(record.responsePayload.errorMessage, "boom");

      const result = await redrive({
        client,
        dlqUrl: dlq.url,
        targetUrl: queue.url,
        invokeNotify: silentNotify(client, queue.url),
      });
      assert.deepEqual(result, { moved: 0, reinvoked: 1, failed: 0 });
      const moved = await client.send(
        new ReceiveMessageCommand({
          QueueUrl: queue.url,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
        }),
      );
      assert.deepEqual(
        (moved.Messages ?? [])
          .map((m) => JSON.parse(m.Body!) as { op: string; row?: { item: string } })
          // Envelope v2: the table's SCHEMA record travels first, then the rows.
          .filter((m) => m.op === "UPSERT")
          .map((m) => m.row!.item)
          .sort(),
        ["a", "b"],
      );
    } finally {
      await pool.end();
      await sqs.close();
      await db.drop();
    }
  });
});
