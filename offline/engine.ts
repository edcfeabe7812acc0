/**
 * The offline engine: runs the real program (`index.ts`) under `pulumi.runtime.setMocks`, with
 * realistic ids/ARNs/URLs per resource type, and records every registration. Shared by the tests,
 * `npm run plan` and `npm run policy` — no credentials, no Pulumi CLI, no provider plugins.
 *
 * Guarantees: unknown invokes throw; a duplicate URN fails the run (the mock monitor would
 * silently overwrite it); the run waits for every registration before returning.
 */
import * as crypto from "crypto";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { CONFIG_NAMESPACE } from "../config/schema";
import { StackFile, readStackFile, stackFilePath } from "../config/load";
import { OFFLINE_ACCOUNT_ID } from "../contract/local";

export const PROJECT = "order-relay";
const PROGRAM = path.join(__dirname, "..", "index.ts");

export interface RecordedResource {
  readonly urn: string;
  readonly type: string;
  readonly name: string;
  /** URN of the parent (undefined for the providers and the top-level components). */
  readonly parent?: string;
  /** Provider reference (`urn::id`) for custom resources with an explicit provider. */
  readonly provider?: string;
  /** AWS region (from the resource's provider, or inherited from its parent). */
  region?: string;
  readonly custom: boolean;
  /**
   * Every URN this resource answers to besides its own (its `aliases`, and those it inherits from
   * aliased parents), as the engine would match them against the previous deployment.
   */
  readonly aliases: readonly string[];
  readonly id?: string;
  /** Inputs as the engine received them (secrets unwrapped, outputs resolved). */
  readonly inputs: Record<string, any>;
  /** Outputs the mock returned. */
  readonly state: Record<string, any>;
}

export interface RecordedInvoke {
  readonly token: string;
  readonly inputs: Record<string, any>;
  readonly provider?: string;
}

export interface OfflineRun {
  readonly stack: string;
  readonly resources: RecordedResource[];
  readonly invokes: RecordedInvoke[];
  /** The program's exports (stack outputs), resolved. */
  readonly outputs: Record<string, unknown>;
}

export interface RunOptions {
  readonly stack: string;
  /** `order-relay:*` values, without the namespace. */
  readonly relay: Record<string, unknown>;
  /** Other namespaced values (e.g. `aws:defaultTags`). */
  readonly other?: Record<string, unknown>;
  /** The program module to run. @default - the project's index.ts */
  readonly program?: string;
}

/** A deterministic hex id per (type, name, region): realistic and stable across runs. */
function hexId(length: number, ...parts: (string | undefined)[]): string {
  return crypto.createHash("sha256").update(parts.join("|")).digest("hex").slice(0, length);
}

function regionOfProviderRef(ref: string | undefined): string | undefined {
  if (!ref) return undefined;
  const id = ref.split("::").pop() ?? "";
  return /^aws-provider-(.+)$/.exec(id)?.[1];
}

const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG_VALUE = "1b47061264138c4ac30d75fd1eb44270";

/** Replaces the runtime's secret envelopes with their values, so tests assert on plain inputs. */
function unwrapSecrets(value: unknown): any {
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (value === null || typeof value !== "object") return value;
  const record = value as Record<string, unknown>;
  if (record[SECRET_SIG_KEY] === SECRET_SIG_VALUE) return unwrapSecrets(record.value);
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, unwrapSecrets(v)]));
}

/** Mocked outputs per resource type: the attributes the program and the tests read. */
function mockResource(
  args: pulumi.runtime.MockResourceArgs,
  region: string | undefined,
): pulumi.runtime.MockResourceResult {
  const { type, name, inputs } = args;
  const r = region ?? "us-east-1";
  const arnPrefix = (service: string) => `arn:aws:${service}:${r}:${OFFLINE_ACCOUNT_ID}`;
  const physical = (inputs.name as string | undefined) ?? `${name}-${hexId(7, type, name)}`;
  const state = { ...inputs };
  switch (type) {
    case "pulumi:providers:aws":
      return { id: `aws-provider-${inputs.region}`, state };
    case "aws:sqs/queue:Queue": {
      const url = `https://sqs.${r}.amazonaws.com/${OFFLINE_ACCOUNT_ID}/${physical}`;
      return {
        id: url,
        state: { ...state, name: physical, url, arn: `${arnPrefix("sqs")}:${physical}` },
      };
    }
    case "aws:lambda/function:Function": {
      const arn = `${arnPrefix("lambda")}:function:${physical}`;
      return {
        id: physical,
        state: {
          ...state,
          name: physical,
          arn,
          qualifiedArn: `${arn}:$LATEST`,
          invokeArn: `arn:aws:apigateway:${r}:lambda:path/2015-03-31/functions/${arn}/invocations`,
          version: "$LATEST",
        },
      };
    }
    case "aws:iam/role:Role":
      return {
        id: physical,
        state: {
          ...state,
          name: physical,
          arn: `arn:aws:iam::${OFFLINE_ACCOUNT_ID}:role/${physical}`,
          uniqueId: `AROA${hexId(17, name).toUpperCase()}`,
        },
      };
    case "aws:iam/rolePolicy:RolePolicy":
      return { id: `${inputs.role}:${inputs.name}`, state };
    case "aws:cloudwatch/logGroup:LogGroup":
      return {
        id: physical,
        state: { ...state, name: physical, arn: `${arnPrefix("logs")}:log-group:${physical}` },
      };
    case "aws:rds/cluster:Cluster": {
      const id = inputs.clusterIdentifier as string;
      const host = `${id}.cluster-c${hexId(11, r)}.${r}.rds.amazonaws.com`;
      return {
        id,
        state: {
          ...state,
          arn: `${arnPrefix("rds")}:cluster:${id}`,
          endpoint: host,
          readerEndpoint: host.replace(".cluster-", ".cluster-ro-"),
          port: 3306,
          clusterResourceId: `cluster-${hexId(26, id).toUpperCase()}`,
          masterUserSecrets: [
            {
              secretArn: `${arnPrefix("secretsmanager")}:secret:rds!cluster-${hexId(8, id)}-${hexId(6, "s", id)}`,
              kmsKeyId: `${arnPrefix("kms")}:key/${hexId(8, "k", id)}`,
              secretStatus: "active",
            },
          ],
        },
      };
    }
    case "aws:rds/clusterInstance:ClusterInstance": {
      const id = inputs.identifier as string;
      return {
        id,
        state: {
          ...state,
          arn: `${arnPrefix("rds")}:db:${id}`,
          endpoint: `${id}.c${hexId(11, r)}.${r}.rds.amazonaws.com`,
          port: 3306,
        },
      };
    }
    case "aws:rds/clusterParameterGroup:ClusterParameterGroup":
    case "aws:rds/subnetGroup:SubnetGroup": {
      const kind = type.includes("subnet") ? "subgrp" : "cluster-pg";
      return {
        id: physical,
        state: { ...state, name: physical, arn: `${arnPrefix("rds")}:${kind}:${physical}` },
      };
    }
    case "aws:rds/clusterRoleAssociation:ClusterRoleAssociation":
      return { id: `${inputs.dbClusterIdentifier},${inputs.roleArn},`, state };
    case "aws:ec2/vpc:Vpc": {
      const id = `vpc-${hexId(17, name, r)}`;
      return { id, state: { ...state, arn: `${arnPrefix("ec2")}:vpc/${id}` } };
    }
    case "aws:ec2/subnet:Subnet": {
      const id = `subnet-${hexId(17, name, r)}`;
      return { id, state: { ...state, arn: `${arnPrefix("ec2")}:subnet/${id}` } };
    }
    case "aws:ec2/securityGroup:SecurityGroup": {
      const id = `sg-${hexId(17, name, r)}`;
      return { id, state: { ...state, arn: `${arnPrefix("ec2")}:security-group/${id}` } };
    }
    case "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
    case "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule":
      return { id: `sgr-${hexId(17, name, r)}`, state };
    case "aws:ec2/vpcEndpoint:VpcEndpoint": {
      const id = `vpce-${hexId(17, name, r)}`;
      return {
        id,
        state: {
          ...state,
          arn: `${arnPrefix("ec2")}:vpc-endpoint/${id}`,
          dnsEntries: [
            { dnsName: `${id}.lambda.${r}.vpce.amazonaws.com`, hostedZoneId: "Z7HUB22UULQXV" },
          ],
        },
      };
    }
    case "aws:lambda/eventSourceMapping:EventSourceMapping": {
      const uuid = crypto.randomUUID();
      return { id: uuid, state: { ...state, uuid, functionArn: inputs.functionName } };
    }
    case "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig":
      return { id: inputs.functionName, state };
    case "aws:sqs/queuePolicy:QueuePolicy":
    case "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy":
      return { id: inputs.queueUrl, state };
    case "aws:sns/topic:Topic":
      return {
        id: `${arnPrefix("sns")}:${physical}`,
        state: { ...state, name: physical, arn: `${arnPrefix("sns")}:${physical}` },
      };
    case "aws:sns/topicSubscription:TopicSubscription": {
      const arn = `${inputs.topic}:${crypto.randomUUID()}`;
      return {
        id: arn,
        state: { ...state, arn, pendingConfirmation: inputs.protocol === "email" },
      };
    }
    case "aws:sns/topicPolicy:TopicPolicy":
      return { id: inputs.arn, state: { ...state, owner: OFFLINE_ACCOUNT_ID } };
    case "aws:kms/key:Key": {
      const keyId = `${hexId(8, name, r)}-${hexId(4, "a", name, r)}-${hexId(4, "b", name, r)}-${hexId(4, "c", name, r)}-${hexId(12, "d", name, r)}`;
      return { id: keyId, state: { ...state, keyId, arn: `${arnPrefix("kms")}:key/${keyId}` } };
    }
    case "aws:cloudwatch/metricAlarm:MetricAlarm":
      return {
        id: physical,
        state: { ...state, name: physical, arn: `${arnPrefix("cloudwatch")}:alarm:${physical}` },
      };
    case "aws:cloudwatch/dashboard:Dashboard":
      return {
        id: inputs.dashboardName,
        state: {
          ...state,
          dashboardArn: `arn:aws:cloudwatch::${OFFLINE_ACCOUNT_ID}:dashboard/${inputs.dashboardName}`,
        },
      };
    case "random:index/randomPassword:RandomPassword":
      return { id: "none", state: { ...state, result: `pw-${hexId(28, name)}` } };
    case "mysql:index/grant:Grant":
      return { id: `${inputs.user}@${inputs.host}:${inputs.database}`, state };
    case "mysql:index/user:User":
      return { id: `${inputs.user}@${inputs.host}`, state };
    case "mysql:index/database:Database":
      return { id: inputs.name, state };
    case "pulumi:providers:mysql":
      return { id: `mysql-provider-${name}`, state };
    case "command:local:Command":
      return { id: `${name}-${hexId(8, name)}`, state: { ...state, stdout: "", stderr: "" } };
    default: {
      if (!args.custom) return { id: undefined, state };
      // A type without a dedicated mock still gets a realistic ARN for its service.
      const service = type.split(":")[1]?.split("/")[0] ?? "unknown";
      return {
        id: `${name}-${hexId(8, name)}`,
        state: { ...state, arn: `${arnPrefix(service)}:${physical}` },
      };
    }
  }
}

/** Mocked invokes; anything else throws so a new data source cannot slip in unmocked. */
export function mockInvoke(args: pulumi.runtime.MockCallArgs): Record<string, any> {
  const region = regionOfProviderRef(args.provider) ?? "us-east-1";
  switch (args.token) {
    case "aws:index/getCallerIdentity:getCallerIdentity":
      return {
        accountId: OFFLINE_ACCOUNT_ID,
        arn: `arn:aws:iam::${OFFLINE_ACCOUNT_ID}:user/offline`,
        userId: "AIDAOFFLINE",
        id: OFFLINE_ACCOUNT_ID,
      };
    case "aws:index/getAvailabilityZones:getAvailabilityZones": {
      const letters = ["a", "b", "c"];
      return {
        names: letters.map((l) => `${region}${l}`),
        zoneIds: letters.map((_, i) => `${region.replace(/-/g, "").slice(0, 6)}-az${i + 1}`),
        id: region,
        state: "available",
      };
    }
    case "aws:secretsmanager/getSecretVersion:getSecretVersion":
      return {
        arn: args.inputs.secretId,
        id: `${args.inputs.secretId}|AWSCURRENT`,
        secretString: JSON.stringify({
          username: "relayadmin",
          password: "offline-master-password",
        }),
        versionId: "offline-version",
        versionStages: ["AWSCURRENT"],
      };
    default:
      throw new Error(
        `offline engine: unmocked invoke ${args.token} — add it to offline/engine.ts`,
      );
  }
}

/** The config map the runtime expects: namespaced keys, objects as JSON text. */
function runtimeConfig(options: RunOptions): Record<string, string> {
  const encode = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value));
  const config: Record<string, string> = {};
  for (const [key, value] of Object.entries(options.relay)) {
    config[`${CONFIG_NAMESPACE}:${key}`] = encode(value);
  }
  for (const [key, value] of Object.entries(options.other ?? {})) config[key] = encode(value);
  return config;
}

/** Resolves a value that may contain outputs (mock runs resolve everything). */
function resolveDeep(value: unknown): Promise<unknown> {
  const output = pulumi.output(value as pulumi.Input<object>) as pulumi.Output<unknown>;
  return new Promise((resolve) => output.apply((resolved) => resolve(resolved)));
}

function describeFailure(failure: unknown): string {
  if (!(failure instanceof Error)) return String(failure);
  const cause = (failure as Error & { cause?: unknown }).cause;
  return cause ? `${failure.message} (${describeFailure(cause)})` : failure.message;
}

let running = false;

/**
 * Runs the program once with the given config and returns what it registered. Throws the
 * program's own error (e.g. a ConfigError) when it fails, and fails on duplicate URNs or any
 * error raised while resources resolve.
 */
export async function runOffline(options: RunOptions): Promise<OfflineRun> {
  if (running)
    throw new Error("offline engine: runs must not overlap (the Pulumi runtime is global)");
  running = true;
  // The runtime captures `new Error().stack` for every resource promise; formatting those frames
  // (mapped through tsx's source maps) was about half of a 20-region run, and even 3 frames per
  // promise cost a quarter (11 s → 8 s at 20 regions without them). Errors keep their messages;
  // OFFLINE_STACK_TRACE_LIMIT=50 brings full stacks back when debugging the program.
  const sourceMaps = (process as { sourceMapsEnabled?: boolean }).sourceMapsEnabled ?? false;
  process.setSourceMapsEnabled(false);
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = Number(process.env.OFFLINE_STACK_TRACE_LIMIT ?? 0);
  const resources: RecordedResource[] = [];
  const invokes: RecordedInvoke[] = [];
  const failures: unknown[] = [];
  const onRejection = (reason: unknown) => failures.push(reason);
  process.on("unhandledRejection", onRejection);
  try {
    pulumi.runtime.setAllConfig(runtimeConfig(options));
    const providerRegions = new Map<string, string>();
    await pulumi.runtime.setMocks(
      {
        newResource: (args) => {
          const region =
            args.type === "pulumi:providers:aws"
              ? (args.inputs.region as string)
              : regionOfProviderRef(args.provider);
          return mockResource(args, region);
        },
        call: (args) => {
          invokes.push({ token: args.token, inputs: args.inputs, provider: args.provider });
          try {
            return mockInvoke(args);
          } catch (error) {
            // The runtime re-wraps the error and loses this message: keep it for the report.
            failures.unshift(error);
            throw error;
          }
        },
      },
      PROJECT,
      options.stack,
      false,
    );
    // Have the SDK resolve aliases to URNs itself (children inherit their parents' aliases), as
    // it does for an engine without structured alias specs: the URNs are then recordable.
    (
      require("@pulumi/pulumi/runtime/state") as { getStore(): { supportsAliasSpecs: boolean } }
    ).getStore().supportsAliasSpecs = false;

    // Record parent, URN and duplicates: the mock monitor's own hook loses them.
    const monitor = pulumi.runtime.getMonitor() as any;
    const register = monitor.registerResource.bind(monitor);
    const seen = new Set<string>();
    // The mock monitor names a child after its parent's last type only; the engine qualifies it
    // with every ancestor's type (and so do aliases). Record the engine's URNs.
    const engineUrns = new Map<string, string>();
    monitor.registerResource = (req: any, callback: (err: any, response: any) => void) => {
      const mockUrn: string = monitor.newUrn(req.getParent(), req.getType(), req.getName());
      const parent: string | undefined = req.getParent()
        ? (engineUrns.get(req.getParent()) ?? req.getParent())
        : undefined;
      const urn = engineUrn(options.stack, parent, req.getType(), req.getName());
      engineUrns.set(mockUrn, urn);
      if (seen.has(urn)) failures.push(new Error(`duplicate URN ${urn}`));
      seen.add(urn);
      return register(req, (err: any, response: any) => {
        if (!err) {
          const stored = monitor.resources.get(mockUrn);
          const providerRef: string | undefined = req.getProvider() || undefined;
          const inputs = unwrapSecrets(pulumi.runtime.deserializeProperties(req.getObject()));
          const region =
            req.getType() === "pulumi:providers:aws"
              ? (inputs.region as string)
              : regionOfProviderRef(providerRef);
          if (region && providerRef) providerRegions.set(providerRef, region);
          resources.push({
            urn,
            type: req.getType(),
            name: req.getName(),
            parent,
            provider: providerRef,
            region,
            custom: req.getCustom(),
            aliases: req.getAliasurnsList(),
            id: stored?.id ?? undefined,
            inputs,
            state: unwrapSecrets(
              pulumi.runtime.deserializeProperties({
                toJavaScript: () => stored?.state ?? {},
              } as any),
            ),
          });
        }
        callback(err, response);
      });
    };

    const programPath = options.program ?? PROGRAM;
    delete require.cache[require.resolve(programPath)];
    const program = require(programPath) as Record<string, unknown>;
    const waitForRPCs = (pulumi.runtime as any).waitForRPCs as () => Promise<void>;
    await waitForRPCs();
    const outputs = (await resolveDeep({ ...program })) as Record<string, unknown>;
    await waitForRPCs();
    // Let rejected promises surface before judging the run.
    await new Promise((resolve) => setImmediate(resolve));
    if (failures.length > 0) {
      // Serialisation errors wrap their cause with an empty message: report every failure.
      const messages = [...new Set(failures.map(describeFailure))];
      const first = failures[0];
      if (messages.length === 1 && first instanceof Error) throw first;
      throw new Error(`offline run failed:\n  ${messages.join("\n  ")}`);
    }

    // Regions of components and of non-AWS resources (mysql, random, command): from the parent.
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const regionOf = (resource: RecordedResource): string | undefined => {
      if (resource.region) return resource.region;
      const parent = resource.parent ? byUrn.get(resource.parent) : undefined;
      return parent ? regionOf(parent) : undefined;
    };
    for (const resource of resources) {
      if (!resource.region && !resource.custom) {
        // A component's region: the one region its custom children share.
        const children = resources.filter((r) => r.parent === resource.urn && r.region);
        const regions = new Set(children.map((c) => c.region));
        if (regions.size === 1) resource.region = [...regions][0];
      }
    }
    for (const resource of resources) resource.region = regionOf(resource);
    return { stack: options.stack, resources, invokes, outputs };
  } finally {
    process.off("unhandledRejection", onRejection);
    process.setSourceMapsEnabled(sourceMaps);
    Error.stackTraceLimit = stackTraceLimit;
    running = false;
  }
}

/** The URN the Pulumi engine gives a resource: its type qualified by every ancestor's type. */
export function engineUrn(
  stack: string,
  parent: string | undefined,
  type: string,
  name: string,
): string {
  const root = `urn:pulumi:${stack}::${PROJECT}::`;
  if (!parent || parent.split("::")[2] === "pulumi:pulumi:Stack") return `${root}${type}::${name}`;
  return `${root}${parent.split("::")[2]}$${type}::${name}`;
}

/** Runs a stack from `stacks/Pulumi.<stack>.yaml` or an explicit YAML path. */
export async function runStack(stackOrFile: {
  stack?: string;
  configFile?: string;
}): Promise<OfflineRun> {
  const file: StackFile = stackOrFile.configFile
    ? readStackFile(stackOrFile.configFile, stackOrFile.stack)
    : readStackFile(stackFilePath(stackOrFile.stack ?? "dev"), stackOrFile.stack ?? "dev");
  return runOffline({ stack: file.stack, relay: file.relay, other: file.other });
}
