import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPE } from "../contract/componentTypes";
import { QueueSpec } from "../config/names";
import { PolicyStatement, denyInsecureTransport, policyDocument } from "./iamDocuments";

export interface RelayQueueArgs {
  /** The queue and its dead-letter queue, from `queueSpecs(config)` — the same spec local runs use. */
  readonly queue: QueueSpec;
  readonly dlq: QueueSpec;
}

/** Attribute values from a spec as numbers (the aws.sqs.Queue args are typed). */
function seconds(spec: QueueSpec, attribute: string): number | undefined {
  const value = spec.attributes[attribute];
  return value === undefined ? undefined : Number(value);
}

function queueArgs(spec: QueueSpec): aws.sqs.QueueArgs {
  const a = spec.attributes;
  return {
    name: spec.name,
    fifoQueue: spec.fifo || undefined,
    contentBasedDeduplication: spec.fifo ? a.ContentBasedDeduplication === "true" : undefined,
    deduplicationScope: a.DeduplicationScope,
    fifoThroughputLimit: a.FifoThroughputLimit,
    messageRetentionSeconds: seconds(spec, "MessageRetentionPeriod"),
    visibilityTimeoutSeconds: seconds(spec, "VisibilityTimeout"),
    maxMessageSize: seconds(spec, "MaximumMessageSize"),
    receiveWaitTimeSeconds: seconds(spec, "ReceiveMessageWaitTimeSeconds"),
    sqsManagedSseEnabled: a.SqsManagedSseEnabled === "true",
  };
}

/**
 * An SQS queue with SSE and a redrive policy to its own DLQ (which only it may use), both with
 * TLS-only queue policies. Policies that grant access live with the component that owns the
 * principals (`grantAccess`), because those principals are created later.
 */
export class RelayQueue extends pulumi.ComponentResource {
  public readonly queue: aws.sqs.Queue;
  public readonly deadLetterQueue: aws.sqs.Queue;
  public readonly url: pulumi.Output<string>;
  public readonly arn: pulumi.Output<string>;
  public readonly deadLetterQueueArn: pulumi.Output<string>;
  public readonly deadLetterQueueUrl: pulumi.Output<string>;
  private readonly logicalName: string;

  constructor(name: string, args: RelayQueueArgs, opts?: pulumi.ComponentResourceOptions) {
    super(COMPONENT_TYPE.relayQueue, name, {}, opts);
    this.logicalName = name;
    const childOpts = { parent: this };
    if (!args.queue.redrive || args.queue.redrive.deadLetterQueueName !== args.dlq.name) {
      throw new Error(`${name}: queue ${args.queue.name} must redrive to its DLQ ${args.dlq.name}`);
    }

    this.deadLetterQueue = new aws.sqs.Queue(`${name}-dlq`, queueArgs(args.dlq), childOpts);
    this.queue = new aws.sqs.Queue(
      `${name}-queue`,
      {
        ...queueArgs(args.queue),
        redrivePolicy: this.deadLetterQueue.arn.apply((deadLetterTargetArn) =>
          JSON.stringify({
            deadLetterTargetArn,
            maxReceiveCount: args.queue.redrive?.maxReceiveCount,
          }),
        ),
      },
      childOpts,
    );
    // Only the source queue may move messages into the DLQ.
    new aws.sqs.RedriveAllowPolicy(
      `${name}-dlq-redrive-allow`,
      {
        queueUrl: this.deadLetterQueue.url,
        redriveAllowPolicy: this.queue.arn.apply((arn) =>
          JSON.stringify({ redrivePermission: "byQueue", sourceQueueArns: [arn] }),
        ),
      },
      childOpts,
    );
    new aws.sqs.QueuePolicy(
      `${name}-dlq-policy`,
      {
        queueUrl: this.deadLetterQueue.url,
        policy: policyDocument([denyInsecureTransport(this.deadLetterQueue.arn)]),
      },
      childOpts,
    );

    this.url = this.queue.url;
    this.arn = this.queue.arn;
    this.deadLetterQueueArn = this.deadLetterQueue.arn;
    this.deadLetterQueueUrl = this.deadLetterQueue.url;
    this.registerOutputs({
      url: this.url,
      arn: this.arn,
      deadLetterQueueUrl: this.deadLetterQueueUrl,
      deadLetterQueueArn: this.deadLetterQueueArn,
    });
  }

  /**
   * The queue's policy: TLS only, plus the given statements. Call once, after the principals the
   * statements name exist.
   */
  public setPolicy(statements: readonly PolicyStatement[]): aws.sqs.QueuePolicy {
    return new aws.sqs.QueuePolicy(
      `${this.logicalName}-policy`,
      {
        queueUrl: this.queue.url,
        policy: policyDocument([denyInsecureTransport(this.queue.arn), ...statements]),
      },
      { parent: this },
    );
  }
}
