/**
 * Physical names and queue settings derived from the validated config — pure functions, so the
 * Pulumi program, the local run (`npm start`) and the tests all build the very same queues.
 */
import { RelayConfig, regionalVisibilityTimeoutSeconds } from "./schema";

/** SQS limit on maximumMessageSize: 1 MiB (set explicitly; the old default was 256 KiB). */
export const SQS_MAX_MESSAGE_BYTES = 1024 * 1024;

/** The ack function's timeout: one CALL relay_confirm per batch, a few seconds at most. */
export const ACK_FUNCTION_TIMEOUT_SECONDS = 30;

/** AWS name limits we check in tests and at validation. */
export const NAME_LIMITS = {
  iamRole: 64,
  lambdaFunction: 64,
  sqsQueue: 80,
  rdsClusterIdentifier: 63,
  rdsInstanceIdentifier: 63,
  logGroup: 512,
} as const;

export interface RegionNames {
  readonly clusterIdentifier: string;
  readonly instanceIdentifier: (instanceName: string) => string;
  readonly notifyFunction: string;
  readonly forwarderFunction: string;
  readonly rdsInvokeRole: string;
  readonly notifyRole: string;
  readonly forwarderRole: string;
  readonly queue: string;
  readonly dlq: string;
  /** The acknowledgement path (order-relay:purgeRequires = confirmed). */
  readonly ackQueue: string;
  readonly ackDlq: string;
  readonly ackFunction: string;
  readonly ackRole: string;
}

/** Names carry the region so IAM (global) names never collide between regions. */
export function regionNames(config: RelayConfig, region: string): RegionNames {
  const base = `${config.namePrefix}-${region}`;
  return {
    clusterIdentifier: base,
    instanceIdentifier: (instanceName) => `${base}-${instanceName}`,
    notifyFunction: `${base}-notify`,
    forwarderFunction: `${base}-forwarder`,
    rdsInvokeRole: `${base}-rds-invoke`,
    notifyRole: `${base}-notify`,
    forwarderRole: `${base}-forwarder`,
    queue: `${base}-orders`,
    dlq: `${base}-orders-dlq`,
    ackQueue: `${base}-acks`,
    ackDlq: `${base}-acks-dlq`,
    ackFunction: `${base}-ack`,
    ackRole: `${base}-ack`,
  };
}

export interface AggregatorNames {
  readonly queue: string;
  readonly dlq: string;
  readonly dcConsumerRole: string;
}

export function aggregatorNames(config: RelayConfig): AggregatorNames {
  const suffix = config.aggregator.fifo ? ".fifo" : "";
  return {
    queue: `${config.namePrefix}-aggregator${suffix}`,
    dlq: `${config.namePrefix}-aggregator-dlq${suffix}`,
    dcConsumerRole: `${config.namePrefix}-${config.aggregator.region}-dc-consumer`,
  };
}

/**
 * One queue as both the program (aws.sqs.Queue) and a local SQS server (CreateQueue) build it.
 * `attributes` are SQS API attribute names/values, except the redrive policy, which needs the
 * DLQ's ARN and is described by `redrive`.
 */
export interface QueueSpec {
  readonly name: string;
  readonly fifo: boolean;
  readonly attributes: Readonly<Record<string, string>>;
  readonly redrive?: { readonly deadLetterQueueName: string; readonly maxReceiveCount: number };
}

export interface RelayQueueSpecs {
  readonly regions: Readonly<
    Record<string, { readonly queue: QueueSpec; readonly dlq: QueueSpec }>
  >;
  readonly aggregator: { readonly queue: QueueSpec; readonly dlq: QueueSpec };
  /**
   * Per region, the queue the DC acknowledges committed changes on, and its DLQ; empty unless
   * `purgeRequires` is "confirmed".
   */
  readonly acks: Readonly<Record<string, { readonly queue: QueueSpec; readonly dlq: QueueSpec }>>;
}

function fifoAttributes(config: RelayConfig): Record<string, string> {
  if (!config.aggregator.fifo) return {};
  return {
    FifoQueue: "true",
    // Dedup on our explicit MessageDeduplicationId (`<region>:<table>:<rowId>`), not the body.
    ContentBasedDeduplication: "false",
    ...(config.aggregator.highThroughput
      ? { DeduplicationScope: "messageGroup", FifoThroughputLimit: "perMessageGroupId" }
      : { DeduplicationScope: "queue", FifoThroughputLimit: "perQueue" }),
  };
}

export function queueSpecs(config: RelayConfig): RelayQueueSpecs {
  const regions: Record<string, { queue: QueueSpec; dlq: QueueSpec }> = {};
  for (const { region } of config.regions) {
    const names = regionNames(config, region);
    regions[region] = {
      queue: {
        name: names.queue,
        fifo: false,
        attributes: {
          MessageRetentionPeriod: String(config.queue.messageRetentionSeconds),
          VisibilityTimeout: String(regionalVisibilityTimeoutSeconds(config)),
          MaximumMessageSize: String(SQS_MAX_MESSAGE_BYTES),
          ReceiveMessageWaitTimeSeconds: "20",
          SqsManagedSseEnabled: "true",
        },
        redrive: { deadLetterQueueName: names.dlq, maxReceiveCount: config.queue.maxReceiveCount },
      },
      dlq: {
        name: names.dlq,
        fifo: false,
        attributes: {
          MessageRetentionPeriod: String(config.queue.dlqRetentionSeconds),
          MaximumMessageSize: String(SQS_MAX_MESSAGE_BYTES),
          SqsManagedSseEnabled: "true",
        },
      },
    };
  }
  const acks: Record<string, { queue: QueueSpec; dlq: QueueSpec }> = {};
  if (config.purgeRequires === "confirmed") {
    for (const { region } of config.regions) {
      const names = regionNames(config, region);
      acks[region] = {
        queue: {
          name: names.ackQueue,
          fifo: false,
          attributes: {
            MessageRetentionPeriod: String(config.queue.messageRetentionSeconds),
            VisibilityTimeout: String(ACK_FUNCTION_TIMEOUT_SECONDS * 6),
            MaximumMessageSize: String(SQS_MAX_MESSAGE_BYTES),
            ReceiveMessageWaitTimeSeconds: "20",
            SqsManagedSseEnabled: "true",
          },
          redrive: {
            deadLetterQueueName: names.ackDlq,
            maxReceiveCount: config.queue.maxReceiveCount,
          },
        },
        dlq: {
          name: names.ackDlq,
          fifo: false,
          attributes: {
            MessageRetentionPeriod: String(config.queue.dlqRetentionSeconds),
            MaximumMessageSize: String(SQS_MAX_MESSAGE_BYTES),
            SqsManagedSseEnabled: "true",
          },
        },
      };
    }
  }
  const names = aggregatorNames(config);
  const fifo = fifoAttributes(config);
  return {
    regions,
    acks,
    aggregator: {
      queue: {
        name: names.queue,
        fifo: config.aggregator.fifo,
        attributes: {
          ...fifo,
          MessageRetentionPeriod: String(config.aggregator.messageRetentionSeconds),
          VisibilityTimeout: String(config.aggregator.visibilityTimeoutSeconds),
          MaximumMessageSize: String(SQS_MAX_MESSAGE_BYTES),
          ReceiveMessageWaitTimeSeconds: "20",
          SqsManagedSseEnabled: "true",
        },
        redrive: {
          deadLetterQueueName: names.dlq,
          maxReceiveCount: config.aggregator.maxReceiveCount,
        },
      },
      dlq: {
        name: names.dlq,
        fifo: config.aggregator.fifo,
        attributes: {
          ...fifo,
          MessageRetentionPeriod: String(config.queue.dlqRetentionSeconds),
          MaximumMessageSize: String(SQS_MAX_MESSAGE_BYTES),
          SqsManagedSseEnabled: "true",
        },
      },
    },
  };
}
