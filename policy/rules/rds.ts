/** Aurora clusters, their instances and parameter groups. */
import * as aws from "@pulumi/aws";
import { list } from "./documents";
import { declarationSchema, declarations } from "./declarations";
import { RelayPolicy, resourceRule, stackRule } from "./factory";
import { ofType } from "./stack";

export const rds: RelayPolicy[] = [
  resourceRule({
    name: "aurora-storage-encrypted",
    source: "CKV_AWS_96, AVD-AWS-0079",
    summary: "Aurora clusters encrypt storage at rest.",
    of: aws.rds.Cluster,
    check: (cluster, _args, report) => {
      if (cluster.storageEncrypted !== true) {
        report(
          `cluster ${cluster.clusterIdentifier} has storageEncrypted unset/false — set storageEncrypted: true`,
        );
      }
    },
  }),
  resourceRule({
    name: "rds-instance-not-public",
    source: "CKV_AWS_17",
    summary: "no database instance is publicly accessible.",
    of: aws.rds.ClusterInstance,
    check: (instance, _args, report) => {
      if (instance.publiclyAccessible === true) {
        report(`instance ${instance.identifier} is publiclyAccessible — orders must stay private`);
      }
    },
  }),
  stackRule({
    name: "aurora-deletion-protection-in-production",
    source: "CKV_AWS_139, AVD-AWS-0177",
    summary: "clusters of a production stack have deletion protection.",
    configSchema: declarationSchema,
    check: (args, report) => {
      const { production } = declarations(args);
      if (production !== true) args.notApplicable("not a production stack");
      for (const cluster of ofType(args.resources, aws.rds.Cluster)) {
        if (cluster.props.deletionProtection !== true) {
          report(
            `production cluster ${cluster.props.clusterIdentifier} has deletionProtection off — set regions[].deletionProtection: true (or omit it)`,
            cluster.urn,
          );
        }
      }
    },
  }),
  resourceRule({
    name: "aurora-backup-retention-bounds",
    source: "CKV_AWS_133, AVD-AWS-0077",
    summary:
      "backup retention is set (their lower bound) and at most maxBackupRetentionDays (order-relay's upper bound: purged orders live on in backups).",
    configSchema: {
      properties: {
        maxBackupRetentionDays: { type: "number", default: 7, minimum: 1, maximum: 35 },
      },
    },
    of: aws.rds.Cluster,
    check: (cluster, args, report) => {
      const max = args.getConfig<{ maxBackupRetentionDays?: number }>().maxBackupRetentionDays ?? 7;
      const days = cluster.backupRetentionPeriod;
      if (days === undefined || days < 1) {
        report(
          `cluster ${cluster.clusterIdentifier}: backupRetentionPeriod is not set — set it explicitly (1..${max} days)`,
        );
      } else if (days > max) {
        report(
          `cluster ${cluster.clusterIdentifier}: backupRetentionPeriod ${days} d exceeds ${max} d — backups keep purged orders that long`,
        );
      }
    },
  }),
  resourceRule({
    name: "aurora-audit-log-export",
    source: "CKV_AWS_324",
    summary: "Aurora clusters export their audit log to CloudWatch Logs.",
    of: aws.rds.Cluster,
    check: (cluster, _args, report) => {
      if (!list(cluster.enabledCloudwatchLogsExports).includes("audit")) {
        report(`cluster ${cluster.clusterIdentifier} does not export "audit" logs`);
      }
    },
  }),
  resourceRule({
    name: "aurora-master-password-managed",
    source: "order-relay",
    summary: "the master password is managed by RDS in Secrets Manager, never a plaintext input.",
    of: aws.rds.Cluster,
    check: (cluster, _args, report) => {
      if (cluster.masterPassword !== undefined) {
        report(
          `cluster ${cluster.clusterIdentifier} sets masterPassword — use manageMasterUserPassword: true`,
        );
      } else if (cluster.manageMasterUserPassword !== true && !cluster.snapshotIdentifier) {
        report(`cluster ${cluster.clusterIdentifier}: manageMasterUserPassword is not true`);
      }
    },
  }),
  resourceRule({
    name: "aurora-require-secure-transport",
    source: "order-relay",
    summary: "cluster parameter groups set require_secure_transport = ON.",
    of: aws.rds.ClusterParameterGroup,
    check: (group, _args, report) => {
      const value = list(group.parameters).find(
        (p) => p.name === "require_secure_transport",
      )?.value;
      if (!["ON", "1"].includes(String(value ?? "").toUpperCase())) {
        report(
          `parameter group ${group.name} does not set require_secure_transport = ON (got ${value ?? "unset"})`,
        );
      }
    },
  }),
  resourceRule({
    name: "rds-instance-performance-insights-off",
    source: "order-relay (deliberately contrary to CKV_AWS_353)",
    summary:
      "Performance Insights stays off — it keeps SQL text (order values) outside the privacy window.",
    of: aws.rds.ClusterInstance,
    check: (instance, _args, report) => {
      if (instance.performanceInsightsEnabled === true) {
        report(`instance ${instance.identifier} enables Performance Insights`);
      }
    },
  }),
  resourceRule({
    name: "rds-instance-auto-minor-upgrade",
    source: "CKV_AWS_226",
    summary: "database instances take minor version upgrades automatically.",
    enforcementLevel: "advisory",
    of: aws.rds.ClusterInstance,
    check: (instance, _args, report) => {
      if (instance.autoMinorVersionUpgrade === false) {
        report(`instance ${instance.identifier} has autoMinorVersionUpgrade: false`);
      }
    },
  }),
];
