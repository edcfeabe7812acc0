import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { LAMBDA_ENV, QueueSpec, RegionNames } from "../config/names";
import { RegionSettings, RelayConfig } from "../config/schema";
import { AuroraCluster } from "./auroraCluster";
import { SQS_CONSUME_ACTIONS, policyDocument, serviceTrustPolicy } from "./iamDocuments";
import { RelayNetwork } from "./network";
import { RelayDatabase } from "./relayDatabase";
import { RelayFunction } from "./relayFunction";
import { RelayQueue } from "./relayQueue";

export interface RegionalRelayArgs {
  /** This region's validated settings. */
  readonly settings: RegionSettings;
  /** Physical names for this region (`regionNames(config, region)`). */
  readonly names: RegionNames;
  /** The regional queue and its DLQ (`queueSpecs(config).regions[region]`). */
  readonly queue: QueueSpec;
  readonly dlq: QueueSpec;
  /** Stack-wide settings the region uses (retention, batch sizes, Lambda tuning, log retention). */
  readonly stack: Pick<
    RelayConfig,
    | "retentionHours"
    | "databaseName"
    | "dispatchBatchSize"
    | "purgeIntervalMinutes"
    | "logRetentionDays"
    | "notify"
    | "forwarder"
  >;
  /** The aggregator queue every forwarder sends to. */
  readonly aggregator: {
    readonly queueUrl: pulumi.Input<string>;
    readonly queueArn: pulumi.Input<string>;
    readonly region: string;
    readonly fifo: boolean;
  };
  readonly accountId: pulumi.Input<string>;
  readonly partition: string;
  /** This region's provider: every AWS resource of the region is created through it. */
  readonly provider: aws.Provider;
}

/**
 * Everything one region runs: network, Aurora with the outbox relay, the notify Lambda that
 * Aurora invokes, the regional queue, and the forwarder Lambda that moves messages to the
 * aggregator.
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

  constructor(name: string, args: RegionalRelayArgs, opts?: pulumi.ComponentResourceOptions) {
    super("order-relay:relay:RegionalRelay", name, {}, opts);
    const { settings, names, stack, provider } = args;
    const region = settings.region;
    const childOpts = { parent: this, provider };

    this.queue = new RelayQueue(
      `${name}-orders`,
      { queue: args.queue, dlq: args.dlq, provider },
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
          POWERTOOLS_SERVICE_NAME: "order-relay-notify",
          POWERTOOLS_METRICS_NAMESPACE: "OrderRelay",
          POWERTOOLS_LOG_LEVEL: "INFO",
        },
        timeoutSeconds: stack.notify.timeoutSeconds,
        memoryMb: stack.notify.memoryMb,
        logRetentionDays: stack.logRetentionDays,
        provider,
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
          POWERTOOLS_SERVICE_NAME: "order-relay-forwarder",
          POWERTOOLS_METRICS_NAMESPACE: "OrderRelay",
          POWERTOOLS_LOG_LEVEL: "INFO",
        },
        timeoutSeconds: stack.forwarder.timeoutSeconds,
        memoryMb: stack.forwarder.memoryMb,
        logRetentionDays: stack.logRetentionDays,
        provider,
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
        provider,
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
        logRetentionDays: stack.logRetentionDays,
        provider,
      },
      { parent: this, dependsOn: network.lambdaEndpoint ? [network.lambdaEndpoint] : [] },
    );

    new RelayDatabase(
      `${name}-relay-db`,
      {
        region,
        endpoint:
          settings.dbEndpointOverride ??
          pulumi.interpolate`${this.database.endpoint}:${this.database.port}`,
        tunnel: settings.dbEndpointOverride !== undefined,
        masterUsername: this.database.masterUsername,
        masterUserSecretArn: this.database.masterUserSecretArn,
        databaseName: stack.databaseName,
        notifyFunctionArn: this.notify.arn,
        retentionHours: stack.retentionHours,
        dispatchBatchSize: stack.dispatchBatchSize,
        purgeIntervalMinutes: stack.purgeIntervalMinutes,
        ready: this.database.lambdaReady,
        provider,
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
