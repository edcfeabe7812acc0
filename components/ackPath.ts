import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPE } from "../contract/componentTypes";
import { LAMBDA_ENV } from "../contract/lambdaEnv";
import { SERVICE } from "../contract/metrics";
import { ACK_FUNCTION_TIMEOUT_SECONDS, QueueSpec } from "../config/names";
import { SQS_CONSUME_ACTIONS } from "./iamDocuments";
import { RelayFunction, powertoolsEnv } from "./relayFunction";
import { RelayQueue } from "./relayQueue";

export interface AckPathArgs {
  readonly region: string;
  /** The ack queue and its DLQ (`queueSpecs(config).acks[region]`). */
  readonly queue: QueueSpec;
  readonly dlq: QueueSpec;
  readonly functionName: string;
  readonly roleName: string;
  /** The DC consumer's role: the only principal that may send acknowledgements. */
  readonly dcConsumerRoleArn: pulumi.Input<string>;
  /** Where the function runs: the region's private subnets, beside the cluster. */
  readonly vpcId: pulumi.Input<string>;
  readonly subnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /** The cluster's security group: the function gets MySQL in, nothing else. */
  readonly dbSecurityGroupId: pulumi.Input<string>;
  /** `host:port` of the cluster's writer. */
  readonly dbEndpoint: pulumi.Input<string>;
  readonly databaseName: string;
  /** The MySQL user with IAM authentication (`RelayDatabaseArgs.ackUser`). */
  readonly dbUser: string;
  /** The cluster's resource id (`cluster-…`), for the rds-db:connect ARN. */
  readonly clusterResourceId: pulumi.Input<string>;
  readonly accountId: pulumi.Input<string>;
  readonly partition: string;
  readonly memoryMb: number;
  readonly logRetentionDays: number;
}

/**
 * The region's end of the acknowledgement path: a queue only the DC consumer may send to, and the
 * ack Lambda in the VPC that marks the acknowledged outbox rows confirmed over IAM database
 * authentication. Its one network path is MySQL to the cluster: the event source mapping polls
 * SQS on the function's behalf and the token is signed locally, so it needs no NAT and no
 * endpoint.
 */
export class AckPath extends pulumi.ComponentResource {
  public readonly queue: RelayQueue;
  public readonly function: RelayFunction;
  public readonly queueUrl: pulumi.Output<string>;
  public readonly queueArn: pulumi.Output<string>;

  constructor(name: string, args: AckPathArgs, opts?: pulumi.ComponentResourceOptions) {
    super(COMPONENT_TYPE.ackPath, name, {}, opts);
    const childOpts = { parent: this };

    this.queue = new RelayQueue(`${name}-queue`, { queue: args.queue, dlq: args.dlq }, childOpts);
    this.queue.setPolicy([
      {
        Sid: "DcConsumerSends",
        Effect: "Allow",
        Principal: { AWS: args.dcConsumerRoleArn },
        Action: ["sqs:SendMessage", "sqs:GetQueueAttributes"],
        Resource: this.queue.arn,
      },
      {
        Sid: "OnlyDcConsumerSends",
        Effect: "Deny",
        Principal: "*",
        Action: "sqs:SendMessage",
        Resource: this.queue.arn,
        Condition: { ArnNotEquals: { "aws:PrincipalArn": args.dcConsumerRoleArn } },
      },
    ]);

    const securityGroup = new aws.ec2.SecurityGroup(
      `${name}-sg`,
      {
        vpcId: args.vpcId,
        description: "order relay ack Lambda: MySQL to the cluster only",
        tags: { Name: `${name}` },
      },
      childOpts,
    );
    new aws.vpc.SecurityGroupEgressRule(
      `${name}-out-mysql`,
      {
        securityGroupId: securityGroup.id,
        description: "MySQL to the relay's cluster (relay_confirm)",
        ipProtocol: "tcp",
        fromPort: 3306,
        toPort: 3306,
        referencedSecurityGroupId: args.dbSecurityGroupId,
      },
      childOpts,
    );
    new aws.vpc.SecurityGroupIngressRule(
      `${name}-db-in`,
      {
        securityGroupId: args.dbSecurityGroupId,
        description: "MySQL from the ack Lambda",
        ipProtocol: "tcp",
        fromPort: 3306,
        toPort: 3306,
        referencedSecurityGroupId: securityGroup.id,
      },
      childOpts,
    );

    const dbUserArn = pulumi.interpolate`arn:${args.partition}:rds-db:${args.region}:${args.accountId}:dbuser:${args.clusterResourceId}/${args.dbUser}`;
    this.function = new RelayFunction(
      `${name}-function`,
      {
        handler: "ack",
        functionName: args.functionName,
        roleName: args.roleName,
        statements: [
          {
            Sid: "ConsumeAckQueue",
            Effect: "Allow",
            Action: SQS_CONSUME_ACTIONS,
            Resource: this.queue.arn,
          },
          {
            Sid: "ConnectAsAckUserOnly",
            Effect: "Allow",
            Action: "rds-db:connect",
            Resource: dbUserArn,
          },
        ],
        environment: {
          [LAMBDA_ENV.ackDbEndpoint]: args.dbEndpoint,
          [LAMBDA_ENV.ackDbName]: args.databaseName,
          [LAMBDA_ENV.ackDbUser]: args.dbUser,
          ...powertoolsEnv(SERVICE.ack),
        },
        timeoutSeconds: ACK_FUNCTION_TIMEOUT_SECONDS,
        memoryMb: args.memoryMb,
        logRetentionDays: args.logRetentionDays,
        vpc: { subnetIds: args.subnetIds, securityGroupIds: [securityGroup.id] },
      },
      childOpts,
    );
    new aws.lambda.EventSourceMapping(
      `${name}-source`,
      {
        eventSourceArn: this.queue.arn,
        functionName: pulumi
          .all([this.function.arn, this.function.readyRoleArn])
          .apply(([arn]) => arn),
        batchSize: 10,
        // Acks are already batched by the DC; waiting a little more merges them into one CALL.
        maximumBatchingWindowInSeconds: 5,
        functionResponseTypes: ["ReportBatchItemFailures"],
        scalingConfig: { maximumConcurrency: 2 },
      },
      childOpts,
    );

    this.queueUrl = this.queue.url;
    this.queueArn = this.queue.arn;
    this.registerOutputs({ queueUrl: this.queueUrl, functionName: this.function.name });
  }
}
