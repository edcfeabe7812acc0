/**
 * The deployed wiring matches what the handlers expect: each Lambda function the program declares
 * (prod stack, offline engine) runs its own esbuild bundle in a fresh Node process with exactly the
 * environment the program gives it — against a real SQS-protocol server whose queues come from the
 * same specs — and the messages land where the program's wiring says they should.
 */
import * as assert from "assert";
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ReceiveMessageCommand, type Message } from "@aws-sdk/client-sqs";
import { readStackFile, stackFilePath } from "../../config/load";
import { queueSpecs } from "../../config/names";
import { parseConfig } from "../../config/schema";
import { bundleHandler, type HandlerName } from "../../lambda/bundle";
import type { RelayEnvelope } from "../../contract/envelope";
import {
  createQueuesFromSpecs,
  startLocalSqs,
  type CreatedQueues,
  type LocalSqs,
} from "../../emulators/sqs";
import { type OfflineRun, type RecordedResource, runStack } from "../../offline/engine";

/** Runs `handler(event)` of a bundle in a fresh process with the given environment only. */
function invokeBundle(file: string, env: Record<string, string>, event: unknown): Promise<unknown> {
  const script =
    `require(${JSON.stringify(file)}).handler(JSON.parse(process.env.TEST_EVENT))` +
    ".then((r) => process.stdout.write('\\nRESULT ' + JSON.stringify(r ?? null) + '\\n'), (e) => { process.stderr.write(String(e && e.message)); process.exit(1); })";
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--no-warnings", "-e", script],
      { env: { PATH: process.env.PATH ?? "", ...env, TEST_EVENT: JSON.stringify(event) } },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`handler failed: ${stderr || error.message}`));
        else {
          // Logs and EMF metrics share stdout; the result is the line marked RESULT.
          const line = stdout.split("\n").find((l) => l.startsWith("RESULT "));
          if (line === undefined) reject(new Error(`no result in: ${stdout}`));
          else resolve(JSON.parse(line.slice("RESULT ".length)));
        }
      },
    );
  });
}

describe("deployed wiring runs the real handler bundles (prod stack, local SQS)", function () {
  this.timeout(120_000);
  let run: OfflineRun;
  let sqs: LocalSqs;
  let queues: CreatedQueues;
  const bundles = new Map<HandlerName, string>();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wiring-"));

  before(async () => {
    run = await runStack({ stack: "prod" });
    const file = readStackFile(stackFilePath("prod"), "prod");
    sqs = await startLocalSqs();
    queues = await createQueuesFromSpecs(sqs.client(), queueSpecs(parseConfig(file.relay, "prod")));
    for (const handler of ["notify", "forwarder"] as const) {
      const bundle = path.join(dir, `${handler}.js`);
      fs.writeFileSync(bundle, bundleHandler(handler));
      bundles.set(handler, bundle);
    }
  });
  after(async () => {
    await sqs?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The function's declared environment plus what Lambda itself provides. */
  function lambdaEnv(fn: RecordedResource): Record<string, string> {
    return {
      ...(fn.inputs.environment.variables as Record<string, string>),
      AWS_REGION: fn.region!,
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
      AWS_ACCESS_KEY_ID: "local",
      AWS_SECRET_ACCESS_KEY: "local",
    };
  }

  async function receiveAll(url: string, count: number): Promise<Message[]> {
    const messages: Message[] = [];
    const client = sqs.client();
    for (let i = 0; i < 20 && messages.length < count; i++) {
      const r = await client.send(
        new ReceiveMessageCommand({
          QueueUrl: url,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
          AttributeNames: ["All"],
          MessageAttributeNames: ["All"],
        }),
      );
      messages.push(...(r.Messages ?? []));
    }
    return messages;
  }

  const functionOf = (region: string, suffix: string) =>
    run.resources.find(
      (r) =>
        r.type === "aws:lambda/function:Function" &&
        r.region === region &&
        r.inputs.name.endsWith(suffix),
    )!;

  for (const region of ["ap-northeast-1", "us-west-2", "eu-west-1"]) {
    it(`${region}: notify → the queue its env names → forwarder → the aggregator its env names`, async () => {
      const envelope: RelayEnvelope = {
        region,
        records: [
          {
            outboxId: 1,
            table: "order_data",
            op: "SCHEMA" as const,
            occurredAt: "2026-11-23T01:02:03.456Z",
            schema: {
              columns: [
                { name: "id", type: "bigint(20) unsigned", nullable: false },
                { name: "item", type: "varchar(255)", nullable: true },
              ],
              primaryKey: ["id"],
            },
          },
          ...[2, 3].map((n) => ({
            outboxId: n,
            table: "order_data",
            op: "UPSERT" as const,
            key: { id: 100 + n },
            occurredAt: "2026-11-23T01:02:03.456Z",
            row: { id: 100 + n, item: `it's "item" ${n} \\ 日本 🍣` },
          })),
          {
            outboxId: 4,
            table: "order_data",
            op: "DELETE" as const,
            key: { id: 102 },
            occurredAt: "2026-11-23T01:02:04.000Z",
          },
        ],
      };
      const notify = functionOf(region, "-notify");
      const result = (await invokeBundle(bundles.get("notify")!, lambdaEnv(notify), envelope)) as {
        enqueued: number;
      };
      assert.strictEqual(result.enqueued, 4);

      const regional = await receiveAll(queues.regions[region].queue.url, 4);
      const dedupKeys = [1, 2, 3, 4].map((n) => `${region}:${n}`);
      assert.deepStrictEqual(regional.map((m) => JSON.parse(m.Body!).dedupKey).sort(), dedupKeys);

      // The event source mapping delivers the regional queue's messages to the forwarder.
      const mapping = run.resources.find(
        (r) => r.type === "aws:lambda/eventSourceMapping:EventSourceMapping" && r.region === region,
      )!;
      const forwarder = functionOf(region, "-forwarder");
      assert.strictEqual(mapping.inputs.functionName, forwarder.state.arn);
      const event = {
        Records: regional.map((m) => ({
          messageId: m.MessageId,
          receiptHandle: m.ReceiptHandle,
          body: m.Body,
          attributes: m.Attributes ?? {},
          messageAttributes: Object.fromEntries(
            Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [
              k,
              { stringValue: v.StringValue, dataType: v.DataType },
            ]),
          ),
          md5OfBody: m.MD5OfBody,
          eventSource: "aws:sqs",
          eventSourceARN: mapping.inputs.eventSourceArn,
          awsRegion: region,
        })),
      };
      const response = await invokeBundle(bundles.get("forwarder")!, lambdaEnv(forwarder), event);
      assert.deepStrictEqual(response, { batchItemFailures: [] });

      const aggregated = await receiveAll(queues.aggregator.queue.url, 4);
      assert.deepStrictEqual(
        aggregated.map((m) => JSON.parse(m.Body!).dedupKey).sort(),
        dedupKeys,
        "the DELETE right after the row's UPSERT is a change of its own, not a duplicate",
      );
      for (const message of aggregated) {
        const body = JSON.parse(message.Body!);
        const record = envelope.records.find((r) => r.outboxId === body.outboxId)!;
        assert.deepStrictEqual(
          { ...body, region: undefined, dedupKey: undefined, rowKey: undefined },
          { ...record, region: undefined, dedupKey: undefined, rowKey: undefined },
          "values intact through both hops",
        );
        assert.strictEqual(message.Attributes?.MessageDeduplicationId, body.dedupKey);
        assert.strictEqual(message.Attributes?.MessageGroupId, body.rowKey, "FIFO group per row");
      }
    });
  }
});
