import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPE } from "../contract/componentTypes";
import { QueueSpec } from "../config/names";
import { SQS_CONSUME_ACTIONS, policyDocument } from "./iamDocuments";
import { RelayQueue } from "./relayQueue";

export interface AggregatorArgs {
  /** The aggregator queue and its DLQ (FIFO by default), from `queueSpecs(config).aggregator`. */
  readonly queue: QueueSpec;
  readonly dlq: QueueSpec;
  /** Physical name of the DC consumer role (carries the aggregator region). */
  readonly dcConsumerRoleName: string;
  /**
   * Principals allowed to assume the DC consumer role.
   * @default - the account root, so access is delegated by IAM policies in the account
   */
  readonly dcTrustedPrincipalArns?: readonly string[];
  /** The account the stack deploys into. */
  readonly accountId: pulumi.Input<string>;
  /** `aws`, `aws-cn`, … */
  readonly partition: string;
}

/**
 * The single queue the on-premises DC reads, its DLQ, and the DC consumer role. Senders are
 * admitted later with `admitForwarders`, once the regional forwarder roles exist.
 */
export class Aggregator extends pulumi.ComponentResource {
  public readonly queue: RelayQueue;
  public readonly dcConsumerRole: aws.iam.Role;
  public readonly queueUrl: pulumi.Output<string>;
  public readonly queueArn: pulumi.Output<string>;
  private readonly logicalName: string;

  constructor(name: string, args: AggregatorArgs, opts?: pulumi.ComponentResourceOptions) {
    super(COMPONENT_TYPE.aggregator, name, {}, opts);
    this.logicalName = name;
    const childOpts = { parent: this };

    this.queue = new RelayQueue(
      `${name}-queue`,
      { queue: args.queue, dlq: args.dlq },
      { parent: this },
    );
    this.queueUrl = this.queue.url;
    this.queueArn = this.queue.arn;

    const trusted = args.dcTrustedPrincipalArns?.length
      ? pulumi.output([...args.dcTrustedPrincipalArns])
      : pulumi
          .output(args.accountId)
          .apply((account) => [`arn:${args.partition}:iam::${account}:root`]);
    this.dcConsumerRole = new aws.iam.Role(
      `${name}-dc-consumer-role`,
      {
        name: args.dcConsumerRoleName,
        description: "On-premises DC consumer of the order relay's aggregator queue",
        assumeRolePolicy: policyDocument([
          { Effect: "Allow", Principal: { AWS: trusted }, Action: "sts:AssumeRole" },
        ]),
      },
      childOpts,
    );
    new aws.iam.RolePolicy(
      `${name}-dc-consumer-policy`,
      {
        role: this.dcConsumerRole.name,
        name: "consume-aggregator",
        policy: policyDocument([
          {
            Sid: "ConsumeAggregatorOnly",
            Effect: "Allow",
            Action: SQS_CONSUME_ACTIONS,
            Resource: this.queue.arn,
          },
        ]),
      },
      childOpts,
    );

    this.registerOutputs({
      queueUrl: this.queueUrl,
      queueArn: this.queueArn,
      dcConsumerRoleArn: this.dcConsumerRole.arn,
    });
  }

  /**
   * Lets the DC consumer acknowledge committed changes to each region's ack queue (the queues'
   * own policies admit only this role).
   */
  public admitAckQueues(ackQueueArns: pulumi.Input<string>[]): aws.iam.RolePolicy {
    return new aws.iam.RolePolicy(
      `${this.logicalName}-dc-consumer-acks`,
      {
        role: this.dcConsumerRole.name,
        name: "send-acks",
        policy: policyDocument([
          {
            Sid: "SendAcks",
            Effect: "Allow",
            Action: "sqs:SendMessage",
            Resource: ackQueueArns,
          },
        ]),
      },
      { parent: this },
    );
  }

  /**
   * The aggregator's queue policy: only the given forwarder roles may send (an explicit deny for
   * every other principal), the DC consumer may consume, and nothing without TLS.
   */
  public admitForwarders(forwarderRoleArns: pulumi.Input<string>[]): aws.sqs.QueuePolicy {
    const senders = pulumi.all(forwarderRoleArns);
    return this.queue.setPolicy([
      {
        Sid: "ForwardersSend",
        Effect: "Allow",
        Principal: { AWS: senders },
        Action: ["sqs:SendMessage", "sqs:GetQueueAttributes"],
        Resource: this.queue.arn,
      },
      {
        Sid: "DcConsumerReceives",
        Effect: "Allow",
        Principal: { AWS: this.dcConsumerRole.arn },
        Action: SQS_CONSUME_ACTIONS,
        Resource: this.queue.arn,
      },
      {
        Sid: "OnlyForwardersSend",
        Effect: "Deny",
        Principal: "*",
        Action: "sqs:SendMessage",
        Resource: this.queue.arn,
        Condition: { ArnNotEquals: { "aws:PrincipalArn": senders } },
      },
    ]);
  }
}
