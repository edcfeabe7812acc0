import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPE } from "../contract/componentTypes";
import { RegionSettings } from "../config/schema";

/** Log types exported to CloudWatch; each gets a log group with bounded retention up front. */
export const AURORA_LOG_EXPORTS = ["audit", "error", "slowquery"] as const;

export interface AuroraClusterArgs {
  readonly settings: RegionSettings;
  /** Cluster identifier (lowercase, ≤ 63, carries the region). */
  readonly clusterIdentifier: string;
  /** Instance identifier for an instance name (≤ 63). */
  readonly instanceIdentifier: (instanceName: string) => string;
  readonly dbSubnetGroupName: pulumi.Input<string>;
  readonly securityGroupIds: pulumi.Input<string>[];
  /** The role Aurora assumes for `lambda_async` (aws_default_lambda_role + association). */
  readonly lambdaInvokeRoleArn: pulumi.Input<string>;
  /** Retention of the exported Aurora logs (days); part of the privacy window. */
  readonly logRetentionDays: number;
  /** Master user name; its password is managed by Secrets Manager. @default - "relayadmin" */
  readonly masterUsername?: string;
  /** Allow IAM database authentication (the ack path). @default - off */
  readonly iamDatabaseAuthentication?: boolean;
}

/**
 * Aurora MySQL 3 (8.0-compatible): encrypted, private, password in Secrets Manager, with the
 * cluster parameters the relay needs and the Lambda invoke role associated.
 */
export class AuroraCluster extends pulumi.ComponentResource {
  public readonly cluster: aws.rds.Cluster;
  public readonly instances: Record<string, aws.rds.ClusterInstance>;
  public readonly endpoint: pulumi.Output<string>;
  /** `cluster-…`: the id IAM database authentication names in `rds-db:connect` ARNs. */
  public readonly resourceId: pulumi.Output<string>;
  public readonly port: pulumi.Output<number>;
  public readonly masterUsername: pulumi.Output<string>;
  /** ARN of the Secrets Manager secret holding the master password. */
  public readonly masterUserSecretArn: pulumi.Output<string>;
  /** Resolves once the invoke role is associated (lambda_async works from then on). */
  public readonly lambdaReady: pulumi.Output<string>;

  constructor(name: string, args: AuroraClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super(COMPONENT_TYPE.auroraCluster, name, {}, opts);
    const childOpts = { parent: this };
    const { settings } = args;

    const parameterGroup = new aws.rds.ClusterParameterGroup(
      `${name}-params`,
      {
        name: `${args.clusterIdentifier}-params`,
        family: "aurora-mysql8.0",
        description: "order relay: Lambda role, event scheduler, roles on login, TLS only",
        parameters: [
          // lambda_async() assumes this role.
          { name: "aws_default_lambda_role", value: args.lambdaInvokeRoleArn },
          // Runs relay_dispatch every second and relay_purge every few minutes.
          { name: "event_scheduler", value: "ON" },
          // Makes AWS_LAMBDA_ACCESS active for the relay user without SET DEFAULT ROLE.
          { name: "activate_all_roles_on_login", value: "1" },
          { name: "require_secure_transport", value: "ON" },
          // The relay user (no SUPER) defines the trigger and procedures; needed once binlog is on.
          { name: "log_bin_trust_function_creators", value: "1" },
          // Audit connections only: QUERY events would copy order rows (personal data) into logs.
          { name: "server_audit_logging", value: "1" },
          { name: "server_audit_events", value: "CONNECT" },
        ],
      },
      childOpts,
    );

    const logGroups = AURORA_LOG_EXPORTS.map(
      (logType) =>
        new aws.cloudwatch.LogGroup(
          `${name}-log-${logType}`,
          {
            name: `/aws/rds/cluster/${args.clusterIdentifier}/${logType}`,
            retentionInDays: args.logRetentionDays,
          },
          childOpts,
        ),
    );

    this.cluster = new aws.rds.Cluster(
      `${name}-cluster`,
      {
        clusterIdentifier: args.clusterIdentifier,
        engine: "aurora-mysql",
        engineMode: "provisioned",
        engineVersion: settings.engineVersion,
        masterUsername: args.masterUsername ?? "relayadmin",
        manageMasterUserPassword: true,
        storageEncrypted: true,
        dbSubnetGroupName: args.dbSubnetGroupName,
        vpcSecurityGroupIds: args.securityGroupIds,
        dbClusterParameterGroupName: parameterGroup.name,
        // Automated backups cannot be switched off (1..35 days); purged rows live on in them
        // for this long, which is why it is part of the privacy window.
        backupRetentionPeriod: settings.backupRetentionDays,
        preferredBackupWindow: "17:00-18:00",
        deletionProtection: settings.deletionProtection,
        skipFinalSnapshot: !settings.finalSnapshot,
        finalSnapshotIdentifier: settings.finalSnapshot
          ? `${args.clusterIdentifier}-final`
          : undefined,
        copyTagsToSnapshot: true,
        // The ack Lambda connects with an IAM token (no password exists for its MySQL user).
        iamDatabaseAuthenticationEnabled: args.iamDatabaseAuthentication ? true : undefined,
        enabledCloudwatchLogsExports: [...AURORA_LOG_EXPORTS],
        serverlessv2ScalingConfiguration: settings.serverless
          ? {
              minCapacity: settings.serverless.minCapacity,
              maxCapacity: settings.serverless.maxCapacity,
            }
          : undefined,
      },
      // The role is attached by ClusterRoleAssociation; iamRoles here would fight it.
      { ...childOpts, dependsOn: logGroups, ignoreChanges: ["iamRoles"] },
    );

    const association = new aws.rds.ClusterRoleAssociation(
      `${name}-lambda-role`,
      {
        dbClusterIdentifier: this.cluster.id,
        roleArn: args.lambdaInvokeRoleArn,
        // No featureName: Aurora MySQL's Lambda integration has none.
      },
      childOpts,
    );

    this.instances = {};
    for (const instanceName of settings.instances) {
      this.instances[instanceName] = new aws.rds.ClusterInstance(
        `${name}-instance-${instanceName}`,
        {
          identifier: args.instanceIdentifier(instanceName),
          clusterIdentifier: this.cluster.id,
          engine: "aurora-mysql",
          engineVersion: this.cluster.engineVersion,
          instanceClass: settings.instanceClass ?? "db.serverless",
          publiclyAccessible: false,
          dbSubnetGroupName: args.dbSubnetGroupName,
          autoMinorVersionUpgrade: true,
          // Performance Insights would keep SQL text (order values) outside the retention bound.
          performanceInsightsEnabled: false,
        },
        childOpts,
      );
    }

    this.endpoint = this.cluster.endpoint;
    this.resourceId = this.cluster.clusterResourceId;
    this.port = this.cluster.port;
    this.masterUsername = this.cluster.masterUsername;
    this.masterUserSecretArn = this.cluster.masterUserSecrets.apply((secrets) => {
      const arn = secrets?.[0]?.secretArn;
      if (arn === undefined) throw new Error(`${args.clusterIdentifier}: no managed master secret`);
      return arn;
    });
    this.lambdaReady = pulumi
      .all([association.id, ...Object.values(this.instances).map((i) => i.id)])
      .apply(([id]) => id);
    this.registerOutputs({
      endpoint: this.endpoint,
      masterUserSecretArn: this.masterUserSecretArn,
    });
  }
}
