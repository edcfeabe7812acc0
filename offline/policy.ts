/**
 * `npm run policy -- --stack <name> | --config <yaml> | --list`
 *
 * Runs the policy pack's rules (`policy/rules/`) over the offline engine's resources, giving each
 * rule the argument shape the CrossGuard runtime gives it (`@pulumi/policy` server.js):
 * resource rules get the resource's inputs, stack rules every resource's outputs with parents and
 * providers linked; props are wrapped in the runtime's unknown-checking proxy; `notApplicable`,
 * `stackTags` and `getConfig` behave as they do there. Exits 1 on a mandatory violation.
 *
 * The adapter (`runPolicies`) is also what the tests use. `--help`: every flag.
 */
import {
  EnforcementLevel,
  PolicyResource,
  ResourceValidationArgs,
  StackValidationArgs,
  UnknownValueError,
  unknownCheckingProxy,
} from "@pulumi/policy";
import { type CommandSpec, type OptionSpecs, parseCommandLine, UsageError } from "../cli/command";
import { runMain, writeOut } from "../cli/process";
import type { RecordedResource } from "./engine";
import { RelayPolicy, policies as packPolicies } from "../policy/rules";

export interface Violation {
  readonly policy: string;
  readonly source: string;
  readonly enforcementLevel: EnforcementLevel;
  readonly message: string;
  readonly urn?: string;
}

export interface PolicyRun {
  readonly violations: Violation[];
  /** Rules that declared themselves not applicable (or only apply to absent types). */
  readonly notApplicable: { policy: string; reason?: string }[];
}

export interface PolicyRunOptions {
  /** Pack config as `--policy-pack-config` gives it: per rule, a level or `{ enforcementLevel, ...props }`. */
  readonly config?: Record<string, EnforcementLevel | Record<string, unknown>>;
  /** Stack tags (the runtime's `configureStack`). @default - none */
  readonly stackTags?: Record<string, string>;
  /** The pack's default level (PolicyPack `enforcementLevel`). @default - "advisory" */
  readonly packEnforcementLevel?: EnforcementLevel;
}

class NotApplicableError extends Error {
  constructor(readonly reason?: string) {
    super(reason ?? "Policy does not apply");
  }
}

const notApplicable = (reason?: string): never => {
  throw new NotApplicableError(reason);
};

const pulumiTypeOf = (fn: unknown): string | undefined =>
  (fn as { __pulumiType?: string } | undefined)?.__pulumiType;

/** A deep copy, so a rule cannot change what the next rule sees. */
const copy = <T>(value: T): T => structuredClone(value);

const noOptions = {
  protect: false,
  ignoreChanges: [],
  aliases: [],
  customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
  additionalSecretOutputs: [],
};

/** Runs `policies` (default: the whole pack) over recorded resources. */
export async function runPolicies(
  resources: readonly RecordedResource[],
  policies: readonly RelayPolicy[] = packPolicies,
  options: PolicyRunOptions = {},
): Promise<PolicyRun> {
  const violations: Violation[] = [];
  const skipped: { policy: string; reason?: string }[] = [];
  const stackTags: ReadonlyMap<string, string> = new Map(Object.entries(options.stackTags ?? {}));
  const configOf = (policy: string) => {
    const entry = options.config?.[policy];
    return typeof entry === "object" ? entry : {};
  };
  const levelOf = (policy: RelayPolicy): EnforcementLevel => {
    const entry = options.config?.[policy.name];
    const configured =
      typeof entry === "string" ? entry : (entry?.enforcementLevel as EnforcementLevel);
    const level =
      configured || policy.enforcementLevel || options.packEnforcementLevel || "advisory";
    return level === "remediate" ? "mandatory" : level;
  };
  const getConfigFor =
    (policy: string) =>
    <T extends object>(): T => {
      const { enforcementLevel: _level, ...rest } = configOf(policy) as Record<string, unknown>;
      return rest as T;
    };

  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const providerOf = (r: RecordedResource) => {
    const ref = r.provider;
    if (!ref) return undefined;
    const urn = ref.slice(0, ref.lastIndexOf("::"));
    const provider = byUrn.get(urn);
    return provider
      ? {
          type: provider.type,
          props: unknownCheckingProxy(copy(provider.inputs)),
          urn,
          name: provider.name,
        }
      : undefined;
  };

  for (const policy of policies) {
    const enforcementLevel = levelOf(policy);
    if (enforcementLevel === "disabled") continue;
    const report =
      (defaultUrn?: string) =>
      (message: string, urn?: string): void => {
        violations.push({
          policy: policy.name,
          source: policy.source,
          enforcementLevel,
          message,
          urn: urn ?? defaultUrn,
        });
      };
    const handle = (error: unknown) => {
      if (error instanceof UnknownValueError) {
        violations.push({
          policy: policy.name,
          source: policy.source,
          enforcementLevel: "advisory",
          message: `can't run during preview: ${(error as Error).message}`,
        });
      } else if (error instanceof NotApplicableError) {
        skipped.push({ policy: policy.name, reason: error.reason });
      } else {
        throw error;
      }
    };

    if ("validateResource" in policy && policy.validateResource) {
      const validations = Array.isArray(policy.validateResource)
        ? policy.validateResource
        : [policy.validateResource];
      const onlyType = validations.length === 1 ? pulumiTypeOf(validations[0]) : undefined;
      if (onlyType && !resources.some((r) => r.type === onlyType)) {
        skipped.push({ policy: policy.name, reason: `only applies to ${onlyType}` });
        continue;
      }
      for (const resource of resources) {
        if (onlyType && resource.type !== onlyType) continue;
        for (const validation of validations) {
          const props = unknownCheckingProxy(copy(resource.inputs));
          const args: ResourceValidationArgs = {
            type: resource.type,
            props,
            urn: resource.urn,
            name: resource.name,
            opts: noOptions,
            provider: providerOf(resource),
            stackTags,
            isType: (cls) => pulumiTypeOf(cls) === resource.type,
            asType: ((cls: unknown) =>
              pulumiTypeOf(cls) === resource.type
                ? props
                : undefined) as ResourceValidationArgs["asType"],
            getConfig: getConfigFor(policy.name),
            notApplicable,
          };
          try {
            await Promise.resolve(validation(args, report(resource.urn)));
          } catch (error) {
            handle(error);
          }
        }
      }
    } else if ("validateStack" in policy) {
      const onlyType = pulumiTypeOf(policy.validateStack);
      if (onlyType && !resources.some((r) => r.type === onlyType)) {
        skipped.push({ policy: policy.name, reason: `only applies to ${onlyType}` });
        continue;
      }
      const policyResources = new Map<string, PolicyResource>();
      for (const r of resources) {
        const props = unknownCheckingProxy(copy(r.state));
        policyResources.set(r.urn, {
          type: r.type,
          props,
          urn: r.urn,
          name: r.name,
          opts: noOptions,
          provider: providerOf(r),
          dependencies: [],
          propertyDependencies: {},
          isType: (cls) => pulumiTypeOf(cls) === r.type,
          asType: ((cls: unknown) =>
            pulumiTypeOf(cls) === r.type ? props : undefined) as PolicyResource["asType"],
        });
      }
      for (const r of resources) {
        const parent = r.parent ? policyResources.get(r.parent) : undefined;
        if (parent) policyResources.get(r.urn)!.parent = parent;
      }
      const args: StackValidationArgs = {
        resources: [...policyResources.values()],
        stackTags,
        getConfig: getConfigFor(policy.name),
        notApplicable,
      };
      try {
        await Promise.resolve(policy.validateStack(args, report()));
      } catch (error) {
        handle(error);
      }
    }
  }
  return { violations, notApplicable: skipped };
}

/** `--list`: one line per rule. */
function listRules(policies: readonly RelayPolicy[] = packPolicies): string {
  const rows = policies.map((p) => [
    p.name,
    p.source,
    p.enforcementLevel,
    "validateStack" in p ? "stack" : "resource",
  ]);
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length)));
  return rows
    .map((r) => r.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]) : cell)).join("  "))
    .join("\n");
}

export const POLICY_COMMAND = {
  usage: "npm run policy --",
  summary:
    "Runs the CrossGuard policy pack (policy/rules/) over the resources the offline engine " +
    "records for a stack, the way `pulumi preview --policy-pack policy` would, and prints every " +
    "violation (mandatory first) and a one-line verdict.",
  options: {
    stack: {
      type: "string",
      value: "NAME",
      description:
        "stack to check: stacks/Pulumi.<NAME>.yaml (with --config: the stack name to use)",
      defaultText: "dev",
    },
    config: {
      type: "string",
      value: "FILE",
      description: "any stack file instead (the stack name comes from Pulumi.<name>.yaml)",
    },
    list: {
      type: "boolean",
      description: "print every rule (name, source, enforcement level, kind) and exit",
    },
  },
  examples: [
    "npm run policy -- --stack prod",
    "npm run policy -- --stack=prod",
    "npm run policy -- --list",
  ],
  notes: [
    "Exit codes: 0 no mandatory violation; 1 a mandatory violation (or the program failed on the " +
      "offline engine); 2 a usage or stack-config error; 130/143 interrupted.",
  ],
} as const satisfies CommandSpec<OptionSpecs>;

async function main(): Promise<number> {
  const { values } = parseCommandLine(POLICY_COMMAND);
  if (values.list) {
    if (values.stack || values.config) throw new UsageError("--list takes no --stack/--config");
    await writeOut(`${listRules()}\n\n${packPolicies.length} rules\n`);
    return 0;
  }
  const { readStackFile, stackFilePath } = await import("../config/load");
  const { ConfigError, parseConfig } = await import("../config/schema");
  const { runOffline } = await import("./engine");
  const stackName = values.stack ?? (values.config ? undefined : "dev");
  let file;
  try {
    file = values.config
      ? readStackFile(values.config, values.stack)
      : readStackFile(stackFilePath(stackName!), stackName);
    // The same validation as the program (and npm run plan): a bad value is a usage error here.
    parseConfig(file.relay, file.stack);
  } catch (error) {
    if (error instanceof ConfigError) {
      // One problem: one line; several: one line each.
      throw new UsageError(error.problems.length === 1 ? error.problems[0]! : error.message);
    }
    throw error;
  }
  const started = Date.now();
  const run = await runOffline({ stack: file.stack, relay: file.relay, other: file.other });
  const result = await runPolicies(run.resources);
  const mandatory = result.violations.filter((v) => v.enforcementLevel === "mandatory");
  const advisory = result.violations.filter((v) => v.enforcementLevel !== "mandatory");
  const lines: string[] = [];
  for (const v of [...mandatory, ...advisory]) {
    lines.push(`[${v.enforcementLevel}] ${v.policy} (${v.source})${v.urn ? `\n  ${v.urn}` : ""}`);
    lines.push(`  ${v.message.replace(/\n/g, "\n  ")}`);
  }
  lines.push(
    `stack ${run.stack}: ${run.resources.length} resources, ${packPolicies.length} rules, ` +
      `${mandatory.length} mandatory and ${advisory.length} advisory violations ` +
      `(${Date.now() - started} ms)`,
  );
  await writeOut(`${lines.join("\n")}\n`);
  return mandatory.length > 0 ? 1 : 0;
}

if (require.main === module) runMain("policy", main);
