/**
 * Alarms, alarm notifications and the dashboard of the order relay.
 *
 * CloudWatch alarms can only notify an SNS topic in their own region, so the optional alarm topic
 * (with its email subscription) exists once per region that has alarms. The topic is encrypted
 * with a customer managed KMS key: CloudWatch cannot use the AWS managed key `alias/aws/sns`
 * (its key policy does not let cloudwatch.amazonaws.com call kms:GenerateDataKey), so alarms on a
 * topic encrypted with it fail silently.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { Residence } from "../config/residence";
import { policyDocument } from "./iamDocuments";

/** The metric namespace and names the Lambda handlers publish (Powertools EMF). */
export const RELAY_METRICS = {
  namespace: "OrderRelay",
  relayLag: "RelayLag",
  /** notify, once a minute per region, from the database's relay_heartbeat(). */
  heartbeat: "Heartbeat",
  outboxOldestPending: "OutboxOldestPendingSeconds",
  forwarderService: "order-relay-forwarder",
  notifyService: "order-relay-notify",
} as const;

/** Alarm thresholds (from `order-relay:alarms`). */
export interface AlarmThresholds {
  /** Age of the oldest message in a source queue that raises an alarm. @default - 300 */
  readonly oldestMessageAgeSeconds: number;
  /** p99 relay lag (now − occurredAt at the forwarder) that raises an alarm. @default - 60000 */
  readonly relayLagMs: number;
}

/** Settings shared by every alarm. */
const ALARM_BASE = {
  period: 60,
  evaluationPeriods: 1,
} as const;

export interface AlarmTopicArgs {
  /** Email address subscribed to the topic (the recipient must confirm the subscription). */
  readonly email: string;
  /** Physical topic name (carries the region). */
  readonly topicName: string;
  readonly accountId: pulumi.Input<string>;
  /** `aws`, `aws-cn`, … */
  readonly partition: string;
  /** Region provider: the topic must be in the region of the alarms that use it. */
  readonly provider: aws.Provider;
}

/** An SNS topic for alarm notifications, encrypted with its own KMS key, with an email subscription. */
export class AlarmTopic extends pulumi.ComponentResource {
  public readonly topic: aws.sns.Topic;
  public readonly arn: pulumi.Output<string>;

  constructor(name: string, args: AlarmTopicArgs, opts?: pulumi.ComponentResourceOptions) {
    super("order-relay:observability:AlarmTopic", name, {}, opts);
    const childOpts = { parent: this, provider: args.provider };

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
  /** SNS topic ARNs notified on ALARM and OK. @default - none */
  readonly alarmActions: pulumi.Input<string>[];
  readonly provider: aws.Provider;
}

/** "A message reached the DLQ" and "messages wait too long" for one queue and its DLQ. */
export class QueueAlarms extends pulumi.ComponentResource {
  public readonly deadLetterMessages: aws.cloudwatch.MetricAlarm;
  public readonly oldestMessageAge: aws.cloudwatch.MetricAlarm;

  constructor(name: string, args: QueueAlarmsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("order-relay:observability:QueueAlarms", name, {}, opts);
    const childOpts = { parent: this, provider: args.provider };
    const actions = { alarmActions: args.alarmActions, okActions: args.alarmActions };

    this.deadLetterMessages = new aws.cloudwatch.MetricAlarm(
      `${name}-dlq-messages`,
      {
        ...ALARM_BASE,
        ...actions,
        name: `${args.alarmNamePrefix}-dlq-messages`,
        alarmDescription: pulumi.interpolate`Messages in the dead-letter queue ${args.deadLetterQueueName}: orders that were not delivered. Inspect, fix, then redrive (npm run redrive).`,
        namespace: "AWS/SQS",
        metricName: "ApproximateNumberOfMessagesVisible",
        dimensions: { QueueName: args.deadLetterQueueName },
        statistic: "Maximum",
        comparisonOperator: "GreaterThanThreshold",
        threshold: 0,
        treatMissingData: "notBreaching",
      },
      childOpts,
    );
    this.oldestMessageAge = new aws.cloudwatch.MetricAlarm(
      `${name}-oldest-message-age`,
      {
        ...ALARM_BASE,
        ...actions,
        name: `${args.alarmNamePrefix}-oldest-message-age`,
        alarmDescription: pulumi.interpolate`The oldest message in ${args.queueName} is older than ${args.oldestMessageAgeSeconds} s: its consumer is down or too slow.`,
        namespace: "AWS/SQS",
        metricName: "ApproximateAgeOfOldestMessage",
        dimensions: { QueueName: args.queueName },
        statistic: "Maximum",
        comparisonOperator: "GreaterThanThreshold",
        threshold: args.oldestMessageAgeSeconds,
        treatMissingData: "notBreaching",
      },
      childOpts,
    );
    this.registerOutputs({});
  }
}

export interface FunctionAlarmsArgs {
  /** Prefix of the alarm names, e.g. "order-relay-prod-ap-northeast-1-notify". */
  readonly alarmNamePrefix: string;
  readonly functionName: pulumi.Input<string>;
  /** SNS topic ARNs notified on ALARM and OK. @default - none */
  readonly alarmActions: pulumi.Input<string>[];
  readonly provider: aws.Provider;
}

/** Any error or throttle of one Lambda function. */
export class FunctionAlarms extends pulumi.ComponentResource {
  public readonly errors: aws.cloudwatch.MetricAlarm;
  public readonly throttles: aws.cloudwatch.MetricAlarm;

  constructor(name: string, args: FunctionAlarmsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("order-relay:observability:FunctionAlarms", name, {}, opts);
    const childOpts = { parent: this, provider: args.provider };
    const alarm = (metricName: "Errors" | "Throttles") =>
      new aws.cloudwatch.MetricAlarm(
        `${name}-${metricName.toLowerCase()}`,
        {
          ...ALARM_BASE,
          alarmActions: args.alarmActions,
          okActions: args.alarmActions,
          name: `${args.alarmNamePrefix}-${metricName.toLowerCase()}`,
          alarmDescription: pulumi.interpolate`Lambda ${args.functionName} reports ${metricName}.`,
          namespace: "AWS/Lambda",
          metricName,
          dimensions: { FunctionName: args.functionName },
          statistic: "Sum",
          comparisonOperator: "GreaterThanThreshold",
          threshold: 0,
          treatMissingData: "notBreaching",
        },
        childOpts,
      );
    this.errors = alarm("Errors");
    this.throttles = alarm("Throttles");
    this.registerOutputs({});
  }
}

/** What the observability component needs to know about one region's relay. */
export interface ObservedRegion {
  readonly region: string;
  readonly queueName: pulumi.Input<string>;
  readonly deadLetterQueueName: pulumi.Input<string>;
  readonly notifyFunctionName: pulumi.Input<string>;
  readonly forwarderFunctionName: pulumi.Input<string>;
  readonly provider: aws.Provider;
}

/** What the policy pack reads from the `RelayObservability` component's inputs. */
export interface StackDeclarations {
  /** `order-relay:production`. */
  readonly production: boolean;
  /** `order-relay:maxResidenceHours`, when set. */
  readonly maxResidenceHours?: number;
  /** `order-relay:retentionHours`: how long the purge keeps handed-off orders in the DB. */
  readonly retentionHours: number;
  /** `order-relay:purgeIntervalMinutes`. */
  readonly purgeIntervalMinutes: number;
}

export interface RelayObservabilityArgs {
  /** Prefix of alarm, topic and dashboard names (`order-relay:namePrefix`). */
  readonly namePrefix: string;
  /** Every regional relay, keyed by nothing but its `region` (so adding one renames nothing). */
  readonly regions: readonly ObservedRegion[];
  /** The aggregator queue and its DLQ, in the aggregator region. */
  readonly aggregator: {
    readonly region: string;
    readonly queueName: pulumi.Input<string>;
    readonly deadLetterQueueName: pulumi.Input<string>;
    readonly provider: aws.Provider;
  };
  readonly thresholds: AlarmThresholds;
  /** Email that receives every alarm through a per-region SNS topic. @default - no topic */
  readonly email?: string;
  /** The stack's privacy window (`worstCaseResidence(config)`), shown on the dashboard. */
  readonly residence: Residence;
  /**
   * Stack facts no AWS resource shows, declared as this component's inputs and outputs so the
   * policy pack can read them (policy/rules.ts `declarations`).
   */
  readonly declarations: StackDeclarations;
  readonly accountId: pulumi.Input<string>;
  /** `aws`, `aws-cn`, … */
  readonly partition: string;
}

/**
 * Per region: the regional queue's and DLQ's alarms, Errors/Throttles of both functions, relay
 * lag p99; for the aggregator: its queue's and DLQ's alarms; an optional alarm topic per region;
 * one dashboard for the stack (in the aggregator region).
 */
export class RelayObservability extends pulumi.ComponentResource {
  /** Alarm topic ARN per region (empty without `alarms.email`). */
  public readonly topicArns: Record<string, pulumi.Output<string>>;
  public readonly dashboardName: pulumi.Output<string>;

  constructor(name: string, args: RelayObservabilityArgs, opts?: pulumi.ComponentResourceOptions) {
    const declared = { ...args.declarations };
    super("order-relay:observability:RelayObservability", name, declared, opts);
    if (args.regions.length === 0) {
      throw new Error(`${name}: no region to observe — the stack config lists at least one region`);
    }

    // One topic per region that has alarms (CloudWatch notifies same-region topics only).
    const providers = new Map<string, aws.Provider>();
    for (const r of args.regions) providers.set(r.region, r.provider);
    providers.set(args.aggregator.region, args.aggregator.provider);
    this.topicArns = {};
    if (args.email) {
      for (const [region, provider] of providers) {
        this.topicArns[region] = new AlarmTopic(
          `${name}-${region}-alarm-topic`,
          {
            email: args.email,
            topicName: `${args.namePrefix}-${region}-alarms`,
            accountId: args.accountId,
            partition: args.partition,
            provider,
          },
          { parent: this },
        ).arn;
      }
    }
    const actionsIn = (region: string) => (this.topicArns[region] ? [this.topicArns[region]] : []);

    for (const r of args.regions) {
      const prefix = `${args.namePrefix}-${r.region}`;
      new QueueAlarms(
        `${name}-${r.region}-queue-alarms`,
        {
          alarmNamePrefix: `${prefix}-orders`,
          queueName: r.queueName,
          deadLetterQueueName: r.deadLetterQueueName,
          oldestMessageAgeSeconds: args.thresholds.oldestMessageAgeSeconds,
          alarmActions: actionsIn(r.region),
          provider: r.provider,
        },
        { parent: this },
      );
      for (const [role, functionName] of [
        ["notify", r.notifyFunctionName],
        ["forwarder", r.forwarderFunctionName],
      ] as const) {
        new FunctionAlarms(
          `${name}-${r.region}-${role}-alarms`,
          {
            alarmNamePrefix: `${prefix}-${role}`,
            functionName,
            alarmActions: actionsIn(r.region),
            provider: r.provider,
          },
          { parent: this },
        );
      }
      new aws.cloudwatch.MetricAlarm(
        `${name}-${r.region}-relay-lag`,
        {
          ...ALARM_BASE,
          alarmActions: actionsIn(r.region),
          okActions: actionsIn(r.region),
          name: `${prefix}-relay-lag`,
          alarmDescription: `p99 relay lag (order written → forwarded to the aggregator) in ${r.region} is above ${args.thresholds.relayLagMs} ms.`,
          namespace: RELAY_METRICS.namespace,
          metricName: RELAY_METRICS.relayLag,
          // Exactly the dimension set Powertools publishes: service + the function's region.
          dimensions: { service: RELAY_METRICS.forwarderService, region: r.region },
          extendedStatistic: "p99",
          unit: "Milliseconds",
          comparisonOperator: "GreaterThanThreshold",
          threshold: args.thresholds.relayLagMs,
          treatMissingData: "notBreaching",
        },
        { parent: this, provider: r.provider },
      );
      // The database's own voice: no AWS metric moves when lambda_async cannot reach Lambda
      // (ERROR 1873), the event scheduler is off or the cluster is down — orders just wait in
      // the outbox. relay_heartbeat() reports once a minute; silence for 5 minutes is an alarm.
      const notifyDimensions = { service: RELAY_METRICS.notifyService, region: r.region };
      new aws.cloudwatch.MetricAlarm(
        `${name}-${r.region}-heartbeat-missing`,
        {
          ...ALARM_BASE,
          alarmActions: actionsIn(r.region),
          okActions: actionsIn(r.region),
          name: `${prefix}-heartbeat-missing`,
          alarmDescription: `No relay heartbeat from the ${r.region} database for 5 minutes: lambda_async cannot reach the notify function (ERROR 1873?), the event scheduler is off, or the cluster is down. Orders wait in relay_outbox.`,
          namespace: RELAY_METRICS.namespace,
          metricName: RELAY_METRICS.heartbeat,
          dimensions: notifyDimensions,
          statistic: "Sum",
          period: 300,
          evaluationPeriods: 1,
          comparisonOperator: "LessThanThreshold",
          threshold: 1,
          treatMissingData: "breaching",
        },
        { parent: this, provider: r.provider },
      );
      new aws.cloudwatch.MetricAlarm(
        `${name}-${r.region}-outbox-backlog`,
        {
          ...ALARM_BASE,
          alarmActions: actionsIn(r.region),
          okActions: actionsIn(r.region),
          name: `${prefix}-outbox-backlog`,
          alarmDescription: `The oldest order not yet handed off in the ${r.region} outbox is older than ${args.thresholds.oldestMessageAgeSeconds} s (dispatch failing: see relay_status.last_error).`,
          namespace: RELAY_METRICS.namespace,
          metricName: RELAY_METRICS.outboxOldestPending,
          dimensions: notifyDimensions,
          statistic: "Maximum",
          unit: "Seconds",
          comparisonOperator: "GreaterThanThreshold",
          threshold: args.thresholds.oldestMessageAgeSeconds,
          // A missing heartbeat is the other alarm's job.
          treatMissingData: "notBreaching",
        },
        { parent: this, provider: r.provider },
      );
    }

    new QueueAlarms(
      `${name}-aggregator-queue-alarms`,
      {
        alarmNamePrefix: `${args.namePrefix}-aggregator`,
        queueName: args.aggregator.queueName,
        deadLetterQueueName: args.aggregator.deadLetterQueueName,
        oldestMessageAgeSeconds: args.thresholds.oldestMessageAgeSeconds,
        alarmActions: actionsIn(args.aggregator.region),
        provider: args.aggregator.provider,
      },
      { parent: this },
    );

    const dashboard = new aws.cloudwatch.Dashboard(
      `${name}-dashboard`,
      {
        dashboardName: args.namePrefix,
        dashboardBody: dashboardBody(args),
      },
      { parent: this, provider: args.aggregator.provider },
    );
    this.dashboardName = dashboard.dashboardName;
    this.registerOutputs({
      ...declared,
      dashboardName: this.dashboardName,
      topicArns: this.topicArns,
    });
  }
}

type MetricRow = (string | Record<string, unknown>)[];

/** The dashboard: one row per region plus the aggregator, and the privacy window as text. */
export function dashboardBody(args: RelayObservabilityArgs): pulumi.Output<string> {
  const names = pulumi.output({
    regions: args.regions.map((r) => ({
      region: r.region,
      queue: r.queueName,
      dlq: r.deadLetterQueueName,
      notify: r.notifyFunctionName,
      forwarder: r.forwarderFunctionName,
    })),
    aggregator: { queue: args.aggregator.queueName, dlq: args.aggregator.deadLetterQueueName },
  });
  return names.apply(({ regions, aggregator }) => {
    const widgets: Record<string, unknown>[] = [];
    let y = 0;
    const metricWidget = (
      title: string,
      region: string,
      metrics: MetricRow[],
      x: number,
      width = 8,
    ) =>
      widgets.push({
        type: "metric",
        x,
        y,
        width,
        height: 6,
        properties: { title, region, metrics, period: 60, view: "timeSeries" },
      });
    const residence = args.residence;
    widgets.push({
      type: "text",
      x: 0,
      y,
      width: 24,
      height: 3,
      properties: {
        markdown:
          `## Order relay — privacy window\n` +
          residence.terms.map((t) => `${t.name} ${t.hours} h`).join(" + ") +
          ` = **${residence.totalHours} h**` +
          (residence.boundHours === undefined ? "" : ` (bound ${residence.boundHours} h)`),
      },
    });
    y += 3;
    for (const r of regions) {
      metricWidget(
        `${r.region}: queues`,
        r.region,
        [
          ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", r.queue, { stat: "Maximum" }],
          [
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            "QueueName",
            r.dlq,
            { stat: "Maximum", yAxis: "right" },
          ],
        ],
        0,
      );
      metricWidget(
        `${r.region}: Lambda`,
        r.region,
        [
          ["AWS/Lambda", "Errors", "FunctionName", r.notify, { stat: "Sum" }],
          ["AWS/Lambda", "Throttles", "FunctionName", r.notify, { stat: "Sum" }],
          ["AWS/Lambda", "Errors", "FunctionName", r.forwarder, { stat: "Sum" }],
          ["AWS/Lambda", "Throttles", "FunctionName", r.forwarder, { stat: "Sum" }],
        ],
        8,
      );
      metricWidget(
        `${r.region}: relay`,
        r.region,
        [
          [
            RELAY_METRICS.namespace,
            RELAY_METRICS.relayLag,
            "service",
            RELAY_METRICS.forwarderService,
            "region",
            r.region,
            { stat: "p99" },
          ],
          [
            RELAY_METRICS.namespace,
            "Forwarded",
            "service",
            RELAY_METRICS.forwarderService,
            "region",
            r.region,
            { stat: "Sum", yAxis: "right" },
          ],
          [
            RELAY_METRICS.namespace,
            "Enqueued",
            "service",
            RELAY_METRICS.notifyService,
            "region",
            r.region,
            { stat: "Sum", yAxis: "right" },
          ],
        ],
        16,
      );
      y += 6;
    }
    metricWidget(
      `aggregator (${args.aggregator.region})`,
      args.aggregator.region,
      [
        [
          "AWS/SQS",
          "ApproximateAgeOfOldestMessage",
          "QueueName",
          aggregator.queue,
          { stat: "Maximum" },
        ],
        [
          "AWS/SQS",
          "ApproximateNumberOfMessagesVisible",
          "QueueName",
          aggregator.queue,
          { stat: "Maximum", yAxis: "right" },
        ],
        [
          "AWS/SQS",
          "ApproximateNumberOfMessagesVisible",
          "QueueName",
          aggregator.dlq,
          { stat: "Maximum", yAxis: "right" },
        ],
      ],
      0,
      24,
    );
    return JSON.stringify({ widgets });
  });
}
