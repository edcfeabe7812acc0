import * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPE } from "../contract/componentTypes";
import { METRIC, METRICS_NAMESPACE, SERVICE, metricDimensions } from "../contract/metrics";
import { AlarmThresholds, FunctionAlarms, QueueAlarms, metricAlarm } from "./alarms";

export interface RegionalAlarmsArgs {
  readonly region: string;
  /** Prefix of every alarm name, e.g. "order-relay-prod-ap-northeast-1". */
  readonly alarmNamePrefix: string;
  readonly queueName: pulumi.Input<string>;
  readonly deadLetterQueueName: pulumi.Input<string>;
  readonly notifyFunctionName: pulumi.Input<string>;
  readonly forwarderFunctionName: pulumi.Input<string>;
  readonly thresholds: AlarmThresholds;
  /** This region's alarm topic. @default - no notification (the stack sets no alarm email) */
  readonly alarmTopicArn?: pulumi.Input<string>;
  /**
   * The component that owned these alarms before they moved into the region (wave 1 kept every
   * alarm in the stack-wide `RelayObservability`, named `<that name>-<region>-<role>`). Given,
   * each alarm carries an alias to its old URN, so a deployed stack keeps its alarms.
   * @default - no aliases (a stack that never had the old layout)
   */
  readonly movedFrom?: { readonly parent: pulumi.Resource; readonly name: string };
  /** The acknowledgement path's queue and function, when there is one. @default - none */
  readonly ack?: {
    readonly queueName: pulumi.Input<string>;
    readonly deadLetterQueueName: pulumi.Input<string>;
    readonly functionName: pulumi.Input<string>;
  };
}

/**
 * Everything that watches one region: its queue and DLQ, both functions, relay lag, the
 * database's heartbeat, its outbox backlog, quarantined changes, purge failures and incomplete
 * backfills. A child of `RegionalRelay`, so a per-region
 * resource and its alarm are added in one place.
 */
export class RegionalAlarms extends pulumi.ComponentResource {
  constructor(name: string, args: RegionalAlarmsArgs, opts?: pulumi.ComponentResourceOptions) {
    super(COMPONENT_TYPE.regionalAlarms, name, {}, opts);
    const actions = args.alarmTopicArn ? [args.alarmTopicArn] : [];
    const region = args.region;
    const prefix = args.alarmNamePrefix;
    // `<old parent name>-<region>-<role>` under the old parent, when moved.
    const movedOpts = (role: string): pulumi.CustomResourceOptions => ({
      parent: this,
      ...(args.movedFrom
        ? {
            aliases: [
              { name: `${args.movedFrom.name}-${region}-${role}`, parent: args.movedFrom.parent },
            ],
          }
        : {}),
    });

    new QueueAlarms(
      `${name}-queue`,
      {
        alarmNamePrefix: `${prefix}-orders`,
        queueName: args.queueName,
        deadLetterQueueName: args.deadLetterQueueName,
        oldestMessageAgeSeconds: args.thresholds.oldestMessageAgeSeconds,
        alarmActions: actions,
      },
      movedOpts("queue-alarms"),
    );
    for (const [role, functionName] of [
      ["notify", args.notifyFunctionName],
      ["forwarder", args.forwarderFunctionName],
    ] as const) {
      new FunctionAlarms(
        `${name}-${role}`,
        { alarmNamePrefix: `${prefix}-${role}`, functionName, alarmActions: actions },
        movedOpts(`${role}-alarms`),
      );
    }
    metricAlarm(
      `${name}-relay-lag`,
      {
        alarmName: `${prefix}-relay-lag`,
        description: `p99 relay lag (order written → forwarded to the aggregator) in ${region} is above ${args.thresholds.relayLagMs} ms.`,
        namespace: METRICS_NAMESPACE,
        metricName: METRIC.relayLag,
        // Exactly the dimension set Powertools publishes: service + the function's region.
        dimensions: metricDimensions(SERVICE.forwarder, region),
        statistic: "p99",
        unit: "Milliseconds",
        comparison: "GreaterThanThreshold",
        threshold: args.thresholds.relayLagMs,
        treatMissingData: "notBreaching",
      },
      actions,
      movedOpts("relay-lag"),
    );
    // The database's own voice: no AWS metric moves when lambda_async cannot reach Lambda
    // (ERROR 1873), the event scheduler is off or the cluster is down — orders just wait in
    // the outbox. relay_heartbeat() reports once a minute; silence for 5 minutes is an alarm.
    metricAlarm(
      `${name}-heartbeat-missing`,
      {
        alarmName: `${prefix}-heartbeat-missing`,
        description: `No relay heartbeat from the ${region} database for 5 minutes: lambda_async cannot reach the notify function (ERROR 1873?), the event scheduler is off, or the cluster is down. Orders wait in relay_outbox.`,
        namespace: METRICS_NAMESPACE,
        metricName: METRIC.heartbeat,
        dimensions: metricDimensions(SERVICE.notify, region),
        statistic: "Sum",
        periodSeconds: 300,
        comparison: "LessThanThreshold",
        threshold: 1,
        treatMissingData: "breaching",
      },
      actions,
      movedOpts("heartbeat-missing"),
    );
    metricAlarm(
      `${name}-outbox-backlog`,
      {
        alarmName: `${prefix}-outbox-backlog`,
        description: `The oldest order not yet handed off in the ${region} outbox is older than ${args.thresholds.oldestMessageAgeSeconds} s (dispatch failing: see relay_status.last_error).`,
        namespace: METRICS_NAMESPACE,
        metricName: METRIC.outboxOldestPending,
        dimensions: metricDimensions(SERVICE.notify, region),
        statistic: "Maximum",
        unit: "Seconds",
        comparison: "GreaterThanThreshold",
        threshold: args.thresholds.oldestMessageAgeSeconds,
        // A missing heartbeat is the other alarm's job.
        treatMissingData: "notBreaching",
      },
      actions,
      movedOpts("outbox-backlog"),
    );
    // Reported by the database through the heartbeat: things only an operator resolves.
    const heartbeatAlarm = (role: string, metricName: string, description: string) =>
      metricAlarm(
        `${name}-${role}`,
        {
          alarmName: `${prefix}-${role}`,
          description,
          namespace: METRICS_NAMESPACE,
          metricName,
          dimensions: metricDimensions(SERVICE.notify, region),
          statistic: "Maximum",
          comparison: "GreaterThanThreshold",
          threshold: 0,
          // A missing heartbeat is the heartbeat alarm's job.
          treatMissingData: "notBreaching",
        },
        actions,
        { parent: this },
      );
    heartbeatAlarm(
      "outbox-quarantined",
      METRIC.outboxQuarantined,
      `A change in the ${region} outbox is too large to send and is quarantined (kept, never purged): see relay_status and the README's quarantine runbook.`,
    );
    heartbeatAlarm(
      "purge-failing",
      METRIC.purgeFailures,
      `The purge in the ${region} database is failing: personal data stays past its retention. See relay_status.last_purge_error.`,
    );
    heartbeatAlarm(
      "backfill-incomplete",
      METRIC.backfillIncomplete,
      `A backfill in the ${region} database is not verified complete: existing rows may not have reached the DC. See relay_status.`,
    );
    if (args.ack) {
      new QueueAlarms(
        `${name}-ack-queue`,
        {
          alarmNamePrefix: `${prefix}-acks`,
          queueName: args.ack.queueName,
          deadLetterQueueName: args.ack.deadLetterQueueName,
          oldestMessageAgeSeconds: args.thresholds.oldestMessageAgeSeconds,
          alarmActions: actions,
        },
        { parent: this },
      );
      new FunctionAlarms(
        `${name}-ack`,
        {
          alarmNamePrefix: `${prefix}-ack`,
          functionName: args.ack.functionName,
          alarmActions: actions,
        },
        { parent: this },
      );
      heartbeatAlarm(
        "unconfirmed-overdue",
        METRIC.unconfirmedOverdue,
        `Changes in the ${region} database are past their retention but not confirmed by the DC: they stay in AWS (and are resent) until the DC acknowledges them. See relay_status and the DC consumer.`,
      );
    }
    this.registerOutputs({});
  }
}
