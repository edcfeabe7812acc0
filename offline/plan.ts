/**
 * `npm run plan -- --stack <name> | --config <file> [--json | --mermaid]`
 * `[--cost --orders-per-day N]` (`--help`: every flag)
 *
 * Runs the program on the offline engine and prints what `pulumi up` would create, per region,
 * with key settings and totals. No credentials, no Pulumi CLI. Exit 2 on a bad config.
 */
import {
  type CommandSpec,
  type OptionSpecs,
  integer,
  parseCommandLine,
  UsageError,
} from "../cli/command";
import { interrupted, runMain, writeOut } from "../cli/process";
import { readStackFile, stackFilePath } from "../config/load";
import { ConfigError, RelayConfig, parseConfig } from "../config/schema";
import { worstCaseResidence } from "../config/residence";
import type { OfflineRun, RecordedResource } from "./engine";

/** The few settings per type that tell a reviewer what will be built. */
function keySettings(resource: RecordedResource): string {
  const i = resource.inputs;
  const pick = (entries: [string, unknown][]) =>
    entries
      .filter(([, v]) => v !== undefined && v !== null && v !== "")
      .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
      .join(" ");
  switch (resource.type) {
    case "aws:sqs/queue:Queue":
      return pick([
        ["fifo", i.fifoQueue ?? false],
        ["retentionS", i.messageRetentionSeconds],
        ["visibilityS", i.visibilityTimeoutSeconds],
        ["maxBytes", i.maxMessageSize],
        ["sse", i.sqsManagedSseEnabled],
        ["redrive", i.redrivePolicy ? JSON.parse(i.redrivePolicy).maxReceiveCount : undefined],
      ]);
    case "aws:lambda/function:Function":
      return pick([
        ["runtime", i.runtime],
        ["arch", i.architectures?.join(",")],
        ["memoryMb", i.memorySize],
        ["timeoutS", i.timeout],
        ["env", Object.keys(i.environment?.variables ?? {}).join(",")],
      ]);
    case "aws:rds/cluster:Cluster":
      return pick([
        ["engine", `${i.engine} ${i.engineVersion}`],
        ["serverless", i.serverlessv2ScalingConfiguration],
        ["encrypted", i.storageEncrypted],
        ["deletionProtection", i.deletionProtection],
        ["backupDays", i.backupRetentionPeriod],
        ["finalSnapshot", !i.skipFinalSnapshot],
        ["logs", i.enabledCloudwatchLogsExports?.join(",")],
      ]);
    case "aws:rds/clusterInstance:ClusterInstance":
      return pick([
        ["class", i.instanceClass],
        ["public", i.publiclyAccessible],
      ]);
    case "aws:rds/clusterParameterGroup:ClusterParameterGroup":
      return (i.parameters ?? [])
        .map((p: { name: string; value: string }) =>
          p.name === "aws_default_lambda_role" ? `${p.name}=<invoke role>` : `${p.name}=${p.value}`,
        )
        .join(" ");
    case "aws:lambda/eventSourceMapping:EventSourceMapping":
      return pick([
        ["batch", i.batchSize],
        ["windowS", i.maximumBatchingWindowInSeconds],
        ["responseTypes", i.functionResponseTypes?.join(",")],
      ]);
    case "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig":
      return pick([
        ["retries", i.maximumRetryAttempts],
        ["maxAgeS", i.maximumEventAgeInSeconds],
        ["onFailure", i.destinationConfig?.onFailure?.destination?.split(":").pop()],
      ]);
    case "aws:cloudwatch/logGroup:LogGroup":
      return pick([["retentionDays", i.retentionInDays]]);
    case "aws:ec2/vpc:Vpc":
    case "aws:ec2/subnet:Subnet":
      return pick([
        ["cidr", i.cidrBlock],
        ["az", i.availabilityZone],
      ]);
    case "aws:ec2/vpcEndpoint:VpcEndpoint":
      return pick([
        ["service", i.serviceName],
        ["privateDns", i.privateDnsEnabled],
      ]);
    case "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
    case "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule":
      return pick([
        ["port", i.fromPort],
        ["cidr", i.cidrIpv4],
        ["sg", i.referencedSecurityGroupId],
      ]);
    case "command:local:Command":
      return "applies sql/ (db:migrate) when the SQL or settings change";
    default:
      return "";
  }
}

function physicalName(resource: RecordedResource): string {
  const i = resource.inputs;
  return (
    i.name ?? i.clusterIdentifier ?? i.identifier ?? i.alarmName ?? i.dashboardName ?? resource.name
  );
}

function shortType(type: string): string {
  const [pkg, module] = type.split(":");
  const last = type.split(":").pop() ?? type;
  return pkg === "aws" ? `${module.split("/")[0]}.${last}` : `${pkg}.${last}`;
}

function textPlan(run: OfflineRun, config: RelayConfig): string {
  const lines: string[] = [`Stack ${run.stack}: what \`pulumi up\` would create (offline engine)`];
  const custom = run.resources.filter((r) => r.custom && !r.type.startsWith("pulumi:providers:"));
  const regions = [...new Set(custom.map((r) => r.region ?? "(global)"))].sort();
  for (const region of regions) {
    const inRegion = custom.filter((r) => (r.region ?? "(global)") === region);
    const role =
      region === config.aggregator.region
        ? config.regions.some((r) => r.region === region)
          ? " (relay + aggregator)"
          : " (aggregator)"
        : " (relay)";
    lines.push("", `Region ${region}${role}: ${inRegion.length} resources`);
    for (const resource of inRegion) {
      const settings = keySettings(resource);
      lines.push(
        `  + ${shortType(resource.type).padEnd(38)} ${physicalName(resource)}${settings ? `  [${settings}]` : ""}`,
      );
    }
  }
  const totals = new Map<string, number>();
  for (const resource of custom) {
    totals.set(shortType(resource.type), (totals.get(shortType(resource.type)) ?? 0) + 1);
  }
  lines.push(
    "",
    `Totals: ${custom.length} resources (${run.resources.length - custom.length} components/providers)`,
  );
  for (const [type, count] of [...totals].sort((a, b) => b[1] - a[1])) {
    lines.push(`  ${String(count).padStart(4)}  ${type}`);
  }
  const residence = worstCaseResidence(config);
  lines.push("", "Worst-case residence of an order in AWS (privacy window):");
  for (const term of residence.terms) {
    lines.push(`  ${term.hours.toFixed(2).padStart(9)} h  ${term.name} — ${term.detail}`);
  }
  lines.push(
    `  ${residence.totalHours.toFixed(2).padStart(9)} h  total` +
      (residence.boundHours !== undefined
        ? ` (bound order-relay:maxResidenceHours = ${residence.boundHours} h: ${residence.withinBound ? "within" : "EXCEEDED"})`
        : " (no order-relay:maxResidenceHours bound set)"),
  );
  return lines.join("\n");
}

/** Node id safe for Mermaid. */
function id(text: string): string {
  return text.replace(/[^A-Za-z0-9]/g, "_");
}

/** The stack's architecture as a Mermaid flowchart, from the recorded resources. */
export function mermaid(run: OfflineRun, config: RelayConfig): string {
  const lines = ["flowchart LR"];
  const queueName = (r: RecordedResource) => r.inputs.name as string;
  const queues = run.resources.filter((r) => r.type === "aws:sqs/queue:Queue");
  const functions = run.resources.filter((r) => r.type === "aws:lambda/function:Function");
  const aggregator = queues.find((q) => /-aggregator(\.fifo)?$/.test(queueName(q)));
  const aggregatorDlq = queues.find((q) => /-aggregator-dlq(\.fifo)?$/.test(queueName(q)));
  for (const { region } of config.regions) {
    const r = id(region);
    const regional = queues.find((q) => q.region === region && queueName(q).endsWith("-orders"));
    const dlq = queues.find((q) => q.region === region && queueName(q).endsWith("-orders-dlq"));
    const notify = functions.find((f) => f.region === region && f.inputs.name.endsWith("-notify"));
    const forwarder = functions.find(
      (f) => f.region === region && f.inputs.name.endsWith("-forwarder"),
    );
    lines.push(
      `  subgraph ${r}["${region}"]`,
      `    ${r}_store["storefront"] -->|INSERT| ${r}_db[("Aurora MySQL 3<br/>order_data + relay_outbox")]`,
      `    ${r}_db -->|"lambda_async (event, 1 s)"| ${r}_notify["${notify?.inputs.name ?? "notify"}"]`,
      `    ${r}_notify -->|SendMessageBatch| ${r}_q[["${regional ? queueName(regional) : "queue"}"]]`,
      `    ${r}_notify -.->|on failure| ${r}_dlq[["${dlq ? queueName(dlq) : "dlq"}"]]`,
      `    ${r}_q -.->|redrive| ${r}_dlq`,
      `    ${r}_q -->|event source, batch 10| ${r}_fwd["${forwarder?.inputs.name ?? "forwarder"}"]`,
      "  end",
      `  ${r}_fwd -->|SendMessageBatch| agg`,
    );
  }
  lines.push(
    `  subgraph aggregator["aggregator — ${config.aggregator.region}"]`,
    `    agg[["${aggregator ? queueName(aggregator) : "aggregator"}"]] -.->|redrive| aggdlq[["${aggregatorDlq ? queueName(aggregatorDlq) : "aggregator dlq"}"]]`,
    "  end",
    `  agg -->|long poll, upsert on region+table+rowId| dc[("on-premises DC")]`,
  );
  return lines.join("\n");
}

export const PLAN_COMMAND = {
  usage: "npm run plan --",
  summary:
    "Runs the Pulumi program on the offline engine (mocks: no credentials, no Pulumi CLI, no " +
    "plugins) and prints what `pulumi up` would create, per region, with key settings, totals " +
    "and the worst-case residence of an order in AWS (the privacy window).",
  options: {
    stack: {
      type: "string",
      value: "NAME",
      description:
        "stack to plan: stacks/Pulumi.<NAME>.yaml (with --config: the stack name to use)",
      defaultText: "dev",
    },
    config: {
      type: "string",
      value: "FILE",
      description: "any stack file instead (the stack name comes from Pulumi.<name>.yaml)",
    },
    json: {
      type: "boolean",
      description:
        "print { stack, resources: [{ urn, type, name, parent, region, inputs }], outputs } as " +
        "JSON, and nothing else, on stdout",
    },
    mermaid: {
      type: "boolean",
      description: "print the stack's architecture as a Mermaid flowchart",
    },
    cost: {
      type: "boolean",
      description:
        "print the stack's monthly cost instead of the resource list (per region, each line item " +
        "with its unit price and source, the seed design beside it; offline/cost.ts); with " +
        "--json, a `cost` object is added",
    },
    "orders-per-day": {
      type: "string",
      value: "N",
      description: "orders a day over the whole stack, split evenly over its regions (with --cost)",
    },
  },
  examples: [
    "npm run plan -- --stack prod",
    "npm run plan -- --stack=prod --mermaid",
    "npm run -s plan -- --stack prod --json | jq '.resources | length'",
    "npm run plan -- --config path/to/Pulumi.x.yaml",
    "npm run plan -- --stack prod --cost --orders-per-day 100000",
  ],
  notes: [
    "Use npm run -s (silent) when piping --json or --mermaid: otherwise npm prints its own header " +
      "lines on stdout first. Exit codes: 0 planned; 1 the program failed on the offline engine " +
      "(one line; DEBUG=1 for the stack trace); 2 a usage or stack-config error (every problem " +
      "named with its fix); 130/143 interrupted.",
  ],
} as const satisfies CommandSpec<OptionSpecs>;

async function main(): Promise<number> {
  const { values } = parseCommandLine(PLAN_COMMAND);
  if (values.json && values.mermaid) {
    throw new UsageError("choose one of --json and --mermaid");
  }
  const ordersPerDay = integer("orders-per-day", values["orders-per-day"], {
    min: 0,
    max: 1_000_000_000,
  });
  if (values.cost && ordersPerDay === undefined) {
    throw new UsageError("--cost needs --orders-per-day N, e.g. --orders-per-day 100000");
  }
  if (ordersPerDay !== undefined && !values.cost) {
    throw new UsageError("--orders-per-day is for --cost: add --cost");
  }
  if (values.cost && values.mermaid) throw new UsageError("choose one of --cost and --mermaid");
  const stackName = values.stack ?? (values.config ? undefined : "dev");
  let file;
  let config: RelayConfig;
  try {
    file = values.config
      ? readStackFile(values.config, values.stack)
      : readStackFile(stackFilePath(stackName!), stackName);
    config = parseConfig(file.relay, file.stack);
  } catch (error) {
    if (error instanceof ConfigError) {
      // One problem: one line; several: one line each.
      throw new UsageError(error.problems.length === 1 ? error.problems[0]! : error.message);
    }
    throw error;
  }
  // Loaded only now: Pulumi takes seconds to load, and --help or a usage error need none of it.
  const [{ runOffline }, { costJson, costOfRun, formatCost }] = await Promise.all([
    import("./engine"),
    import("./cost"),
  ]);
  const run = await runOffline({ stack: file.stack, relay: file.relay, other: file.other });
  // Interrupted while the engine ran (a signal is handled once the event loop turns): no plan at
  // all rather than one the user did not wait for.
  await new Promise((resolve) => setImmediate(resolve));
  if (interrupted.signal.aborted) return 130;
  const cost = values.cost ? costOfRun(run, { ordersPerDay: ordersPerDay! }) : undefined;
  if (values.json) {
    const resources = run.resources.map((r) => ({
      urn: r.urn,
      type: r.type,
      name: r.name,
      parent: r.parent ?? null,
      region: r.region ?? null,
      inputs: r.inputs,
    }));
    const plan = { stack: run.stack, resources, outputs: run.outputs };
    await writeOut(`${JSON.stringify(cost ? { ...plan, cost: costJson(cost) } : plan, null, 2)}\n`);
  } else if (values.mermaid) {
    await writeOut(`${mermaid(run, config)}\n`);
  } else if (cost) {
    await writeOut(`${formatCost(cost)}\n`);
  } else {
    await writeOut(`${textPlan(run, config)}\n`);
  }
  return 0;
}

if (require.main === module) runMain("plan", main);
