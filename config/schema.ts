/**
 * The stack configuration contract (namespace `order-relay`), validated before any resource is
 * created. Every rule produces one message naming the key, the bad value and the fix.
 *
 * The schema is strict everywhere: an unknown key (a typo such as `regoins`) is an error with a
 * "did you mean" suggestion, never silently ignored.
 */
// The enum module alone: the whole provider SDK takes a second and a half to load.
import { Region } from "@pulumi/aws/types/enums";
import { z } from "zod";
import { closest } from "../cli/suggest";
import {
  DATABASE_SETTING_FIELDS,
  databaseSettingsSchema,
  type DatabaseSettings,
} from "../contract/databaseSettings";

export const CONFIG_NAMESPACE = "order-relay";

/** The AWS provider's own region list (`aws.Region`), so a new region arrives with the provider. */
export const KNOWN_REGIONS: readonly string[] = Object.values(Region);

/** The ARN partition of a region; cross-partition ARNs, IAM and SQS calls are impossible. */
export function partitionOf(region: string): string {
  if (region.startsWith("cn-")) return "aws-cn";
  if (region.startsWith("us-gov-")) return "aws-us-gov";
  if (region.startsWith("us-isob-")) return "aws-iso-b";
  if (region.startsWith("us-isof-")) return "aws-iso-f";
  if (region.startsWith("eu-isoe-")) return "aws-iso-e";
  if (region.startsWith("us-iso-")) return "aws-iso";
  if (region.startsWith("eusc-")) return "aws-eusc";
  return "aws";
}

/** Valid CloudWatch Logs retention values (days); anything else is rejected by the API. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
  3653,
] as const;

/** SQS limits on a queue's MessageRetentionPeriod and VisibilityTimeout (seconds). */
export const SQS_RETENTION_SECONDS = { min: 60, max: 14 * 24 * 3600 } as const;
const SQS_MAX_VISIBILITY_SECONDS = 12 * 3600;

/** A queue retention in seconds, within what SQS accepts. */
const sqsRetentionSeconds = () =>
  z
    .number()
    .int("must be a whole number of seconds")
    .min(SQS_RETENTION_SECONDS.min, "SQS keeps messages at least 60 seconds")
    .max(SQS_RETENTION_SECONDS.max, "SQS keeps messages at most 1209600 seconds (14 days)");

const FOUR_DAYS_SECONDS = 4 * 24 * 3600;

const regionName = z.string().superRefine((value, ctx) => {
  if (!KNOWN_REGIONS.includes(value)) {
    const hint = closest(value, KNOWN_REGIONS);
    ctx.addIssue({
      code: "custom",
      message:
        `"${value}" is not an AWS region known to the AWS provider` +
        (hint ? ` — did you mean "${hint}"?` : "") +
        ` Use a region code such as "ap-northeast-1".`,
    });
  }
});

const cidrBlock = z.string().superRefine((value, ctx) => {
  const problem = cidrProblem(value);
  if (problem) ctx.addIssue({ code: "custom", message: `"${value}" ${problem}` });
});

/** Returns why `value` is not an IPv4 CIDR usable for a VPC, or undefined when it is fine. */
export function cidrProblem(value: string): string | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(value);
  if (!match) return `is not an IPv4 CIDR block — write it as a.b.c.d/n, e.g. "10.20.0.0/16"`;
  const octets = match.slice(1, 5).map(Number);
  const prefix = Number(match[5]);
  if (octets.some((o) => o > 255)) return "has an octet above 255";
  if (prefix < 16 || prefix > 24) {
    return `has prefix /${prefix}; a VPC CIDR must be /16../24 (AWS limit /16..28, and two /26+ subnets need /24 or larger)`;
  }
  const address = octets.reduce((acc, o) => acc * 256 + o, 0);
  const hostBits = 32 - prefix;
  if (address % 2 ** hostBits !== 0) {
    const network = address - (address % 2 ** hostBits);
    return `has host bits set; the network address is "${ipv4(network)}/${prefix}"`;
  }
  return undefined;
}

function ipv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

const NAME_PREFIX = /^[a-z][a-z0-9-]{1,23}[a-z0-9]$/;
const NAME_PREFIX_RULE =
  "must be 3-25 lowercase letters, digits or '-' (it prefixes cluster ids and queue names)";

const positiveInt = (max?: number) => {
  const base = z.number().int("must be a whole number").positive("must be greater than 0");
  return max === undefined ? base : base.max(max, `must be at most ${max}`);
};

const serverlessSchema = z
  .strictObject({
    /** Aurora capacity units, 0..256 in steps of 0.5; 0 lets the cluster pause (auto-pause). */
    minCapacity: z.number().min(0).max(256),
    maxCapacity: z.number().min(1).max(256),
  })
  .superRefine((value, ctx) => {
    for (const key of ["minCapacity", "maxCapacity"] as const) {
      if (!Number.isInteger(value[key] * 2)) {
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: `${value[key]} is not a multiple of 0.5 ACU — Aurora Serverless v2 scales in half-ACU steps`,
        });
      }
    }
    if (value.maxCapacity < value.minCapacity) {
      ctx.addIssue({
        code: "custom",
        path: ["maxCapacity"],
        message: `${value.maxCapacity} is below minCapacity ${value.minCapacity} — raise maxCapacity or lower minCapacity`,
      });
    }
  });

const vpcSchema = z.union([
  z.strictObject({
    /** CIDR for a new private VPC the relay creates (two private subnets in two AZs). */
    cidr: cidrBlock,
  }),
  z.strictObject({
    /** An existing VPC. */
    vpcId: z.string().regex(/^vpc-[0-9a-f]{8,17}$/, 'must look like "vpc-0123456789abcdef0"'),
    /** At least two existing private subnets of that VPC, in different AZs. */
    subnetIds: z
      .array(
        z.string().regex(/^subnet-[0-9a-f]{8,17}$/, 'must look like "subnet-0123456789abcdef0"'),
      )
      .min(
        2,
        "needs at least two subnets in different AZs — Aurora's DB subnet group requires two AZs",
      )
      .refine((ids) => new Set(ids).size === ids.length, "lists the same subnet twice"),
  }),
]);

const INSTANCE_NAME = /^[a-z][a-z0-9]{0,9}$/;

/** Aurora Serverless v2 capacity used when a region sets neither `instanceClass` nor `serverless`. */
export const DEFAULT_SERVERLESS = { minCapacity: 0.5, maxCapacity: 4 } as const;

export const regionSchema = z
  .strictObject({
    /** AWS region code. Required. */
    region: regionName,
    /** Provisioned instance class, e.g. db.r6g.large. @default - Serverless v2 (`serverless`) */
    instanceClass: z
      .string()
      .regex(/^db\.[a-z0-9]+\.[a-z0-9]+$/, 'must look like "db.r6g.large" (or use `serverless`)')
      .refine((v) => v !== "db.serverless", "use the `serverless` key for Serverless v2")
      .optional(),
    /**
     * Aurora Serverless v2 capacity. @default - { minCapacity: 0.5, maxCapacity: 4 } unless
     * `instanceClass` is set (resolved in `resolveDependentDefaults`)
     */
    serverless: serverlessSchema.optional(),
    /**
     * Names of the cluster's instances; each name keys its own resource, so removing one name
     * removes exactly that instance. @default - ["a"]
     */
    instances: z
      .array(
        z
          .string()
          .regex(INSTANCE_NAME, "must be 1-10 lowercase letters/digits starting with a letter"),
      )
      .min(1, "needs at least one instance name")
      .max(16, "Aurora allows at most 15 replicas plus the writer")
      .refine((names) => new Set(names).size === names.length, "lists the same instance name twice")
      .default(() => ["a"]),
    /** Existing VPC + subnets, or a CIDR for a new VPC. @default - a new VPC with 10.0.0.0/16 */
    vpc: vpcSchema.default(() => ({ cidr: "10.0.0.0/16" })),
    /**
     * How Aurora reaches the Lambda API: `endpoint` creates a Lambda interface VPC endpoint with
     * private DNS; `nat` trusts an existing NAT gateway in the given VPC. @default - "endpoint"
     */
    lambdaAccess: z.enum(["endpoint", "nat"]).default("endpoint"),
    /** CIDRs allowed to reach MySQL (the storefront, a bastion). @default - none */
    dbClientCidrs: z.array(cidrLike()).default(() => []),
    /** Security groups allowed to reach MySQL. @default - none */
    dbClientSecurityGroupIds: z
      .array(z.string().regex(/^sg-[0-9a-f]{8,17}$/, 'must look like "sg-0123456789abcdef0"'))
      .default(() => []),
    /** Deletion protection for the cluster. @default - the stack's `production` flag */
    deletionProtection: z.boolean().optional(),
    /** Automated backup retention (1..35 days; AWS cannot turn it off). @default - 1 */
    backupRetentionDays: positiveInt(35).default(1),
    /** Take a final snapshot when the cluster is deleted. @default - the stack's `production` flag */
    finalSnapshot: z.boolean().optional(),
    /** Aurora MySQL 3 engine version. @default - "8.0.mysql_aurora.3.10.0" */
    engineVersion: z
      .string()
      .regex(
        /^8\.0\.mysql_aurora\.3\.\d{2}\.\d+$/,
        'must be an Aurora MySQL 3 version such as "8.0.mysql_aurora.3.10.0"',
      )
      .default("8.0.mysql_aurora.3.10.0"),
    /**
     * `host:port` the @pulumi/mysql provider and the migration use instead of the cluster endpoint
     * (an SSH tunnel or SSM port forward to a private cluster). @default - the cluster endpoint
     */
    dbEndpointOverride: z
      .string()
      .regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, 'must be "host:port", e.g. "127.0.0.1:13306"')
      .optional(),
  })
  .superRefine((value, ctx) => {
    if (value.instanceClass && value.serverless) {
      ctx.addIssue({
        code: "custom",
        path: ["serverless"],
        message: "set either instanceClass (provisioned) or serverless (Serverless v2), not both",
      });
    }
    if (value.lambdaAccess === "nat" && !("vpcId" in value.vpc)) {
      ctx.addIssue({
        code: "custom",
        path: ["lambdaAccess"],
        message:
          '"nat" needs an existing VPC (vpc.vpcId + vpc.subnetIds) whose subnets route to a NAT gateway; a new VPC has no NAT — use "endpoint"',
      });
    }
  });

function cidrLike() {
  return z.string().superRefine((value, ctx) => {
    const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(value);
    if (!match || match.slice(1, 5).some((o) => Number(o) > 255) || Number(match[5]) > 32) {
      ctx.addIssue({
        code: "custom",
        message: `"${value}" is not an IPv4 CIDR such as "10.1.0.0/16"`,
      });
    } else if (Number(match[5]) === 0) {
      ctx.addIssue({
        code: "custom",
        message: `"${value}" opens MySQL to the whole internet — list the client networks`,
      });
    }
  });
}

/** Receives of a message before it moves to its DLQ. */
const maxReceiveCount = () => z.number().int().min(1).max(1000).default(5);

export const aggregatorSchema = z.strictObject({
  /** Region of the aggregator queue the DC reads. Required. */
  region: regionName,
  /** FIFO queue with exactly-once dedup on `<region>:<table>:<rowId>`. @default - true */
  fifo: z.boolean().default(true),
  /** FIFO high-throughput mode (per-message-group limits). @default - false */
  highThroughput: z.boolean().default(false),
  /** How long the DC may take to read a message (60 s..14 d). @default - 345600 (4 days) */
  messageRetentionSeconds: sqsRetentionSeconds().default(FOUR_DAYS_SECONDS),
  /** Visibility timeout the DC consumer works within. @default - 60 */
  visibilityTimeoutSeconds: z.number().int().min(0).max(SQS_MAX_VISIBILITY_SECONDS).default(60),
  /** Receives before a message moves to the aggregator DLQ. @default - 5 */
  maxReceiveCount: maxReceiveCount(),
  /**
   * IAM principals (ARNs) allowed to assume the DC consumer role, e.g. an IAM Roles Anywhere
   * profile's role session principal. @default - the account root (delegate with IAM policies)
   */
  dcTrustedPrincipalArns: z
    .array(z.string().regex(/^arn:aws[a-z-]*:(iam|sts)::\d{12}:.+$/, "must be an IAM ARN"))
    .min(1)
    .optional(),
});

const queueSchema = z.strictObject({
  /** Regional queue retention; part of the privacy window. @default - 345600 (4 days) */
  messageRetentionSeconds: sqsRetentionSeconds().default(FOUR_DAYS_SECONDS),
  /** DLQ retention (regional and aggregator); part of the privacy window. @default - 1209600 */
  dlqRetentionSeconds: sqsRetentionSeconds().default(SQS_RETENTION_SECONDS.max),
  /** Receives of a regional message before it moves to the regional DLQ. @default - 5 */
  maxReceiveCount: maxReceiveCount(),
});

/** Lambda timeout (3..900 s). @default - 30 */
const lambdaTimeoutSeconds = () => z.number().int().min(3).max(900).default(30);
/** Lambda memory (128..10240 MB). @default - 256 */
const lambdaMemoryMb = () => z.number().int().min(128).max(10240).default(256);

const notifySchema = z.strictObject({
  /** Lambda async retries (AWS allows 0..2). @default - 2 */
  maximumRetryAttempts: z
    .number()
    .int()
    .min(0)
    .max(2, "Lambda retries an async event at most 2 times")
    .default(2),
  /** Max age of an async event before it goes to the on-failure destination (60..21600). @default - 3600 */
  maximumEventAgeSeconds: z
    .number()
    .int()
    .min(60, "Lambda accepts 60..21600 seconds")
    .max(21600, "Lambda accepts 60..21600 seconds")
    .default(3600),
  /** @default - 30 */
  timeoutSeconds: lambdaTimeoutSeconds(),
  /** @default - 256 */
  memoryMb: lambdaMemoryMb(),
});

const forwarderSchema = z.strictObject({
  /** Event source mapping batch window (0..300 s). @default - 1 */
  maximumBatchingWindowSeconds: z.number().int().min(0).max(300).default(1),
  /** @default - 30 */
  timeoutSeconds: lambdaTimeoutSeconds(),
  /** @default - 256 */
  memoryMb: lambdaMemoryMb(),
  /** Max concurrent forwarder invocations per region (2..1000). @default - 10 */
  maximumConcurrency: z.number().int().min(2).max(1000).default(10),
});

const alarmsSchema = z.strictObject({
  /** Email subscribed to an SNS topic that receives every alarm. @default - no topic */
  email: z.string().email("must be an email address").optional(),
  /** Oldest-message age that raises an alarm. @default - 300 */
  oldestMessageAgeSeconds: z.number().int().positive().default(300),
  /** Relay lag (now − occurredAt at the forwarder) that raises an alarm. @default - 60000 */
  relayLagMs: z.number().int().positive().default(60_000),
});

export const rawConfigSchema = z.strictObject({
  /** Regions that run a storefront and a relay. Required, at least one. */
  regions: z
    .array(regionSchema)
    .min(1, "lists no region — add at least one `- region: <code>` entry"),
  /** The aggregator. Required. */
  aggregator: aggregatorSchema,
  /** How long personal data may stay in a regional DB, in hours (> 0, ≤ 8760). Required. */
  retentionHours: z
    .number()
    .positive("must be greater than 0 hours — orders must be relayed before they are purged")
    .max(8760, "must be at most 8760 hours (one year); longer defeats the privacy retention"),
  /** Marks a production stack: deletion protection and final snapshots on by default. @default - false */
  production: z.boolean().default(false),
  /** Prefix of every physical name. @default - "order-relay-<stack>" */
  namePrefix: z.string().regex(NAME_PREFIX, NAME_PREFIX_RULE).optional(),
  /** The storefront's database that holds `order_data`. @default - "storefront" */
  databaseName: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, "must be a MySQL identifier (letters, digits, _; ≤ 64)")
    .default("storefront"),
  /** The settings the database needs, with their defaults (contract/databaseSettings.ts). */
  ...DATABASE_SETTING_FIELDS,
  /** CloudWatch Logs retention for the Lambdas and Aurora log exports. @default - 7 */
  logRetentionDays: z
    .number()
    .refine((v) => (LOG_RETENTION_DAYS as readonly number[]).includes(v), {
      message: `must be one of CloudWatch's values: ${LOG_RETENTION_DAYS.join(", ")}`,
    })
    .default(7),
  /** Regional queues and every DLQ. @default - each field's default */
  queue: queueSchema.prefault({}),
  /** The notify function and its async invocation. @default - each field's default */
  notify: notifySchema.prefault({}),
  /** The forwarder function and its event source mapping. @default - each field's default */
  forwarder: forwarderSchema.prefault({}),
  /** Upper bound on how long an order may stay anywhere in AWS. @default - no bound */
  maxResidenceHours: z.number().positive().optional(),
  /** Alarm thresholds and destination. @default - each field's default */
  alarms: alarmsSchema.prefault({}),
});

/** What a stack file may hold under `order-relay:` (input of the schema). */
export type StackConfigInput = z.input<typeof rawConfigSchema>;
/** The schema's output: static defaults applied, dependent ones not yet. */
type SchemaOutput = z.output<typeof rawConfigSchema>;

/** Keys the program reads; anything else under `order-relay:` is a typo. */
export const TOP_LEVEL_KEYS: readonly string[] = Object.keys(rawConfigSchema.shape);

/** SQS event source mappings take at most 10 messages for this design (one SendMessageBatch). */
export const FORWARDER_BATCH_SIZE = 10;

/**
 * The one place for defaults that depend on other values: the stack name (name prefix), the
 * production flag (deletion protection, final snapshots) and the instance class (serverless).
 */
function resolveDependentDefaults(parsed: SchemaOutput, stack: string) {
  return {
    ...parsed,
    stack,
    namePrefix: parsed.namePrefix ?? `order-relay-${stack}`,
    regions: parsed.regions.map(({ serverless, deletionProtection, finalSnapshot, ...entry }) => ({
      ...entry,
      serverless: entry.instanceClass ? undefined : (serverless ?? DEFAULT_SERVERLESS),
      deletionProtection: deletionProtection ?? parsed.production,
      finalSnapshot: finalSnapshot ?? parsed.production,
    })),
    forwarder: { ...parsed.forwarder, batchSize: FORWARDER_BATCH_SIZE },
  };
}

type DeepReadonly<T> = T extends (infer E)[]
  ? readonly DeepReadonly<E>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** The validated, defaulted stack configuration: what `index.ts` hands to components. */
export type RelayConfig = DeepReadonly<ReturnType<typeof resolveDependentDefaults>>;
/** Fully defaulted per-region settings. */
export type RegionSettings = RelayConfig["regions"][number];
export type AggregatorSettings = RelayConfig["aggregator"];

/** Thrown for an invalid stack configuration; `problems` holds one line per mistake. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `invalid stack configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${p}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

/** `order-relay:regions[1].vpc.cidr` style key for a zod issue path. */
function keyOf(path: readonly PropertyKey[]): string {
  let key = `${CONFIG_NAMESPACE}:`;
  path.forEach((part, i) => {
    if (typeof part === "number") key += `[${part}]`;
    else key += i === 0 ? String(part) : `.${String(part)}`;
  });
  return key;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node: unknown = root;
  for (const part of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<PropertyKey, unknown>)[part];
  }
  return node;
}

function show(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? "undefined" : text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** The object keys a schema accepts, looking through optional/default/array/union wrappers. */
function keysOf(schema: z.core.$ZodType): string[] {
  const def = schema._zod.def as unknown as {
    type: string;
    shape?: Record<string, z.core.$ZodType>;
    innerType?: z.core.$ZodType;
    element?: z.core.$ZodType;
    options?: z.core.$ZodType[];
  };
  if (def.type === "object" && def.shape) return Object.keys(def.shape);
  if (def.innerType) return keysOf(def.innerType);
  if (def.element) return keysOf(def.element);
  if (def.options) return [...new Set(def.options.flatMap(keysOf))];
  return [];
}

/** The schema at a config path (`["regions", 0, "vpc"]`), for "did you mean" on unknown keys. */
function schemaAt(path: readonly PropertyKey[]): z.core.$ZodType | undefined {
  let node: z.core.$ZodType | undefined = rawConfigSchema;
  for (const part of path) {
    if (node === undefined) return undefined;
    if (typeof part === "number") continue; // keysOf/shapeOf look through arrays
    node = childSchema(node, String(part));
  }
  return node;
}

function childSchema(schema: z.core.$ZodType, key: string): z.core.$ZodType | undefined {
  const def = schema._zod.def as unknown as {
    shape?: Record<string, z.core.$ZodType>;
    innerType?: z.core.$ZodType;
    element?: z.core.$ZodType;
    options?: z.core.$ZodType[];
  };
  if (def.shape) return def.shape[key];
  if (def.innerType) return childSchema(def.innerType, key);
  if (def.element) return childSchema(def.element, key);
  for (const option of def.options ?? []) {
    const found = childSchema(option, key);
    if (found) return found;
  }
  return undefined;
}

/** Known keys of the object schema at `path`, derived from the schema itself. */
function knownKeysAt(path: readonly PropertyKey[]): readonly string[] {
  const schema = schemaAt(path);
  return schema ? keysOf(schema) : [];
}

function describeIssue(issue: z.core.$ZodIssue, raw: unknown): string[] {
  if (issue.code === "unrecognized_keys") {
    if (issue.path[issue.path.length - 1] === "vpc") {
      return [
        `${keyOf(issue.path)}: mixes ${issue.keys.join(", ")} into another VPC shape — use either { cidr } (a new VPC) or { vpcId, subnetIds } (an existing one), not both`,
      ];
    }
    return issue.keys.map((unknownKey) => {
      const hint = closest(unknownKey, knownKeysAt(issue.path));
      return (
        `${keyOf([...issue.path, unknownKey])}: unknown key` +
        (hint
          ? ` — did you mean "${hint}"?`
          : ` — known keys: ${knownKeysAt(issue.path).join(", ")}`)
      );
    });
  }
  if (issue.code === "invalid_union") {
    // vpc: either { cidr } or { vpcId, subnetIds } — explain the two shapes once.
    const value = valueAt(raw, issue.path);
    return [
      `${keyOf(issue.path)}: ${show(value)} is neither { cidr: "10.0.0.0/16" } (a new VPC) nor ` +
        `{ vpcId: "vpc-…", subnetIds: ["subnet-…", "subnet-…"] } (an existing one)` +
        unionDetail(issue),
    ];
  }
  const value = valueAt(raw, issue.path);
  if (value === undefined && issue.code === "invalid_type") {
    return [`${keyOf(issue.path)}: is required (${issue.message.replace(/^Invalid input: /, "")})`];
  }
  const shown = show(value);
  if (issue.code === "invalid_type") {
    // Name the fix: the value the key takes and how to set it.
    const example = { number: "48", boolean: "true", string: '"text"' }[issue.expected as string];
    return [
      `${keyOf(issue.path)}: ${shown} is not a ${issue.expected}` +
        (example && issue.path.length === 1
          ? ` — set it with \`pulumi config set ${keyOf(issue.path)} ${example}\``
          : ` — write a ${issue.expected} there`),
    ];
  }
  const message =
    issue.message.startsWith('"') || issue.message.startsWith(shown)
      ? issue.message
      : `${shown} ${issue.message}`;
  return [`${keyOf(issue.path)}: ${message}`];
}

function unionDetail(issue: z.core.$ZodIssueInvalidUnion): string {
  // Report the branch-specific problem of the branch the user evidently meant.
  const branches = issue.errors.filter((errors) =>
    errors.every((e) => e.code !== "unrecognized_keys"),
  );
  const chosen = branches[0] ?? issue.errors[0];
  const first = chosen?.[0];
  if (!first) return "";
  return ` (${first.path.join(".") || "value"}: ${first.message})`;
}

/** Cross-field rules that need the whole config. */
function crossChecks(raw: SchemaOutput): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  raw.regions.forEach((entry, index) => {
    const first = seen.get(entry.region);
    if (first !== undefined) {
      problems.push(
        `${CONFIG_NAMESPACE}:regions[${index}].region: "${entry.region}" is listed twice (also regions[${first}]) — each region runs one relay; remove the duplicate`,
      );
    } else {
      seen.set(entry.region, index);
    }
  });
  const aggregatorPartition = partitionOf(raw.aggregator.region);
  raw.regions.forEach((entry, index) => {
    if (partitionOf(entry.region) !== aggregatorPartition) {
      problems.push(
        `${CONFIG_NAMESPACE}:regions[${index}].region: "${entry.region}" is in partition ${partitionOf(entry.region)} but the aggregator region "${raw.aggregator.region}" is in ${aggregatorPartition}; SQS and IAM cannot cross partitions — use an aggregator in the same partition`,
      );
    }
  });
  if (raw.aggregator.highThroughput && raw.aggregator.fifo === false) {
    problems.push(
      `${CONFIG_NAMESPACE}:aggregator.highThroughput: true needs a FIFO aggregator — remove highThroughput or set fifo: true`,
    );
  }
  return problems;
}

/** The leaf kind a schema expects (looking through optional/default wrappers). */
function leafKind(schema: z.core.$ZodType | undefined): string | undefined {
  if (!schema) return undefined;
  const def = schema._zod.def as unknown as { type: string; innerType?: z.core.$ZodType };
  if (def.type === "optional" || def.type === "default" || def.type === "prefault") {
    return leafKind(def.innerType);
  }
  return def.type;
}

/**
 * One reading of scalars, whichever way the config arrived: `pulumi config set key 48` stores
 * the string "48" in the stack file, while the Pulumi runtime hands the program JSON-decoded
 * values. So where the schema wants a number or a boolean, a string that spells one is taken as
 * one ("48", "true"); where it wants a string, a number or boolean is taken as its text.
 */
export function normalizeScalars(raw: unknown, path: readonly PropertyKey[] = []): unknown {
  if (Array.isArray(raw)) return raw.map((item, index) => normalizeScalars(item, [...path, index]));
  if (raw !== null && typeof raw === "object") {
    return Object.fromEntries(
      Object.entries(raw).map(([key, value]) => [key, normalizeScalars(value, [...path, key])]),
    );
  }
  const kind = leafKind(schemaAt(path));
  if (kind === "number" && typeof raw === "string" && /^-?\d+(\.\d+)?$/.test(raw.trim())) {
    return Number(raw.trim());
  }
  if (kind === "boolean" && (raw === "true" || raw === "false")) return raw === "true";
  if (kind === "string" && (typeof raw === "number" || typeof raw === "boolean")) {
    return String(raw);
  }
  return raw;
}

/**
 * Validates the raw `order-relay:*` values (already parsed from YAML/JSON) and applies defaults.
 * @throws ConfigError listing every problem.
 */
export function parseConfig(raw: unknown, stack: string): RelayConfig {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError([`${CONFIG_NAMESPACE}: the stack has no order-relay configuration`]);
  }
  const normalized = normalizeScalars(raw);
  const result = rawConfigSchema.safeParse(normalized);
  if (!result.success) {
    throw new ConfigError(result.error.issues.flatMap((issue) => describeIssue(issue, normalized)));
  }
  const cross = crossChecks(result.data);
  if (cross.length > 0) throw new ConfigError(cross);
  const config = resolveDependentDefaults(result.data, stack);
  if (!NAME_PREFIX.test(config.namePrefix)) {
    throw new ConfigError([
      `${CONFIG_NAMESPACE}:namePrefix: the default "${config.namePrefix}" (from stack "${stack}") is not ${NAME_PREFIX_RULE.replace(/^must be /, "")} — set order-relay:namePrefix explicitly`,
    ]);
  }
  return config;
}

/** Regional queue visibility timeout: 6x the forwarder timeout, as AWS advises for SQS triggers. */
export function regionalVisibilityTimeoutSeconds(config: RelayConfig): number {
  return config.forwarder.timeoutSeconds * 6;
}

/** The database settings that come straight from stack config keys of the same name. */
type ConfigDatabaseSettings = Omit<DatabaseSettings, "region" | "functionArn">;
const CONFIG_DATABASE_SETTINGS = Object.keys(databaseSettingsSchema.shape).filter(
  (key) => key !== "region" && key !== "functionArn",
) as (keyof ConfigDatabaseSettings)[];

/**
 * The settings one region's database needs (contract/databaseSettings.ts), less the notify
 * function's ARN, which exists only once the function does. Every other field is the stack config
 * key of the same name, so a new setting that reaches SQL is a field in that contract, its key
 * (with its default) in this schema, and the routine that reads it.
 */
export function databaseSettingsFor(
  config: RelayConfig,
  region: string,
): Omit<DatabaseSettings, "functionArn"> {
  const fromConfig = Object.fromEntries(
    CONFIG_DATABASE_SETTINGS.map((key) => [key, config[key]]),
  ) as ConfigDatabaseSettings;
  return { region, ...fromConfig };
}
