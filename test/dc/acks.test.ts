/**
 * The DC's acknowledgements on a real SQS-protocol server: committed changes' ids are collected
 * per region and sent to that region's ack queue, thousands per message; a failed send keeps them
 * for the next flush; a region without an ack queue is counted, never guessed.
 */
import * as assert from "assert";
import { CreateQueueCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { MAX_ACK_IDS_PER_MESSAGE, parseAckMessage } from "../../contract/ack";
import { toRelayMessage, type RelayMessage } from "../../contract/envelope";
import { SERVICE } from "../../contract/metrics";
import { createAckSender, parseAckQueueUrls } from "../../dc/acks";
import { startLocalSqs, type LocalSqs } from "../../emulators/sqs";
import { silentLogger } from "../../ops/redrive";

const change = (region: string, outboxId: number): RelayMessage =>
  toRelayMessage(region, {
    outboxId,
    table: "ps_orders",
    op: "DELETE",
    key: { id_order: outboxId },
    occurredAt: "2026-12-01T00:00:00.000Z",
  });

describe("DC acknowledgements (local SQS)", () => {
  let sqs: LocalSqs;
  before(async () => {
    sqs = await startLocalSqs();
  });
  after(() => sqs.close());

  const queue = async (name: string) =>
    (await sqs.client().send(new CreateQueueCommand({ QueueName: name }))).QueueUrl!;
  const drain = async (url: string) => {
    const bodies: string[] = [];
    for (;;) {
      const { Messages } = await sqs
        .client()
        .send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10 }));
      if (!Messages?.length) return bodies;
      bodies.push(...Messages.map((m) => m.Body!));
    }
  };

  it("sends each region's ids to its own queue, many per message, in few calls", async () => {
    const tokyo = await queue("acks-tokyo");
    const oregon = await queue("acks-oregon");
    const sender = createAckSender({
      queueUrls: { "ap-northeast-1": tokyo, "us-west-2": oregon },
      clientFor: () => sqs.client(),
      flushIntervalMs: 60_000,
      logger: silentLogger(SERVICE.dcConsumer),
    });
    const ids = Array.from({ length: MAX_ACK_IDS_PER_MESSAGE + 10 }, (_, i) => i + 1);
    await sender.add(ids.map((id) => change("ap-northeast-1", id)));
    await sender.add([change("us-west-2", 7), change("us-west-2", 7), change("eu-west-1", 3)]);
    await sender.stop();
    const atTokyo = (await drain(tokyo)).map(parseAckMessage);
    assert.deepStrictEqual(
      atTokyo.flatMap((m) => m.outboxIds).sort((a, b) => a - b),
      ids,
    );
    assert.ok(atTokyo.every((m) => m.region === "ap-northeast-1"));
    const atOregon = (await drain(oregon)).map(parseAckMessage);
    assert.deepStrictEqual(
      atOregon.map((m) => m.outboxIds),
      [[7]],
    );
    assert.strictEqual(sender.stats.acknowledged, ids.length + 1);
    assert.strictEqual(sender.stats.unrouted, 1, "eu-west-1 has no ack queue");
    // 5,011 ids of one region and 1 of another: 3 calls, not one per order.
    assert.ok(sender.stats.calls <= 3, `${sender.stats.calls} calls`);
  });

  it("keeps the ids of a failed send and delivers them on the next flush", async () => {
    const url = await queue("acks-flaky");
    let fail = true;
    const client = sqs.client();
    const sender = createAckSender({
      queueUrls: { "ap-northeast-1": url },
      clientFor: () =>
        ({
          send: (command: unknown) =>
            fail ? Promise.reject(new Error("endpoint down")) : client.send(command as never),
        }) as unknown as typeof client,
      flushIntervalMs: 60_000,
      logger: silentLogger(SERVICE.dcConsumer),
    });
    await sender.add([change("ap-northeast-1", 41), change("ap-northeast-1", 42)]);
    await sender.flush();
    assert.strictEqual(sender.stats.failures, 1);
    assert.deepStrictEqual(await drain(url), []);
    fail = false;
    await sender.stop();
    assert.deepStrictEqual((await drain(url)).map(parseAckMessage)[0].outboxIds, [41, 42]);
  });

  it("reads --ack-queue-urls, naming what is wrong", () => {
    assert.deepStrictEqual(parseAckQueueUrls('{"eu-west-1": "https://sqs/acks"}'), {
      "eu-west-1": "https://sqs/acks",
    });
    assert.throws(() => parseAckQueueUrls("nope"), /not JSON/);
    assert.throws(() => parseAckQueueUrls("[]"), /must be an object/);
    assert.throws(() => parseAckQueueUrls('{"eu-west-1": 3}'), /"eu-west-1" must map to an http/);
  });
});
