/**
 * `npm run policy -- --stack <name> | --config <yaml> | --list`
 *
 * Runs the policy pack's rules (`policy/rules/`) over the offline engine's resources, giving each
 * rule the argument shape the CrossGuard runtime gives it (`@pulumi/policy` server.js):
 * resource rules get the resource's inputs, stack rules every resource's outputs with parents and
 * providers linked; props are wrapped in the runtime's unknown-checking proxy; `notApplicable`,
 * `stackTags` and `getConfig` behave as they do there. Exits 1 on a mandatory violation.
 *
 * The adapter (`runPolicies`) is also what the tests use.
 */
import {
  EnforcementLevel,
  PolicyResource,
  ResourceValidationArgs,
  StackValidationArgs,
  UnknownValueError,
  unknownCheckingProxy,
} from "@pulumi/policy";
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

function usage(): never {
  console.error(
    "usage: npm run policy -- --stack <name> | --config <stack yaml> [--stack <name>] | --list",
  );
  process.exit(2);
}

async function main(argv: string[]): Promise<number> {
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  if (argv.includes("--list")) {
    console.log(listRules());
    console.log(`\n${packPolicies.length} rules`);
    return 0;
  }
  const stack = value("--stack");
  const configFile = value("--config");
  if (!stack && !configFile) usage();
  const { runStack } = await import("./engine");
  const started = Date.now();
  const run = await runStack({ stack, configFile });
  const result = await runPolicies(run.resources);
  const mandatory = result.violations.filter((v) => v.enforcementLevel === "mandatory");
  const advisory = result.violations.filter((v) => v.enforcementLevel !== "mandatory");
  for (const v of [...mandatory, ...advisory]) {
    console.log(`[${v.enforcementLevel}] ${v.policy} (${v.source})${v.urn ? `\n  ${v.urn}` : ""}`);
    console.log(`  ${v.message.replace(/\n/g, "\n  ")}`);
  }
  console.log(
    `stack ${run.stack}: ${run.resources.length} resources, ${packPolicies.length} rules, ` +
      `${mandatory.length} mandatory and ${advisory.length} advisory violations ` +
      `(${Date.now() - started} ms)`,
  );
  return mandatory.length > 0 ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(2);
    },
  );
}
