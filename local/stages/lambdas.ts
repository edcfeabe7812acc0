/**
 * Stage: the functions. The real notify handler behind the local async-invocation service
 * (which takes the calls `lambda_async` recorded), and the real forwarder behind the event-source
 * stand-in on each regional queue (batch size of the stack, partial batch failures).
 */
import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type mysql from "mysql2/promise";
import type { RelayConfig } from "../../config/schema";
import { OFFLINE_ACCOUNT_ID } from "../../contract/local";
import { SERVICE } from "../../contract/metrics";
import { isHeartbeat, parseEnvelope, toRelayMessage } from "../../contract/envelope";
import { startEventSource } from "../../emulators/sqs";
import { createForwarderHandler } from "../../lambda/forwarder";
import { relayEntry } from "../../lambda/lib/relay";
import type { SqsEvent } from "../../lambda/lib/sqs-event";
import { silentLogger, silentMetrics, silentNotify } from "../../ops/redrive";
import { startLambdaService, type LambdaService } from "../lambdaService";
import type { Cleanup } from "./cleanup";
import type { Dice } from "./faults";
import type { LocalQueues } from "./queues";

/** The ARN of a region's notify function in the local run (the fake offline account). */
export function localNotifyArn(config: RelayConfig, region: string): string {
  return `arn:aws:lambda:${region}:${OFFLINE_ACCOUNT_ID}:function:${config.namePrefix}-${region}-notify`.slice(
    0,
    200,
  );
}

export interface LambdasOptions {
  readonly config: RelayConfig;
  readonly regionPools: Readonly<Record<string, mysql.Pool>>;
  readonly local: LocalQueues;
  readonly dice: Dice;
  /** Delays before Lambda's two async retries. */
  readonly retryDelaysMs: readonly number[];
  /** Concurrent event-source pollers per regional queue. */
  readonly pollersPerQueue: number;
  /** Whether an accepted notify call vanishes (`--drop-after-handoff-rate`). @default - none */
  readonly dropAfterHandoff?: () => boolean;
  /** Benchmarks: the seed design's function instead of notify, and no forwarder. */
  readonly seedDesign: boolean;
}

export interface Lambdas {
  /** notify's async invocations (stats overall and per region). */
  readonly notify: LambdaService;
  readonly forwarderStats: { invocations: number; failures: number };
}

/**
 * The seed article's Lambda (benchmarks only): one SendMessage per record, straight to the one
 * queue the DC reads (here the aggregator queue, with the relay's FIFO ids so dedup still holds).
 */
function seedNotify(
  client: SQSClient,
  queueUrl: string,
  fifo: boolean,
): (payload: unknown) => Promise<unknown> {
  return async (payload: unknown) => {
    // The seed had no heartbeat; the relay's is not an order.
    if (isHeartbeat(payload)) return { enqueued: 0 };
    const envelope = parseEnvelope(payload);
    for (const record of envelope.records) {
      const entry = relayEntry(toRelayMessage(envelope.region, record), { fifo });
      await client.send(new SendMessageCommand({ QueueUrl: queueUrl, ...entry }));
    }
    return { enqueued: envelope.records.length };
  };
}

export function startLambdas(o: LambdasOptions, cleanup: Cleanup): Lambdas {
  const { config, dice } = o;
  const { sqs, queues, aggregatorClient } = o.local;
  const regions = config.regions.map((r) => r.region);

  const notify = startLambdaService({
    retryDelaysMs: o.retryDelaysMs,
    dropAfterHandoff: o.dropAfterHandoff,
    regions: regions.map((region) => {
      const client = sqs.client(region);
      const handler = o.seedDesign
        ? seedNotify(
            sqs.client(config.aggregator.region),
            queues.aggregator.queue.url,
            config.aggregator.fifo,
          )
        : silentNotify(client, queues.regions[region]!.queue.url);
      return {
        region,
        functionArn: localNotifyArn(config, region),
        pool: o.regionPools[region]!,
        client,
        onFailureQueueUrl: queues.regions[region]!.dlq.url,
        invoke: (payload: unknown) => dice("notify", () => handler(payload)),
      };
    }),
  });
  cleanup.defer(() => notify.stop());

  const forwarderStats = { invocations: 0, failures: 0 };
  const pollers = o.seedDesign ? 0 : Math.max(1, o.pollersPerQueue);
  for (const region of regions) {
    const forwarder = createForwarderHandler({
      client: aggregatorClient,
      aggregatorQueueUrl: queues.aggregator.queue.url,
      fifo: config.aggregator.fifo,
      logger: silentLogger(SERVICE.forwarder),
      metrics: silentMetrics(SERVICE.forwarder),
    });
    for (let poller = 0; poller < pollers; poller++) {
      const source = startEventSource({
        client: sqs.client(region),
        queueUrl: queues.regions[region]!.queue.url,
        queueArn: queues.regions[region]!.queue.arn,
        awsRegion: region,
        batchSize: config.forwarder.batchSize,
        waitTimeSeconds: 1,
        handler: async (event: SqsEvent) => {
          forwarderStats.invocations++;
          try {
            return await dice("forwarder", () => forwarder(event));
          } catch (error) {
            forwarderStats.failures++;
            throw error;
          }
        },
      });
      cleanup.defer(() => source.stop());
    }
  }
  return { notify, forwarderStats };
}
