/** Logs, alarms and the alarm topics. */
import * as aws from "@pulumi/aws";
import { declarationSchema, declarations } from "./declarations";
import { RelayPolicy, resourceRule, stackRule } from "./factory";
import { ofType, queueRoles, regionOf } from "./stack";

export const observability: RelayPolicy[] = [
  resourceRule({
    name: "log-group-retention",
    source: "CKV_AWS_66",
    summary: "every log group sets a retention (logs are part of the privacy window).",
    of: aws.cloudwatch.LogGroup,
    check: (group, _args, report) => {
      if (!group.retentionInDays) {
        report(`log group ${group.name} never expires — set retentionInDays`);
      }
    },
  }),
  stackRule({
    name: "every-dlq-alarmed",
    source: "order-relay",
    summary:
      "every dead-letter queue has an alarm on ApproximateNumberOfMessagesVisible > 0 (nothing lost silently).",
    check: (args, report) => {
      const alarms = ofType(args.resources, aws.cloudwatch.MetricAlarm);
      for (const dlq of queueRoles(args.resources).dlqs) {
        const alarmed = alarms.some(
          (a) =>
            a.props.namespace === "AWS/SQS" &&
            a.props.metricName === "ApproximateNumberOfMessagesVisible" &&
            a.props.dimensions?.QueueName === dlq.props.name &&
            regionOf(a) === regionOf(dlq) &&
            a.props.threshold === 0 &&
            a.props.comparisonOperator === "GreaterThanThreshold",
        );
        if (!alarmed) report(`DLQ ${dlq.props.name} has no "any message visible" alarm`, dlq.urn);
      }
    },
  }),
  stackRule({
    name: "production-alarms-notify",
    source: "order-relay",
    summary:
      "on a production stack every alarm notifies someone (an alarm action: the alarm topic of order-relay:alarms.email); an alarm nobody receives protects nothing.",
    configSchema: declarationSchema,
    check: (args, report) => {
      if (declarations(args).production !== true) args.notApplicable("not a production stack");
      const silent = ofType(args.resources, aws.cloudwatch.MetricAlarm).filter(
        (alarm) => !(alarm.props.alarmActions as string[] | undefined)?.length,
      );
      if (silent.length > 0) {
        report(
          `${silent.length} alarm(s) notify no one (e.g. ${silent[0].props.name}) — set order-relay:alarms.email (an SNS topic per region receives every alarm)`,
        );
      }
    },
  }),
  resourceRule({
    name: "sns-topic-encrypted-cmk",
    source: "CKV_AWS_26, AVD-AWS-0136",
    summary:
      "SNS topics are encrypted with a customer managed key (CloudWatch alarms cannot publish to topics under alias/aws/sns).",
    of: aws.sns.Topic,
    check: (topic, _args, report) => {
      if (!topic.kmsMasterKeyId) report(`topic ${topic.name} is not encrypted`);
      else if (topic.kmsMasterKeyId === "alias/aws/sns") {
        report(
          `topic ${topic.name} uses alias/aws/sns — CloudWatch alarms cannot publish to it; use a customer managed key`,
        );
      }
    },
  }),
];
