/**
 * Stage: the queues. A local SQS server (local-aws-sqs, FIFO dedup window emulated) with every
 * queue of `queueSpecs(config)`, the source queues' visibility timeout shortened so retries
 * happen within a run.
 */
import { GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { queueSpecs } from "../../config/names";
import type { RelayConfig } from "../../config/schema";
import {
  createQueuesFromSpecs,
  startLocalSqs,
  type CreatedQueues,
  type LocalSqs,
} from "../../emulators/sqs";
import type { Cleanup } from "./cleanup";

export interface QueuesOptions {
  readonly config: RelayConfig;
  /** Visibility timeout of the queues that redrive to a DLQ, seconds. */
  readonly visibilitySeconds: number;
  readonly log: (line: string) => void;
}

export interface LocalQueues {
  readonly sqs: LocalSqs;
  readonly queues: CreatedQueues;
  /** The client of the relay's own calls to the aggregator region. */
  readonly aggregatorClient: SQSClient;
  /** Messages in a queue (visible + in flight) as the harness sees them; 0 when unknown. */
  depth(queueUrl: string): Promise<number>;
}

export async function startQueues(o: QueuesOptions, cleanup: Cleanup): Promise<LocalQueues> {
  const { config } = o;
  const sqs = await startLocalSqs({
    region: config.aggregator.region,
    emulateFifoDedupWindow: true,
  });
  cleanup.defer(() => sqs.close());
  const harness = sqs.client(config.aggregator.region, { harness: true });
  const queues = await createQueuesFromSpecs(harness, queueSpecs(config), (spec) =>
    spec.redrive ? { VisibilityTimeout: String(o.visibilitySeconds) } : undefined,
  );
  o.log(
    `queues: ${[...Object.values(queues.regions).flatMap((q) => [q.queue.name, q.dlq.name]), queues.aggregator.queue.name, queues.aggregator.dlq.name].join(", ")}`,
  );
  return {
    sqs,
    queues,
    aggregatorClient: sqs.client(config.aggregator.region),
    async depth(queueUrl: string) {
      try {
        const a = await harness.send(
          new GetQueueAttributesCommand({
            QueueUrl: queueUrl,
            AttributeNames: [
              "ApproximateNumberOfMessages",
              "ApproximateNumberOfMessagesNotVisible",
            ],
          }),
        );
        return (
          Number(a.Attributes?.ApproximateNumberOfMessages ?? 0) +
          Number(a.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
        );
      } catch {
        return 0;
      }
    },
  };
}
