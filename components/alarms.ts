/**
 * The relay's alarm building blocks: one factory for every CloudWatch alarm (so each alarm is
 * complete — period, evaluation periods, OK and ALARM actions — by construction), the optional
 * alarm topic of a region, and the alarm pairs every queue and every function gets.
 *
 * CloudWatch alarms can only notify an SNS topic in their own region, so the optional alarm topic
 * (with its email subscription) exists once per region that has alarms. The topic is encrypted
 * with a customer managed KMS key: CloudWatch cannot use the AWS managed key `alias/aws/sns`
 * (its key policy does not let cloudwatch.amazonaws.com call kms:GenerateDataKey), so alarms on a
 * topic encrypted with it fail silently.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPE } from "../contract/componentTypes";
import { policyDocument } from "./iamDocuments";

/** Alarm thresholds (from `order-relay:alarms`). */
export interface AlarmThresholds {
  /** Age of the oldest message in a source queue (or outbox row) that raises an alarm. */
  readonly oldestMessageAgeSeconds: number;
  /** p99 relay lag (now − occurredAt at the forwarder) that raises an alarm. */
  readonly relayLagMs: number;
}

/** What differs between the relay's alarms; everything else is the factory's. */
export interface AlarmSpec {
  /** Physical alarm name (carries the stack prefix and the region). */
  readonly alarmName: string;
  /** What the alarm means and what the operator does about it. */
  readonly description: pulumi.Input<string>;
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Record<string, pulumi.Input<string>>;
  /** A statistic (`Sum`, `Maximum`) or a percentile (`p99`). */
  readonly statistic: "Sum" | "Maximum" | "p99";
  readonly comparison: "GreaterThanThreshold" | "LessThanThreshold";
  readonly threshold: number;
  /** How a missing datapoint counts. A heartbeat's silence is breaching; a quiet queue is not. */
  readonly treatMissingData: "breaching" | "notBreaching";
  /** Evaluation period. @default - 60 seconds */
  readonly periodSeconds?: number;
  readonly unit?: "Seconds" | "Milliseconds" | "Count";
}

/** SNS topics an alarm notifies on ALARM and OK (none when the stack sets no alarm email). */
export type AlarmActions = pulumi.Input<string>[];

/** The one way the relay creates an alarm: a complete MetricAlarm from a spec. */
export function metricAlarm(
  name: string,
  spec: AlarmSpec,
  actions: AlarmActions,
  opts: pulumi.CustomResourceOptions,
): aws.cloudwatch.MetricAlarm {
  const percentile = spec.statistic.startsWith("p");
  return new aws.cloudwatch.MetricAlarm(
    name,
    {
      name: spec.alarmName,
      alarmDescription: spec.description,
      namespace: spec.namespace,
      metricName: spec.metricName,
      dimensions: spec.dimensions,
      ...(percentile ? { extendedStatistic: spec.statistic } : { statistic: spec.statistic }),
      ...(spec.unit ? { unit: spec.unit } : {}),
      period: spec.periodSeconds ?? 60,
      evaluationPeriods: 1,
      comparisonOperator: spec.comparison,
      threshold: spec.threshold,
      treatMissingData: spec.treatMissingData,
      alarmActions: actions,
      okActions: actions,
    },
    opts,
  );
}

export interface AlarmTopicArgs {
  /** Email address subscribed to the topic (the recipient must confirm the subscription). */
  readonly email: string;
  /** Physical topic name (carries the region). */
  readonly topicName: string;
  readonly accountId: pulumi.Input<string>;
  /** `aws`, `aws-cn`, … */
  readonly partition: string;
}

/**
 * An SNS topic for alarm notifications, encrypted with its own KMS key, with an email
 * subscription. Created through the provider of the region whose alarms use it.
 */
export class AlarmTopic extends pulumi.ComponentResource {
  public readonly topic: aws.sns.Topic;
  public readonly arn: pulumi.Output<string>;

  constructor(name: string, args: AlarmTopicArgs, opts?: pulumi.ComponentResourceOptions) {
    super(COMPONENT_TYPE.alarmTopic, name, {}, opts);
    const childOpts = { parent: this };

    const key = new aws.kms.Key(
      `${name}-key`,
      {
        description: `Encrypts the order relay alarm topic ${args.topicName}`,
        enableKeyRotation: true,
        deletionWindowInDays: 7,
        policy: policyDocument([
          {
            // Key policies: "*" is this key. The account keeps administering it through IAM.
            Sid: "AccountAdministers",
            Effect: "Allow",
            Principal: {
              AWS: pulumi.interpolate`arn:${args.partition}:iam::${args.accountId}:root`,
            },
            Action: "kms:*",
            Resource: "*",
          },
          {
            Sid: "CloudWatchAlarmsPublish",
            Effect: "Allow",
            Principal: { Service: "cloudwatch.amazonaws.com" },
            Action: ["kms:Decrypt", "kms:GenerateDataKey*"],
            Resource: "*",
            Condition: { StringEquals: { "aws:SourceAccount": args.accountId } },
          },
        ]),
      },
      childOpts,
    );
    this.topic = new aws.sns.Topic(
      `${name}-topic`,
      { name: args.topicName, kmsMasterKeyId: key.arn },
      childOpts,
    );
    new aws.sns.TopicPolicy(
      `${name}-policy`,
      {
        arn: this.topic.arn,
        policy: policyDocument([
          {
            Sid: "CloudWatchAlarmsPublish",
            Effect: "Allow",
            Principal: { Service: "cloudwatch.amazonaws.com" },
            Action: "sns:Publish",
            Resource: this.topic.arn,
            Condition: { StringEquals: { "aws:SourceAccount": args.accountId } },
          },
        ]),
      },
      childOpts,
    );
    new aws.sns.TopicSubscription(
      `${name}-email`,
      { topic: this.topic.arn, protocol: "email", endpoint: args.email },
      childOpts,
    );
    this.arn = this.topic.arn;
    this.registerOutputs({ arn: this.arn });
  }
}

export interface QueueAlarmsArgs {
  /** Prefix of the alarm names, e.g. "order-relay-prod-ap-northeast-1-orders". */
  readonly alarmNamePrefix: string;
  /** The source queue (oldest-message age). */
  readonly queueName: pulumi.Input<string>;
  /** Its dead-letter queue (any visible message alarms). */
  readonly deadLetterQueueName: pulumi.Input<string>;
  readonly oldestMessageAgeSeconds: number;
  /** SNS topics notified on ALARM and OK. */
  readonly alarmActions: AlarmActions;
}

/** "A message reached the DLQ" and "messages wait too long" for one queue and its DLQ. */
export class QueueAlarms extends pulumi.ComponentResource {
  public readonly deadLetterMessages: aws.cloudwatch.MetricAlarm;
  public readonly oldestMessageAge: aws.cloudwatch.MetricAlarm;

  constructor(name: string, args: QueueAlarmsArgs, opts?: pulumi.ComponentResourceOptions) {
    super(COMPONENT_TYPE.queueAlarms, name, {}, opts);
    this.deadLetterMessages = metricAlarm(
      `${name}-dlq-messages`,
      {
        alarmName: `${args.alarmNamePrefix}-dlq-messages`,
        description: pulumi.interpolate`Messages in the dead-letter queue ${args.deadLetterQueueName}: orders that were not delivered. Inspect, fix, then redrive (npm run redrive).`,
        namespace: "AWS/SQS",
        metricName: "ApproximateNumberOfMessagesVisible",
        dimensions: { QueueName: args.deadLetterQueueName },
        statistic: "Maximum",
        comparison: "GreaterThanThreshold",
        threshold: 0,
        treatMissingData: "notBreaching",
      },
      args.alarmActions,
      { parent: this },
    );
    this.oldestMessageAge = metricAlarm(
      `${name}-oldest-message-age`,
      {
        alarmName: `${args.alarmNamePrefix}-oldest-message-age`,
        description: pulumi.interpolate`The oldest message in ${args.queueName} is older than ${args.oldestMessageAgeSeconds} s: its consumer is down or too slow.`,
        namespace: "AWS/SQS",
        metricName: "ApproximateAgeOfOldestMessage",
        dimensions: { QueueName: args.queueName },
        statistic: "Maximum",
        comparison: "GreaterThanThreshold",
        threshold: args.oldestMessageAgeSeconds,
        treatMissingData: "notBreaching",
      },
      args.alarmActions,
      { parent: this },
    );
    this.registerOutputs({});
  }
}

export interface FunctionAlarmsArgs {
  /** Prefix of the alarm names, e.g. "order-relay-prod-ap-northeast-1-notify". */
  readonly alarmNamePrefix: string;
  readonly functionName: pulumi.Input<string>;
  /** SNS topics notified on ALARM and OK. */
  readonly alarmActions: AlarmActions;
}

/** Any error or throttle of one Lambda function. */
export class FunctionAlarms extends pulumi.ComponentResource {
  public readonly errors: aws.cloudwatch.MetricAlarm;
  public readonly throttles: aws.cloudwatch.MetricAlarm;

  constructor(name: string, args: FunctionAlarmsArgs, opts?: pulumi.ComponentResourceOptions) {
    super(COMPONENT_TYPE.functionAlarms, name, {}, opts);
    const alarm = (metricName: "Errors" | "Throttles") =>
      metricAlarm(
        `${name}-${metricName.toLowerCase()}`,
        {
          alarmName: `${args.alarmNamePrefix}-${metricName.toLowerCase()}`,
          description: pulumi.interpolate`Lambda ${args.functionName} reports ${metricName}.`,
          namespace: "AWS/Lambda",
          metricName,
          dimensions: { FunctionName: args.functionName },
          statistic: "Sum",
          comparison: "GreaterThanThreshold",
          threshold: 0,
          treatMissingData: "notBreaching",
        },
        args.alarmActions,
        { parent: this },
      );
    this.errors = alarm("Errors");
    this.throttles = alarm("Throttles");
    this.registerOutputs({});
  }
}
