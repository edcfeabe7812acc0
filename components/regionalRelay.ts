import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPE } from "../contract/componentTypes";
import type { DatabaseSettings } from "../contract/databaseSettings";
import { LAMBDA_ENV } from "../contract/lambdaEnv";
import { SERVICE } from "../contract/metrics";
import { QueueSpec, RegionNames } from "../config/names";
import { RegionSettings, RelayConfig } from "../config/schema";
import { AlarmThresholds } from "./alarms";
import { AuroraCluster } from "./auroraCluster";
import { SQS_CONSUME_ACTIONS, policyDocument, serviceTrustPolicy } from "./iamDocuments";
import { RelayNetwork } from "./network";
import { RelayDatabase } from "./relayDatabase";
import { RelayFunction, powertoolsEnv } from "./relayFunction";
import { RelayQueue } from "./relayQueue";
import { RegionalAlarms, RegionalAlarmsArgs } from "./regionalAlarms";
import { AckPath } from "./ackPath";

export interface RegionalRelayArgs {
  /** This region's validated settings. */
  readonly settings: RegionSettings;
  /** Physical names for this region (`regionNames(config, region)`). */
  readonly names: RegionNames;
  /** The regional queue and its DLQ (`queueSpecs(config).regions[region]`). */
  readonly queue: QueueSpec;
  readonly dlq: QueueSpec;
  /** Stack-wide settings the region's resources use (Lambda tuning, log retention, database). */
  readonly stack: Pick<RelayConfig, "databaseName" | "logRetentionDays" | "notify" | "forwarder">;
  /** What the region's database needs (`databaseSettingsFor(config, region)`). */
  readonly database: Omit<DatabaseSettings, "functionArn">;
  /** How the region is watched. */
  readonly alarms: {
    /** Prefix of every alarm name of the region, e.g. "order-relay-prod-ap-northeast-1". */
    readonly alarmNamePrefix: string;
    readonly thresholds: AlarmThresholds;
    /** The region's alarm topic. @default - no notification */
    readonly alarmTopicArn?: pulumi.Input<string>;
    /** Where the alarms lived before (aliases keep deployed alarms). @default - nowhere */
    readonly movedFrom?: RegionalAlarmsArgs["movedFrom"];
  };
  /** The aggregator queue every forwarder sends to. */
  readonly aggregator: {
    readonly queueUrl: pulumi.Input<string>;
    readonly queueArn: pulumi.Input<string>;
    readonly region: string;
    readonly fifo: boolean;
  };
  /**
   * The acknowledgement path (purgeRequires = confirmed): the ack queue specs and the DC
   * consumer's role, the one principal that may acknowledge. @default - none (handedOff)
   */
  readonly ack?: {
    readonly queue: QueueSpec;
    readonly dlq: QueueSpec;
    readonly dcConsumerRoleArn: pulumi.Input<string>;
  };
  readonly accountId: pulumi.Input<string>;
  readonly partition: string;
}

/** The MySQL user the ack Lambda connects as (IAM database authentication, no password). */
export const ACK_DB_USER = "relay_ack";

/**
 * Everything one region runs: network, Aurora with the outbox relay, the notify Lambda that
 * Aurora invokes, the regional queue, the forwarder Lambda that moves messages to the
 * aggregator, and the alarms that watch them. Give it the region's provider the Pulumi way
 * (`providers: [provider]`): every child inherits it.
 */
export class RegionalRelay extends pulumi.ComponentResource {
  public readonly clusterEndpoint: pulumi.Output<string>;
  public readonly queueUrl: pulumi.Output<string>;
  public readonly deadLetterQueueUrl: pulumi.Output<string>;
  public readonly notifyFunctionName: pulumi.Output<string>;
  public readonly forwarderFunctionName: pulumi.Output<string>;
  /** The forwarder's role ARN (admitted to the aggregator's queue policy). */
  public readonly forwarderRoleArn: pulumi.Output<string>;
  public readonly queue: RelayQueue;
  public readonly notify: RelayFunction;
  public readonly forwarder: RelayFunction;
  public readonly database: AuroraCluster;
  /** The acknowledgement path, when purgeRequires is "confirmed". */
  public readonly ack?: AckPath;

  constructor(name: string, args: RegionalRelayArgs, opts?: pulumi.ComponentResourceOptions) {
    super(COMPONENT_TYPE.regionalRelay, name, {}, opts);
    const { settings, names, stack } = args;
    const region = settings.region;
    const childOpts = { parent: this };

    this.queue = new RelayQueue(
      `${name}-orders`,
      { queue: args.queue, dlq: args.dlq },
      { parent: this },
    );
    this.queue.setPolicy([]);

    this.notify = new RelayFunction(
      `${name}-notify`,
      {
        handler: "notify",
        functionName: names.notifyFunction,
        roleName: names.notifyRole,
        statements: [
          {
            Sid: "SendToRegionalQueue",
            Effect: "Allow",
            Action: "sqs:SendMessage",
            Resource: this.queue.arn,
          },
          {
            // Lambda's on-failure destination sends with the function's role.
            Sid: "OnFailureDestination",
            Effect: "Allow",
            Action: "sqs:SendMessage",
            Resource: this.queue.deadLetterQueueArn,
          },
        ],
        environment: {
          [LAMBDA_ENV.queueUrl]: this.queue.url,
          ...powertoolsEnv(SERVICE.notify),
        },
        timeoutSeconds: stack.notify.timeoutSeconds,
        memoryMb: stack.notify.memoryMb,
        logRetentionDays: stack.logRetentionDays,
      },
      { parent: this },
    );
    new aws.lambda.FunctionEventInvokeConfig(
      `${name}-notify-async`,
      {
        functionName: this.notify.name,
        maximumRetryAttempts: stack.notify.maximumRetryAttempts,
        maximumEventAgeInSeconds: stack.notify.maximumEventAgeSeconds,
        destinationConfig: { onFailure: { destination: this.queue.deadLetterQueueArn } },
      },
      childOpts,
    );

    this.forwarder = new RelayFunction(
      `${name}-forwarder`,
      {
        handler: "forwarder",
        functionName: names.forwarderFunction,
        roleName: names.forwarderRole,
        statements: [
          {
            Sid: "ConsumeRegionalQueue",
            Effect: "Allow",
            Action: SQS_CONSUME_ACTIONS,
            Resource: this.queue.arn,
          },
          {
            Sid: "SendToAggregator",
            Effect: "Allow",
            Action: "sqs:SendMessage",
            Resource: args.aggregator.queueArn,
          },
        ],
        environment: {
          [LAMBDA_ENV.aggregatorQueueUrl]: args.aggregator.queueUrl,
          [LAMBDA_ENV.aggregatorRegion]: args.aggregator.region,
          [LAMBDA_ENV.aggregatorFifo]: String(args.aggregator.fifo),
          ...powertoolsEnv(SERVICE.forwarder),
        },
        timeoutSeconds: stack.forwarder.timeoutSeconds,
        memoryMb: stack.forwarder.memoryMb,
        logRetentionDays: stack.logRetentionDays,
      },
      { parent: this },
    );
    new aws.lambda.EventSourceMapping(
      `${name}-forwarder-source`,
      {
        eventSourceArn: this.queue.arn,
        // The ready role ARN: the mapping is validated against the role's permissions.
        functionName: pulumi
          .all([this.forwarder.arn, this.forwarder.readyRoleArn])
          .apply(([arn]) => arn),
        batchSize: stack.forwarder.batchSize,
        maximumBatchingWindowInSeconds: stack.forwarder.maximumBatchingWindowSeconds,
        functionResponseTypes: ["ReportBatchItemFailures"],
        scalingConfig: { maximumConcurrency: stack.forwarder.maximumConcurrency },
      },
      childOpts,
    );

    // Aurora assumes this role for lambda_async; scoped to this cluster (confused deputy) and
    // allowed to invoke the notify function only.
    const clusterArn = pulumi.interpolate`arn:${args.partition}:rds:${region}:${args.accountId}:cluster:${names.clusterIdentifier}`;
    const invokeRole = new aws.iam.Role(
      `${name}-rds-invoke-role`,
      {
        name: names.rdsInvokeRole,
        description: `Aurora ${names.clusterIdentifier} invokes the order relay's notify function`,
        assumeRolePolicy: serviceTrustPolicy("rds.amazonaws.com", {
          StringEquals: { "aws:SourceAccount": args.accountId },
          ArnLike: { "aws:SourceArn": clusterArn },
        }),
      },
      childOpts,
    );
    const invokePolicy = new aws.iam.RolePolicy(
      `${name}-rds-invoke-policy`,
      {
        role: invokeRole.name,
        name: "invoke-notify",
        policy: policyDocument([
          {
            Sid: "InvokeNotifyOnly",
            Effect: "Allow",
            Action: "lambda:InvokeFunction",
            Resource: this.notify.arn,
          },
        ]),
      },
      childOpts,
    );
    const invokeRoleArn = pulumi.all([invokeRole.arn, invokePolicy.id]).apply(([arn]) => arn);

    const network = new RelayNetwork(
      `${name}-network`,
      {
        settings,
        dbSubnetGroupName: names.clusterIdentifier,
        lambdaInvoke: { functionArn: this.notify.arn, principalArn: invokeRole.arn },
      },
      { parent: this },
    );

    this.database = new AuroraCluster(
      `${name}-aurora`,
      {
        settings,
        clusterIdentifier: names.clusterIdentifier,
        instanceIdentifier: names.instanceIdentifier,
        dbSubnetGroupName: network.dbSubnetGroupName,
        securityGroupIds: [network.dbSecurityGroupId],
        lambdaInvokeRoleArn: invokeRoleArn,
        iamDatabaseAuthentication: args.ack !== undefined,
        logRetentionDays: stack.logRetentionDays,
      },
      // Aurora calls Lambda through the endpoint from its first lambda_async on.
      { parent: this, dependsOn: network.lambdaEndpoint ? [network.lambdaEndpoint] : undefined },
    );

    new RelayDatabase(
      `${name}-relay-db`,
      {
        endpoint:
          settings.dbEndpointOverride ??
          pulumi.interpolate`${this.database.endpoint}:${this.database.port}`,
        tunnel: settings.dbEndpointOverride !== undefined,
        masterUsername: this.database.masterUsername,
        masterUserSecretArn: this.database.masterUserSecretArn,
        databaseName: stack.databaseName,
        settings: args.database,
        notifyFunctionArn: this.notify.arn,
        ready: this.database.lambdaReady,
        ackUser: args.ack ? ACK_DB_USER : undefined,
      },
      { parent: this },
    );

    if (args.ack) {
      this.ack = new AckPath(
        `${name}-ack`,
        {
          region,
          queue: args.ack.queue,
          dlq: args.ack.dlq,
          functionName: names.ackFunction,
          roleName: names.ackRole,
          dcConsumerRoleArn: args.ack.dcConsumerRoleArn,
          vpcId: network.vpcId,
          subnetIds: network.subnetIds,
          dbSecurityGroupId: network.dbSecurityGroupId,
          dbEndpoint: pulumi.interpolate`${this.database.endpoint}:${this.database.port}`,
          databaseName: stack.databaseName,
          dbUser: ACK_DB_USER,
          clusterResourceId: this.database.resourceId,
          accountId: args.accountId,
          partition: args.partition,
          memoryMb: stack.notify.memoryMb,
          logRetentionDays: stack.logRetentionDays,
        },
        { parent: this },
      );
    }

    new RegionalAlarms(
      `${name}-alarms`,
      {
        region,
        alarmNamePrefix: args.alarms.alarmNamePrefix,
        queueName: this.queue.queue.name,
        deadLetterQueueName: this.queue.deadLetterQueue.name,
        notifyFunctionName: this.notify.name,
        forwarderFunctionName: this.forwarder.name,
        thresholds: args.alarms.thresholds,
        alarmTopicArn: args.alarms.alarmTopicArn,
        movedFrom: args.alarms.movedFrom,
        ack: this.ack
          ? {
              queueName: this.ack.queue.queue.name,
              deadLetterQueueName: this.ack.queue.deadLetterQueue.name,
              functionName: this.ack.function.name,
            }
          : undefined,
      },
      { parent: this },
    );

    this.clusterEndpoint = this.database.endpoint;
    this.queueUrl = this.queue.url;
    this.deadLetterQueueUrl = this.queue.deadLetterQueueUrl;
    this.notifyFunctionName = this.notify.name;
    this.forwarderFunctionName = this.forwarder.name;
    this.forwarderRoleArn = this.forwarder.role.arn;
    this.registerOutputs({
      clusterEndpoint: this.clusterEndpoint,
      queueUrl: this.queueUrl,
      notifyFunctionName: this.notifyFunctionName,
      forwarderFunctionName: this.forwarderFunctionName,
    });
  }
}
