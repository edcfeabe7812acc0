/**
 * The privacy bound: the same terms config/residence.ts computes for `npm run plan`, read here
 * from the resources and the stack's declarations.
 */
import * as aws from "@pulumi/aws";
import { PolicyResource } from "@pulumi/policy";
import { describeResidence, residenceFromValues } from "../../config/residence";
import { declarationSchema, declarations } from "./declarations";
import { RelayPolicy, stackRule } from "./factory";
import { AWS_DEFAULT_SQS_RETENTION_SECONDS, ofType, queueRoles } from "./stack";

export const residence: RelayPolicy[] = [
  stackRule({
    name: "privacy-residence-within-bound",
    source: "order-relay",
    summary:
      "the worst-case time an order stays in AWS (DB retention + purge interval + backups + queues + DLQs + aggregator + logs, read from the resources) is within order-relay:maxResidenceHours.",
    configSchema: declarationSchema,
    check: (args, report) => {
      const declared = declarations(args);
      if (declared.maxResidenceHours === undefined) {
        args.notApplicable("the stack sets no order-relay:maxResidenceHours");
      }
      const { regional, aggregator, dlqs } = queueRoles(args.resources);
      const retention = (q: PolicyResource) =>
        (q.props.messageRetentionSeconds as number | undefined) ??
        AWS_DEFAULT_SQS_RETENTION_SECONDS;
      const max = (values: number[]) => (values.length === 0 ? 0 : Math.max(...values));
      const groups = ofType(args.resources, aws.cloudwatch.LogGroup);
      const neverExpire = groups.filter((g) => !g.props.retentionInDays);
      for (const g of neverExpire)
        report(`log group ${g.props.name} never expires: the residence is unbounded`, g.urn);
      const residence = residenceFromValues(
        {
          retentionHours: declared.retentionHours ?? 0,
          purgeIntervalMinutes: declared.purgeIntervalMinutes ?? 0,
          backupRetentionDays: max(
            ofType(args.resources, aws.rds.Cluster).map((c) => c.props.backupRetentionPeriod ?? 1),
          ),
          queueRetentionSeconds: max(regional.map(retention)),
          dlqRetentionSeconds: max(dlqs.map(retention)),
          aggregatorRetentionSeconds: max(aggregator.map(retention)),
          logRetentionDays: max(groups.map((g) => g.props.retentionInDays ?? 0)),
          sources: {
            retentionHours: "retentionHours (declared)",
            purgeIntervalMinutes: "purgeIntervalMinutes (declared)",
            backupRetentionDays: "max aws:rds/cluster backupRetentionPeriod",
            queueRetentionSeconds: "max regional queue messageRetentionSeconds",
            dlqRetentionSeconds: "max DLQ messageRetentionSeconds",
            aggregatorRetentionSeconds: "aggregator queue messageRetentionSeconds",
            logRetentionDays: "max log group retentionInDays",
          },
        },
        declared.maxResidenceHours,
      );
      if (!residence.withinBound) {
        report(
          `worst-case residence ${residence.totalHours} h exceeds maxResidenceHours ${residence.boundHours} h:\n${describeResidence(residence)}`,
        );
      }
    },
  }),
];
