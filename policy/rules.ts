/**
 * The order relay's CrossGuard rules: a plain `policies` array, so tests and `npm run policy` run
 * them without constructing a PolicyPack (whose constructor starts a gRPC server).
 *
 * Each rule's description starts with its source ids: checkov `CKV_AWS_*`, trivy `AVD-AWS-*`, or
 * `order-relay` for rules of our own design (topology, privacy, our deliberate choices).
 *
 * Stack facts the resources cannot show (is this a production stack? the privacy bound and the
 * DB retention) are read from the inputs the program declares on its
 * `order-relay:observability:RelayObservability` component; the pack's own config
 * (`--policy-pack-config`) may override each of them (see policy/README.md).
 */
import * as aws from "@pulumi/aws";
import {
  EnforcementLevel,
  PolicyResource,
  ReportViolation,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
  validateResourceOfType,
} from "@pulumi/policy";
import { describeResidence, residenceFromValues } from "../config/residence";

export type RelayPolicy = (ResourceValidationPolicy | StackValidationPolicy) & {
  /** Where the rule comes from: checkov / trivy ids, or "order-relay". */
  readonly source: string;
  readonly enforcementLevel: EnforcementLevel;
};

// ---------------------------------------------------------------------------------------------
// Helpers

interface Statement {
  Sid?: string;
  Effect?: string;
  Principal?: unknown;
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}

const list = <T>(value: T | T[] | undefined | null): T[] =>
  value === undefined || value === null ? [] : Array.isArray(value) ? value : [value];

/** Statements of a policy document given as JSON text or an object; [] when absent. */
export function statementsOf(document: unknown): Statement[] {
  if (document === undefined || document === null || document === "") return [];
  const parsed = typeof document === "string" ? JSON.parse(document) : document;
  return list((parsed as { Statement?: Statement | Statement[] }).Statement);
}

function principalIsPublic(principal: unknown): boolean {
  if (principal === "*") return true;
  if (principal && typeof principal === "object") {
    return list((principal as { AWS?: unknown }).AWS as unknown[]).some((p) => p === "*");
  }
  return false;
}

const allows = (s: Statement) => s.Effect === "Allow";

/** Actions AWS accepts only with `Resource: "*"` (no resource-level permissions). */
export const ACTIONS_REQUIRING_STAR: readonly string[] = [
  "xray:PutTraceSegments",
  "xray:PutTelemetryRecords",
  "xray:GetSamplingRules",
  "xray:GetSamplingTargets",
  "xray:GetSamplingStatisticSummaries",
];

const DEFAULT_SQS_RETENTION_SECONDS = 345600;

/** The stack's declarations (see the file comment), with pack-config overrides. */
interface Declarations {
  production?: boolean;
  maxResidenceHours?: number;
  retentionHours?: number;
  purgeIntervalMinutes?: number;
}

export const DECLARING_COMPONENT = "order-relay:observability:RelayObservability";

function declarations(args: StackValidationArgs): Declarations {
  const component = args.resources.find((r) => r.type === DECLARING_COMPONENT);
  const declared = (component?.props ?? {}) as Declarations;
  const overrides = args.getConfig<Declarations>();
  const tagged = args.stackTags.get("order-relay:production");
  return {
    production:
      overrides.production ??
      declared.production ??
      (tagged === undefined ? undefined : tagged === "true"),
    maxResidenceHours: overrides.maxResidenceHours ?? declared.maxResidenceHours,
    retentionHours: overrides.retentionHours ?? declared.retentionHours,
    purgeIntervalMinutes: overrides.purgeIntervalMinutes ?? declared.purgeIntervalMinutes,
  };
}

const declarationSchema = {
  properties: {
    production: { type: "boolean" as const, description: "Override: the stack is production." },
    maxResidenceHours: { type: "number" as const, description: "Override: the privacy bound." },
    retentionHours: { type: "number" as const, description: "Override: DB retention (hours)." },
    purgeIntervalMinutes: { type: "number" as const, description: "Override: purge interval." },
  },
};

const ofType = (resources: PolicyResource[], type: string) =>
  resources.filter((r) => r.type === type);

function hasAncestor(resource: PolicyResource, type: string): boolean {
  for (let p = resource.parent; p; p = p.parent) if (p.type === type) return true;
  return false;
}

/** The region of a custom resource, from its provider. */
const regionOf = (resource: PolicyResource): string | undefined =>
  resource.provider?.props?.region as string | undefined;

const QUEUE = "aws:sqs/queue:Queue";
const AGGREGATOR = "order-relay:aggregator:Aggregator";

/** Queues split into dead-letter queues (targets of a redrive policy) and source queues. */
function queueRoles(resources: PolicyResource[]) {
  const queues = ofType(resources, QUEUE);
  const dlqArns = new Set(
    queues
      .map((q) => q.props.redrivePolicy)
      .filter((p): p is string => typeof p === "string" && p !== "")
      .map((p) => (JSON.parse(p) as { deadLetterTargetArn?: string }).deadLetterTargetArn),
  );
  const dlqs = queues.filter((q) => dlqArns.has(q.props.arn));
  const sources = queues.filter((q) => !dlqArns.has(q.props.arn));
  const aggregator = sources.filter((q) => hasAncestor(q, AGGREGATOR));
  const regional = sources.filter((q) => !hasAncestor(q, AGGREGATOR));
  return { queues, dlqs, sources, aggregator, regional };
}

/** Functions fed by an SQS event source mapping from a regional queue: the forwarders. */
function forwarders(resources: PolicyResource[]) {
  const { regional } = queueRoles(resources);
  const functions = ofType(resources, "aws:lambda/function:Function");
  const result: { fn: PolicyResource; queue: PolicyResource }[] = [];
  for (const mapping of ofType(resources, "aws:lambda/eventSourceMapping:EventSourceMapping")) {
    const queue = regional.find((q) => q.props.arn === mapping.props.eventSourceArn);
    const target = mapping.props.functionName;
    const fn = functions.find((f) => f.props.arn === target || f.props.name === target);
    if (queue && fn) result.push({ fn, queue });
  }
  return result;
}

/** Allow statements of every inline policy of the role with this ARN. */
function roleStatements(resources: PolicyResource[], roleArn: string): Statement[] {
  const role = ofType(resources, "aws:iam/role:Role").find((r) => r.props.arn === roleArn);
  if (!role) return [];
  return ofType(resources, "aws:iam/rolePolicy:RolePolicy")
    .filter((p) => p.props.role === role.props.name || p.props.role === role.props.id)
    .flatMap((p) => statementsOf(p.props.policy));
}

const actionMatches = (pattern: string, action: string) =>
  pattern === "*" ||
  new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`, "i").test(
    action,
  );

const grants = (s: Statement, action: string, resource: string) =>
  allows(s) &&
  list(s.Action).some((a) => actionMatches(a, action)) &&
  list(s.Resource).some((r) => actionMatches(r, resource));

const identityPolicyTypes = [
  aws.iam.RolePolicy,
  aws.iam.Policy,
  aws.iam.UserPolicy,
  aws.iam.GroupPolicy,
];

/** Validates the `policy` document of each identity-policy resource type. */
function validateIdentityPolicies(check: (statement: Statement, report: ReportViolation) => void) {
  return identityPolicyTypes.map((cls) =>
    validateResourceOfType(cls as typeof aws.iam.RolePolicy, (policy, _args, report) => {
      for (const statement of statementsOf(policy.policy)) check(statement, report);
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Aurora

const aurora: RelayPolicy[] = [
  {
    name: "aurora-storage-encrypted",
    source: "CKV_AWS_96, AVD-AWS-0079",
    description: "CKV_AWS_96 / AVD-AWS-0079: Aurora clusters encrypt storage at rest.",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.rds.Cluster, (cluster, _args, report) => {
      if (cluster.storageEncrypted !== true) {
        report(
          `cluster ${cluster.clusterIdentifier} has storageEncrypted unset/false — set storageEncrypted: true`,
        );
      }
    }),
  },
  {
    name: "rds-instance-not-public",
    source: "CKV_AWS_17",
    description: "CKV_AWS_17: no database instance is publicly accessible.",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.rds.ClusterInstance, (instance, _args, report) => {
      if (instance.publiclyAccessible === true) {
        report(`instance ${instance.identifier} is publiclyAccessible — orders must stay private`);
      }
    }),
  },
  {
    name: "aurora-deletion-protection-in-production",
    source: "CKV_AWS_139, AVD-AWS-0177",
    description:
      "CKV_AWS_139 / AVD-AWS-0177: clusters of a production stack have deletion protection.",
    enforcementLevel: "mandatory",
    configSchema: declarationSchema,
    validateStack: (args, report) => {
      const { production } = declarations(args);
      if (production !== true) args.notApplicable("not a production stack");
      for (const cluster of ofType(args.resources, "aws:rds/cluster:Cluster")) {
        if (cluster.props.deletionProtection !== true) {
          report(
            `production cluster ${cluster.props.clusterIdentifier} has deletionProtection off — set regions[].deletionProtection: true (or omit it)`,
            cluster.urn,
          );
        }
      }
    },
  },
  {
    name: "aurora-backup-retention-bounds",
    source: "CKV_AWS_133, AVD-AWS-0077",
    description:
      "CKV_AWS_133 / AVD-AWS-0077 (lower bound), order-relay (upper bound): backup retention is set and at most maxBackupRetentionDays (purged orders live on in backups).",
    enforcementLevel: "mandatory",
    configSchema: {
      properties: {
        maxBackupRetentionDays: { type: "number", default: 7, minimum: 1, maximum: 35 },
      },
    },
    validateResource: validateResourceOfType(aws.rds.Cluster, (cluster, args, report) => {
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
    }),
  },
  {
    name: "aurora-audit-log-export",
    source: "CKV_AWS_324",
    description: "CKV_AWS_324: Aurora clusters export their audit log to CloudWatch Logs.",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.rds.Cluster, (cluster, _args, report) => {
      if (!list(cluster.enabledCloudwatchLogsExports).includes("audit")) {
        report(`cluster ${cluster.clusterIdentifier} does not export "audit" logs`);
      }
    }),
  },
  {
    name: "aurora-master-password-managed",
    source: "order-relay",
    description:
      "order-relay: the master password is managed by RDS in Secrets Manager, never a plaintext input.",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.rds.Cluster, (cluster, _args, report) => {
      if (cluster.masterPassword !== undefined) {
        report(
          `cluster ${cluster.clusterIdentifier} sets masterPassword — use manageMasterUserPassword: true`,
        );
      } else if (cluster.manageMasterUserPassword !== true && !cluster.snapshotIdentifier) {
        report(`cluster ${cluster.clusterIdentifier}: manageMasterUserPassword is not true`);
      }
    }),
  },
  {
    name: "aurora-require-secure-transport",
    source: "order-relay",
    description: "order-relay: cluster parameter groups set require_secure_transport = ON.",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(
      aws.rds.ClusterParameterGroup,
      (group, _args, report) => {
        const value = list(group.parameters).find(
          (p) => p.name === "require_secure_transport",
        )?.value;
        if (!["ON", "1"].includes(String(value ?? "").toUpperCase())) {
          report(
            `parameter group ${group.name} does not set require_secure_transport = ON (got ${value ?? "unset"})`,
          );
        }
      },
    ),
  },
  {
    name: "rds-instance-performance-insights-off",
    source: "order-relay (deliberately contrary to CKV_AWS_353)",
    description:
      "order-relay: Performance Insights stays off — it keeps SQL text (order values) outside the privacy window.",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.rds.ClusterInstance, (instance, _args, report) => {
      if (instance.performanceInsightsEnabled === true) {
        report(`instance ${instance.identifier} enables Performance Insights`);
      }
    }),
  },
  {
    name: "rds-instance-auto-minor-upgrade",
    source: "CKV_AWS_226",
    description: "CKV_AWS_226: database instances take minor version upgrades automatically.",
    enforcementLevel: "advisory",
    validateResource: validateResourceOfType(aws.rds.ClusterInstance, (instance, _args, report) => {
      if (instance.autoMinorVersionUpgrade === false) {
        report(`instance ${instance.identifier} has autoMinorVersionUpgrade: false`);
      }
    }),
  },
];

// ---------------------------------------------------------------------------------------------
// SQS

/** Queue policy documents keyed by queue URL. */
function queuePolicies(resources: PolicyResource[]): Map<string, Statement[]> {
  const byUrl = new Map<string, Statement[]>();
  for (const p of ofType(resources, "aws:sqs/queuePolicy:QueuePolicy")) {
    byUrl.set(p.props.queueUrl, [
      ...(byUrl.get(p.props.queueUrl) ?? []),
      ...statementsOf(p.props.policy),
    ]);
  }
  return byUrl;
}

const sqs: RelayPolicy[] = [
  {
    name: "sqs-encrypted",
    source: "CKV_AWS_27, AVD-AWS-0096",
    description: "CKV_AWS_27 / AVD-AWS-0096: every queue is encrypted at rest (SSE-SQS or KMS).",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.sqs.Queue, (queue, _args, report) => {
      if (queue.sqsManagedSseEnabled !== true && !queue.kmsMasterKeyId) {
        report(`queue ${queue.name} is not encrypted — set sqsManagedSseEnabled: true`);
      }
    }),
  },
  {
    name: "sqs-source-queue-has-dlq",
    source: "order-relay",
    description:
      "order-relay: every queue that is not itself a dead-letter queue redrives to a DLQ in the stack.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
      const { queues, sources } = queueRoles(args.resources);
      const arns = new Set(queues.map((q) => q.props.arn));
      for (const queue of sources) {
        const redrive = queue.props.redrivePolicy;
        const target = redrive
          ? (JSON.parse(redrive) as { deadLetterTargetArn?: string }).deadLetterTargetArn
          : undefined;
        if (!target) {
          report(
            `queue ${queue.props.name} has no redrive policy: failed messages would be lost or loop`,
            queue.urn,
          );
        } else if (!arns.has(target)) {
          report(
            `queue ${queue.props.name} redrives to ${target}, which is not a queue of this stack`,
            queue.urn,
          );
        }
      }
    },
  },
  {
    name: "sqs-tls-only-policy",
    source: "order-relay",
    description:
      "order-relay: every queue's policy denies requests without TLS (aws:SecureTransport = false).",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
      const policies = queuePolicies(args.resources);
      for (const queue of ofType(args.resources, QUEUE)) {
        const statements = policies.get(queue.props.url) ?? [];
        const tlsOnly = statements.some(
          (s) =>
            s.Effect === "Deny" &&
            principalIsPublic(s.Principal) &&
            list(s.Action).some((a) => a === "sqs:*" || a === "*") &&
            String(s.Condition?.Bool?.["aws:SecureTransport"]) === "false",
        );
        if (!tlsOnly) {
          report(
            `queue ${queue.props.name} has no policy denying non-TLS access (Deny sqs:* when aws:SecureTransport is false)`,
            queue.urn,
          );
        }
      }
    },
  },
  {
    name: "sqs-policy-no-public-allow",
    source: "CKV_AWS_168",
    description:
      "CKV_AWS_168: no queue policy allows the `*` principal (Deny statements with `*` are fine).",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.sqs.QueuePolicy, (policy, _args, report) => {
      for (const s of statementsOf(policy.policy).filter(allows)) {
        if (principalIsPublic(s.Principal)) {
          report(`statement ${s.Sid ?? "(no Sid)"} allows Principal "*" on ${policy.queueUrl}`);
        }
      }
    }),
  },
  {
    name: "sqs-policy-no-wildcard-action",
    source: "CKV_AWS_72, AVD-AWS-0097",
    description: "CKV_AWS_72 / AVD-AWS-0097: no queue policy allows `*` or `sqs:*` actions.",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.sqs.QueuePolicy, (policy, _args, report) => {
      for (const s of statementsOf(policy.policy).filter(allows)) {
        const wild = list(s.Action).filter((a) => a === "*" || a.toLowerCase() === "sqs:*");
        if (wild.length > 0 || s.NotAction) {
          report(
            `statement ${s.Sid ?? "(no Sid)"} allows ${wild.join(", ") || "NotAction"} on ${policy.queueUrl}`,
          );
        }
      }
    }),
  },
  {
    name: "sqs-retention-within-bound",
    source: "order-relay",
    description:
      "order-relay: every queue sets its retention explicitly and keeps messages no longer than the stack's privacy bound.",
    enforcementLevel: "mandatory",
    configSchema: declarationSchema,
    validateStack: (args, report) => {
      const { maxResidenceHours } = declarations(args);
      for (const queue of ofType(args.resources, QUEUE)) {
        const seconds = queue.props.messageRetentionSeconds as number | undefined;
        if (seconds === undefined) {
          report(
            `queue ${queue.props.name} relies on the default retention (4 days) — set messageRetentionSeconds`,
            queue.urn,
          );
        } else if (maxResidenceHours !== undefined && seconds / 3600 > maxResidenceHours) {
          report(
            `queue ${queue.props.name} keeps messages ${seconds / 3600} h, above maxResidenceHours ${maxResidenceHours} h`,
            queue.urn,
          );
        }
      }
    },
  },
  {
    name: "sqs-dlq-redrive-allow-restricted",
    source: "order-relay",
    description:
      "order-relay: a dead-letter queue accepts redrives only from its own source queue (redrivePermission byQueue).",
    enforcementLevel: "advisory",
    validateStack: (args, report) => {
      const { dlqs } = queueRoles(args.resources);
      const allowPolicies = ofType(args.resources, "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy");
      for (const dlq of dlqs) {
        const policy =
          allowPolicies.find((p) => p.props.queueUrl === dlq.props.url)?.props.redriveAllowPolicy ??
          dlq.props.redriveAllowPolicy;
        const permission = policy
          ? (JSON.parse(policy) as { redrivePermission?: string }).redrivePermission
          : undefined;
        if (permission !== "byQueue") {
          report(
            `DLQ ${dlq.props.name} has redrivePermission ${permission ?? "unset (allowAll)"} — use byQueue`,
            dlq.urn,
          );
        }
      }
    },
  },
];

// ---------------------------------------------------------------------------------------------
// Lambda and logs

/** Runtimes AWS has deprecated (or will shortly); anything older in a family is deprecated too. */
export function runtimeProblem(runtime: string | undefined): string | undefined {
  if (!runtime) return "no runtime (container images are not used here)";
  const node = /^nodejs(\d+)\.x$/.exec(runtime);
  if (node)
    return Number(node[1]) >= 20 ? undefined : `${runtime} is deprecated — use nodejs20.x or newer`;
  const python = /^python3\.(\d+)$/.exec(runtime);
  if (python)
    return Number(python[1]) >= 10
      ? undefined
      : `${runtime} is deprecated — use python3.10 or newer`;
  if (
    /^(provided\.al2023|provided\.al2|java(17|21|25)|dotnet(8|9|10)|ruby3\.[3-9])$/.test(runtime)
  ) {
    return undefined;
  }
  return `${runtime} is deprecated or unknown`;
}

const SECRET_NAME = /(secret|passw(or)?d|pwd|token|api[_-]?key|private[_-]?key|credential)/i;
const SECRET_VALUE =
  /(AKIA|ASIA)[A-Z0-9]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|^[A-Za-z0-9/+]{40}$/;
/** Values that name a secret rather than hold one. */
const SECRET_REFERENCE = /^arn:aws[a-z-]*:(secretsmanager|ssm|kms):|^\{\{resolve:|^\/[\w/.-]+$/;

const lambda: RelayPolicy[] = [
  {
    name: "lambda-supported-runtime",
    source: "CKV_AWS_363",
    description: "CKV_AWS_363: Lambda functions use a runtime AWS still supports.",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.lambda.Function, (fn, _args, report) => {
      const problem = runtimeProblem(fn.runtime as string | undefined);
      if (problem) report(`function ${fn.name}: ${problem}`);
    }),
  },
  {
    name: "lambda-failure-destination",
    source: "CKV_AWS_116",
    description:
      "CKV_AWS_116: every function keeps what it fails on — an on-failure destination or DLQ for async invokes, or a source queue with a redrive policy.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
      const { regional, aggregator } = queueRoles(args.resources);
      const redriven = new Set(
        [...regional, ...aggregator].filter((q) => q.props.redrivePolicy).map((q) => q.props.arn),
      );
      const invokeConfigs = ofType(
        args.resources,
        "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
      );
      const mappings = ofType(args.resources, "aws:lambda/eventSourceMapping:EventSourceMapping");
      for (const fn of ofType(args.resources, "aws:lambda/function:Function")) {
        const names = [fn.props.name, fn.props.arn];
        const onFailure = invokeConfigs.some(
          (c) =>
            names.includes(c.props.functionName) &&
            c.props.destinationConfig?.onFailure?.destination,
        );
        const deadLetter = Boolean(fn.props.deadLetterConfig?.targetArn);
        const fedBy = mappings.filter((m) => names.includes(m.props.functionName));
        const queueFed =
          fedBy.length > 0 && fedBy.every((m) => redriven.has(m.props.eventSourceArn));
        if (!onFailure && !deadLetter && !queueFed) {
          report(
            `function ${fn.props.name} has no on-failure destination, no DLQ and no redriven source queue: failed events would be dropped`,
            fn.urn,
          );
        }
      }
    },
  },
  {
    name: "lambda-log-group-managed",
    source: "order-relay",
    description:
      "order-relay: every function logs to a log group of this stack (so its retention is ours, not 'never expire').",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
      const groups = new Set(
        ofType(args.resources, "aws:cloudwatch/logGroup:LogGroup").map((g) => g.props.name),
      );
      for (const fn of ofType(args.resources, "aws:lambda/function:Function")) {
        const group = fn.props.loggingConfig?.logGroup ?? `/aws/lambda/${fn.props.name}`;
        if (!groups.has(group)) {
          report(
            `function ${fn.props.name} logs to ${group}, which this stack does not create (Lambda would create it without retention)`,
            fn.urn,
          );
        }
      }
    },
  },
  {
    name: "lambda-no-secrets-in-environment",
    source: "CKV_AWS_45",
    description: "CKV_AWS_45: no secret-looking values in Lambda environment variables.",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.lambda.Function, (fn, _args, report) => {
      const variables = (fn.environment?.variables ?? {}) as Record<string, string>;
      for (const [key, value] of Object.entries(variables)) {
        const text = String(value);
        if (SECRET_REFERENCE.test(text)) continue;
        if (SECRET_VALUE.test(text) || (SECRET_NAME.test(key) && text.length > 0)) {
          report(
            `function ${fn.name}: environment variable ${key} looks like a secret — pass a Secrets Manager ARN instead`,
          );
        }
      }
    }),
  },
  {
    name: "lambda-tracing-active",
    source: "CKV_AWS_50, AVD-AWS-0066",
    description: "CKV_AWS_50 / AVD-AWS-0066: Lambda functions have X-Ray tracing active.",
    enforcementLevel: "advisory",
    validateResource: validateResourceOfType(aws.lambda.Function, (fn, _args, report) => {
      if (fn.tracingConfig?.mode !== "Active") {
        report(
          `function ${fn.name} has tracing ${fn.tracingConfig?.mode ?? "off"} — set tracingConfig.mode: Active`,
        );
      }
    }),
  },
  {
    name: "log-group-retention",
    source: "CKV_AWS_66",
    description:
      "CKV_AWS_66: every log group sets a retention (logs are part of the privacy window).",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.cloudwatch.LogGroup, (group, _args, report) => {
      if (!group.retentionInDays) {
        report(`log group ${group.name} never expires — set retentionInDays`);
      }
    }),
  },
];

// ---------------------------------------------------------------------------------------------
// IAM

const BROAD_MANAGED_POLICY =
  /:policy\/(service-role\/)?(AdministratorAccess|PowerUserAccess|[A-Za-z0-9]*FullAccess|AWSLambdaRole)$/;

const iam: RelayPolicy[] = [
  {
    name: "iam-no-broad-managed-policies",
    source: "CKV_AWS_274",
    description:
      "CKV_AWS_274 (+ order-relay): no AdministratorAccess, PowerUserAccess, *FullAccess or AWSLambdaRole managed policy.",
    enforcementLevel: "mandatory",
    validateResource: [
      validateResourceOfType(aws.iam.RolePolicyAttachment, (attachment, _args, report) => {
        if (BROAD_MANAGED_POLICY.test(attachment.policyArn)) {
          report(
            `role ${attachment.role} is attached ${attachment.policyArn} — grant the exact actions on exact ARNs instead`,
          );
        }
      }),
      validateResourceOfType(aws.iam.Role, (role, _args, report) => {
        for (const arn of list(role.managedPolicyArns)) {
          if (BROAD_MANAGED_POLICY.test(arn))
            report(`role ${role.name} uses managed policy ${arn}`);
        }
      }),
    ],
  },
  {
    name: "iam-no-wildcard-action",
    source: "CKV_AWS_63, AVD-AWS-0057",
    description: "CKV_AWS_63 / AVD-AWS-0057: no identity policy allows `*` or `service:*` actions.",
    enforcementLevel: "mandatory",
    validateResource: validateIdentityPolicies((s, report) => {
      if (!allows(s)) return;
      const wild = list(s.Action).filter((a) => a === "*" || a.endsWith(":*"));
      if (wild.length > 0 || s.NotAction) {
        report(`statement ${s.Sid ?? "(no Sid)"} allows ${wild.join(", ") || "NotAction"}`);
      }
    }),
  },
  {
    name: "iam-no-wildcard-resource",
    source: "CKV_AWS_355, AVD-AWS-0057",
    description:
      'CKV_AWS_355 / AVD-AWS-0057: no identity policy allows `Resource: "*"`, except for actions AWS supports only on `*` (X-Ray).',
    enforcementLevel: "mandatory",
    validateResource: validateIdentityPolicies((s, report) => {
      if (!allows(s) || !list(s.Resource).includes("*")) return;
      const restrictable = list(s.Action).filter((a) => !ACTIONS_REQUIRING_STAR.includes(a));
      if (restrictable.length > 0) {
        report(
          `statement ${s.Sid ?? "(no Sid)"} allows ${restrictable.join(", ")} on "*" — name the exact ARNs`,
        );
      }
    }),
  },
  {
    name: "iam-trust-not-public",
    source: "CKV_AWS_60",
    description: "CKV_AWS_60: no role's trust policy lets `*` assume it.",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.iam.Role, (role, _args, report) => {
      for (const s of statementsOf(role.assumeRolePolicy).filter(allows)) {
        if (principalIsPublic(s.Principal))
          report(`role ${role.name} can be assumed by Principal "*"`);
      }
    }),
  },
  {
    name: "iam-service-trust-scoped",
    source: "order-relay",
    description:
      "order-relay: roles trusted by a service other than Lambda are scoped with aws:SourceArn or aws:SourceAccount (confused deputy).",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.iam.Role, (role, _args, report) => {
      for (const s of statementsOf(role.assumeRolePolicy).filter(allows)) {
        const services = list(
          (s.Principal as { Service?: string | string[] } | undefined)?.Service,
        );
        if (services.length === 0 || services.every((svc) => svc === "lambda.amazonaws.com"))
          continue;
        const keys = Object.values(s.Condition ?? {}).flatMap((c) => Object.keys(c));
        if (!keys.some((k) => /^aws:Source(Arn|Account)$/i.test(k))) {
          report(
            `role ${role.name} trusts ${services.join(", ")} without an aws:SourceArn/SourceAccount condition`,
          );
        }
      }
    }),
  },
];

// ---------------------------------------------------------------------------------------------
// Topology, privacy and observability (our own)

const topology: RelayPolicy[] = [
  {
    name: "topology-every-region-forwards",
    source: "order-relay",
    description:
      "order-relay: every region with an Aurora cluster has a forwarder, fed by its regional queue, that sends to the aggregator queue.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
      const { aggregator } = queueRoles(args.resources);
      if (aggregator.length !== 1) {
        report(`expected exactly one aggregator queue, found ${aggregator.length}`);
        return;
      }
      const target = aggregator[0];
      const forwarding = forwarders(args.resources).filter(({ fn }) => {
        const env = (fn.props.environment?.variables ?? {}) as Record<string, string>;
        return (
          env.AGGREGATOR_QUEUE_URL === target.props.url &&
          roleStatements(args.resources, fn.props.role).some((s) =>
            grants(s, "sqs:SendMessage", target.props.arn),
          )
        );
      });
      const regions = new Set(ofType(args.resources, "aws:rds/cluster:Cluster").map(regionOf));
      for (const region of regions) {
        if (
          !forwarding.some(({ fn, queue }) => regionOf(fn) === region && regionOf(queue) === region)
        ) {
          report(
            `region ${region} has no forwarder that reads its regional queue, has AGGREGATOR_QUEUE_URL = ${target.props.url} and may sqs:SendMessage to ${target.props.arn}`,
          );
        }
      }
    },
  },
  {
    name: "aggregator-accepts-only-forwarders",
    source: "order-relay",
    description:
      "order-relay: the aggregator queue policy lets exactly the regional forwarder roles send, and denies SendMessage to every other principal.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
      const { aggregator } = queueRoles(args.resources);
      if (aggregator.length !== 1) args.notApplicable("no single aggregator queue");
      const queue = aggregator[0];
      const expected = new Set(forwarders(args.resources).map(({ fn }) => fn.props.role as string));
      const statements = queuePolicies(args.resources).get(queue.props.url) ?? [];
      const sends = (s: Statement) =>
        list(s.Action).some((a) => actionMatches(a, "sqs:SendMessage"));
      const allowed = new Set(
        statements
          .filter((s) => allows(s) && sends(s))
          .flatMap((s) =>
            principalIsPublic(s.Principal)
              ? ["*"]
              : list((s.Principal as { AWS?: string | string[] })?.AWS),
          ),
      );
      const extra = [...allowed].filter((p) => !expected.has(p));
      const missing = [...expected].filter((p) => !allowed.has(p));
      if (extra.length > 0)
        report(`the aggregator queue lets non-forwarders send: ${extra.join(", ")}`, queue.urn);
      if (missing.length > 0)
        report(`forwarders not admitted to the aggregator queue: ${missing.join(", ")}`, queue.urn);
      const denyOthers = statements.some((s) => {
        if (s.Effect !== "Deny" || !principalIsPublic(s.Principal) || !sends(s)) return false;
        const exempt = list(s.Condition?.ArnNotEquals?.["aws:PrincipalArn"] as string | string[]);
        return exempt.length === expected.size && exempt.every((p) => expected.has(p));
      });
      if (!denyOthers) {
        report(
          "the aggregator queue policy has no Deny of sqs:SendMessage for every principal except the forwarder roles (ArnNotEquals aws:PrincipalArn)",
          queue.urn,
        );
      }
    },
  },
  {
    name: "privacy-residence-within-bound",
    source: "order-relay",
    description:
      "order-relay: the worst-case time an order stays in AWS (DB retention + purge interval + backups + queues + DLQs + aggregator + logs, read from the resources) is within order-relay:maxResidenceHours.",
    enforcementLevel: "mandatory",
    configSchema: declarationSchema,
    validateStack: (args, report) => {
      const declared = declarations(args);
      if (declared.maxResidenceHours === undefined) {
        args.notApplicable("the stack sets no order-relay:maxResidenceHours");
      }
      const { regional, aggregator, dlqs } = queueRoles(args.resources);
      const retention = (q: PolicyResource) =>
        (q.props.messageRetentionSeconds as number | undefined) ?? DEFAULT_SQS_RETENTION_SECONDS;
      const max = (values: number[]) => (values.length === 0 ? 0 : Math.max(...values));
      const groups = ofType(args.resources, "aws:cloudwatch/logGroup:LogGroup");
      const neverExpire = groups.filter((g) => !g.props.retentionInDays);
      for (const g of neverExpire)
        report(`log group ${g.props.name} never expires: the residence is unbounded`, g.urn);
      const residence = residenceFromValues(
        {
          retentionHours: declared.retentionHours ?? 0,
          purgeIntervalMinutes: declared.purgeIntervalMinutes ?? 0,
          backupRetentionDays: max(
            ofType(args.resources, "aws:rds/cluster:Cluster").map(
              (c) => c.props.backupRetentionPeriod ?? 1,
            ),
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
  },
  {
    name: "every-dlq-alarmed",
    source: "order-relay",
    description:
      "order-relay: every dead-letter queue has an alarm on ApproximateNumberOfMessagesVisible > 0 (nothing lost silently).",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
      const alarms = ofType(args.resources, "aws:cloudwatch/metricAlarm:MetricAlarm");
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
  },
  {
    name: "sns-topic-encrypted-cmk",
    source: "CKV_AWS_26, AVD-AWS-0136",
    description:
      "CKV_AWS_26 / AVD-AWS-0136: SNS topics are encrypted with a customer managed key (CloudWatch alarms cannot publish to topics under alias/aws/sns).",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.sns.Topic, (topic, _args, report) => {
      if (!topic.kmsMasterKeyId) report(`topic ${topic.name} is not encrypted`);
      else if (topic.kmsMasterKeyId === "alias/aws/sns") {
        report(
          `topic ${topic.name} uses alias/aws/sns — CloudWatch alarms cannot publish to it; use a customer managed key`,
        );
      }
    }),
  },
  {
    name: "kms-key-rotation",
    source: "CKV_AWS_7, AVD-AWS-0065",
    description: "CKV_AWS_7 / AVD-AWS-0065: customer managed KMS keys rotate automatically.",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.kms.Key, (key, _args, report) => {
      if (key.enableKeyRotation !== true)
        report(`KMS key "${key.description ?? ""}" has rotation off`);
    }),
  },
];

/** Every rule of the pack. */
export const policies: RelayPolicy[] = [...aurora, ...sqs, ...lambda, ...iam, ...topology];
