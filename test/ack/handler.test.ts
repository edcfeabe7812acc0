/**
 * The ack Lambda's handler on a real MariaDB: one `CALL relay_confirm(<ids JSON>)` per batch, an
 * invalid message fails alone, a database error fails the batch (SQS retries it) and the next
 * batch reconnects; the IAM token is signed offline from the function's credentials.
 *
 * The procedure here is a recorder with relay_confirm's signature, so the handler is tested on
 * its own; the real procedure's effect on the outbox is tested with the SQL (test/sql).
 */
import * as assert from "assert";
import mysql from "mysql2/promise";
import { ackMessages, MAX_ACK_IDS_PER_MESSAGE } from "../../contract/ack";
import { LAMBDA_ENV } from "../../contract/lambdaEnv";
import { SERVICE } from "../../contract/metrics";
import { silentLogger, silentMetrics } from "../../ops/redrive";
import { connectWithIamToken, createAckHandler } from "../../lambda/ack";
import type { SqsEvent } from "../../lambda/lib/sqs-event";
import { createScratchDatabase, type ScratchDatabase } from "../support/mysql";

const silent = () => ({ logger: silentLogger(SERVICE.ack), metrics: silentMetrics(SERVICE.ack) });

function eventOf(bodies: string[]): SqsEvent {
  return {
    Records: bodies.map((body, i) => ({
      messageId: `m${i}`,
      receiptHandle: `r${i}`,
      body,
      attributes: { ApproximateReceiveCount: "1" },
      messageAttributes: {},
      md5OfBody: "",
      eventSource: "aws:sqs",
      eventSourceARN: "arn:aws:sqs:ap-northeast-1:123456789012:acks",
      awsRegion: "ap-northeast-1",
    })),
  };
}

const ack = (ids: number[]) =>
  JSON.stringify(ackMessages("ap-northeast-1", ids, new Date("2026-12-01T00:00:00Z"))[0]);

describe("ack handler (real MariaDB)", () => {
  let db: ScratchDatabase;
  let connections = 0;
  const connect = async () => {
    connections++;
    return mysql.createConnection({ uri: db.url });
  };

  before(async () => {
    db = await createScratchDatabase("ack_handler");
    const admin = await mysql.createConnection({ uri: db.url, multipleStatements: true });
    await admin.query(`
      CREATE TABLE confirm_calls (id INT AUTO_INCREMENT PRIMARY KEY, ids JSON NOT NULL);
      CREATE TABLE confirm_fails (fail TINYINT NOT NULL);
      INSERT INTO confirm_fails VALUES (0);
      CREATE PROCEDURE relay_confirm(IN p_ids JSON)
      BEGIN
        IF (SELECT fail FROM confirm_fails) = 1 THEN
          SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected failure';
        END IF;
        INSERT INTO confirm_calls (ids) VALUES (p_ids);
      END;`);
    await admin.end();
  });
  after(() => db.drop());

  const calls = async () => {
    const c = await mysql.createConnection({ uri: db.url });
    try {
      const [rows] = await c.query<mysql.RowDataPacket[]>(
        "SELECT ids FROM confirm_calls ORDER BY id",
      );
      return rows.map((r) => (typeof r.ids === "string" ? JSON.parse(r.ids) : r.ids) as number[]);
    } finally {
      await c.end();
    }
  };
  const setFailing = async (fail: boolean) => {
    const c = await mysql.createConnection({ uri: db.url });
    await c.query("UPDATE confirm_fails SET fail = ?", [fail ? 1 : 0]);
    await c.end();
  };

  it("confirms every id of a batch in one CALL; an invalid message fails alone", async () => {
    const handler = createAckHandler({ connect, ...silent() });
    const response = await handler(
      eventOf([
        ack([3, 1, 2]),
        "not json",
        ack([7]),
        JSON.stringify({ region: "x", outboxIds: [] }),
      ]),
    );
    assert.deepStrictEqual(response.batchItemFailures.map((f) => f.itemIdentifier).sort(), [
      "m1",
      "m3",
    ]);
    assert.deepStrictEqual(await calls(), [[1, 2, 3, 7]]);
  });

  it("fails the whole batch on a database error, then reconnects and confirms", async () => {
    const before = connections;
    const handler = createAckHandler({ connect, ...silent() });
    await setFailing(true);
    const failed = await handler(eventOf([ack([10]), ack([11])]));
    assert.deepStrictEqual(
      failed.batchItemFailures.map((f) => f.itemIdentifier),
      ["m0", "m1"],
    );
    await setFailing(false);
    const retried = await handler(eventOf([ack([10]), ack([11])]));
    assert.deepStrictEqual(retried.batchItemFailures, []);
    assert.deepStrictEqual((await calls()).at(-1), [10, 11]);
    assert.strictEqual(connections - before, 2, "the broken connection was replaced once");
  });

  it("splits a region's ids into messages of at most MAX_ACK_IDS_PER_MESSAGE, deduplicated", () => {
    const ids = Array.from({ length: MAX_ACK_IDS_PER_MESSAGE * 2 + 5 }, (_, i) => i + 1);
    const messages = ackMessages("eu-west-1", [...ids, 1, 2, 3], new Date());
    assert.deepStrictEqual(
      messages.map((m) => m.outboxIds.length),
      [MAX_ACK_IDS_PER_MESSAGE, MAX_ACK_IDS_PER_MESSAGE, 5],
    );
    assert.ok(messages.every((m) => Buffer.byteLength(JSON.stringify(m)) < 256 * 1024));
  });

  it("signs an IAM database auth token offline for the configured user, and never a password", async () => {
    const env = {
      [LAMBDA_ENV.ackDbEndpoint]: "127.0.0.1:1",
      [LAMBDA_ENV.ackDbName]: "storefront",
      [LAMBDA_ENV.ackDbUser]: "relay_ack",
      AWS_REGION: "ap-northeast-1",
      AWS_ACCESS_KEY_ID: "AKIAEXAMPLEEXAMPLE12",
      AWS_SECRET_ACCESS_KEY: "example/secret/key/example/secret/key1234",
    };
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      // Port 1 refuses the connection: what matters is what was signed and sent.
      await assert.rejects(connectWithIamToken(env), /ECONNREFUSED|connect/);
    } finally {
      process.env = saved;
    }
    const { Signer } = await import("@aws-sdk/rds-signer");
    const token = await new Signer({
      hostname: "127.0.0.1",
      port: 1,
      username: "relay_ack",
      region: "ap-northeast-1",
      credentials: {
        accessKeyId: env.AWS_ACCESS_KEY_ID,
        secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      },
    }).getAuthToken();
    assert.match(token, /^127\.0\.0\.1:1\/\?Action=connect&DBUser=relay_ack&X-Amz-/);
    assert.match(token, /X-Amz-Expires=900/);
    await assert.rejects(
      connectWithIamToken({ ...env, [LAMBDA_ENV.ackDbEndpoint]: "nohost" }),
      /host:port/,
    );
  });
});
