/**
 * The stack-wide part of the relay's observability: the alarm topic of every region that has
 * alarms, the aggregator queue's alarms and the one dashboard. Each region's own alarms live in
 * its `RegionalRelay` (components/regionalAlarms.ts).
 *
 * Its inputs also carry the stack's declarations (contract/declarations.ts), which the policy
 * pack reads.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPE } from "../contract/componentTypes";
import type { StackDeclarations } from "../contract/declarations";
import { METRIC, METRICS_NAMESPACE, SERVICE } from "../contract/metrics";
import { Residence } from "../config/residence";
import { AlarmThresholds, AlarmTopic, QueueAlarms } from "./alarms";

/** What the dashboard shows of one region's relay (physical names, known before deployment). */
export interface ObservedRegion {
  readonly region: string;
  readonly queueName: pulumi.Input<string>;
  readonly deadLetterQueueName: pulumi.Input<string>;
  readonly notifyFunctionName: pulumi.Input<string>;
  readonly forwarderFunctionName: pulumi.Input<string>;
}

export interface RelayObservabilityArgs {
  /** Prefix of alarm, topic and dashboard names (`order-relay:namePrefix`). */
  readonly namePrefix: string;
  /** Every regional relay, keyed by nothing but its `region` (so adding one renames nothing). */
  readonly regions: readonly ObservedRegion[];
  /** The provider of every region above and of the aggregator's region. */
  readonly providers: ReadonlyMap<string, aws.Provider>;
  /** The aggregator queue and its DLQ, in the aggregator region. */
  readonly aggregator: {
    readonly region: string;
    readonly queueName: pulumi.Input<string>;
    readonly deadLetterQueueName: pulumi.Input<string>;
  };
  readonly thresholds: AlarmThresholds;
  /** Email that receives every alarm through a per-region SNS topic. @default - no topic */
  readonly email?: string;
  /** The stack's privacy window (`worstCaseResidence(config)`), shown on the dashboard. */
  readonly residence: Residence;
  /**
   * Stack facts no AWS resource shows, declared as this component's inputs and outputs so the
   * policy pack can read them (contract/declarations.ts).
   */
  readonly declarations: StackDeclarations;
  readonly accountId: pulumi.Input<string>;
  /** `aws`, `aws-cn`, … */
  readonly partition: string;
}

/** Alarm topics per region, the aggregator's alarms and the dashboard (aggregator region). */
export class RelayObservability extends pulumi.ComponentResource {
  /** Alarm topic ARN per region (empty without `alarms.email`). */
  public readonly topicArns: Record<string, pulumi.Output<string>>;
  public readonly dashboardName: pulumi.Output<string>;

  constructor(name: string, args: RelayObservabilityArgs, opts?: pulumi.ComponentResourceOptions) {
    const declared = { ...args.declarations };
    super(COMPONENT_TYPE.observability, name, declared, opts);
    if (args.regions.length === 0) {
      throw new Error(`${name}: no region to observe — the stack config lists at least one region`);
    }
    const providerOf = (region: string): aws.Provider => {
      const provider = args.providers.get(region);
      if (!provider) throw new Error(`${name}: no provider for region ${region}`);
      return provider;
    };

    // One topic per region that has alarms (CloudWatch notifies same-region topics only).
    const alarmRegions = [
      ...new Set([...args.regions.map((r) => r.region), args.aggregator.region]),
    ];
    this.topicArns = {};
    if (args.email) {
      for (const region of alarmRegions) {
        this.topicArns[region] = new AlarmTopic(
          `${name}-${region}-alarm-topic`,
          {
            email: args.email,
            topicName: `${args.namePrefix}-${region}-alarms`,
            accountId: args.accountId,
            partition: args.partition,
          },
          { parent: this, providers: [providerOf(region)] },
        ).arn;
      }
    }
    const aggregatorTopic = this.topicArns[args.aggregator.region];

    new QueueAlarms(
      `${name}-aggregator-queue-alarms`,
      {
        alarmNamePrefix: `${args.namePrefix}-aggregator`,
        queueName: args.aggregator.queueName,
        deadLetterQueueName: args.aggregator.deadLetterQueueName,
        oldestMessageAgeSeconds: args.thresholds.oldestMessageAgeSeconds,
        alarmActions: aggregatorTopic ? [aggregatorTopic] : [],
      },
      { parent: this, providers: [providerOf(args.aggregator.region)] },
    );

    const dashboard = new aws.cloudwatch.Dashboard(
      `${name}-dashboard`,
      {
        dashboardName: args.namePrefix,
        dashboardBody: dashboardBody(args),
      },
      { parent: this, provider: providerOf(args.aggregator.region) },
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
            METRICS_NAMESPACE,
            METRIC.relayLag,
            "service",
            SERVICE.forwarder,
            "region",
            r.region,
            { stat: "p99" },
          ],
          [
            METRICS_NAMESPACE,
            METRIC.forwarded,
            "service",
            SERVICE.forwarder,
            "region",
            r.region,
            { stat: "Sum", yAxis: "right" },
          ],
          [
            METRICS_NAMESPACE,
            METRIC.enqueued,
            "service",
            SERVICE.notify,
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
