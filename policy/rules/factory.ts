/**
 * The one way to declare a rule. A rule is its metadata (name, source ids, what it requires,
 * enforcement level) plus one check; the factory fills in what every CrossGuard policy repeats:
 * the description prefixed with its source ids, the default level, and the type filtering of
 * resource checks (`validateResourceOfType`).
 */
import {
  EnforcementLevel,
  PolicyConfigSchema,
  ResourceValidation,
  ResourceValidationPolicy,
  StackValidation,
  StackValidationPolicy,
  TypedResourceValidation,
  validateResourceOfType,
} from "@pulumi/policy";
import { Resource, Unwrap } from "@pulumi/pulumi";

export type RelayPolicy = (ResourceValidationPolicy | StackValidationPolicy) & {
  /** Where the rule comes from: checkov / trivy ids, or "order-relay". */
  readonly source: string;
  readonly enforcementLevel: EnforcementLevel;
};

export interface RuleInfo {
  /** Unique name: what pack config, the tests and `npm run policy -- --list` refer to. */
  readonly name: string;
  /** checkov `CKV_AWS_*` / trivy `AVD-AWS-*` ids separated by ", ", or "order-relay". */
  readonly source: string;
  /** What the rule requires, one sentence; the description is `<source ids>: <summary>`. */
  readonly summary: string;
  /** @default - "mandatory" */
  readonly enforcementLevel?: "mandatory" | "advisory";
  /** Properties the pack config (`--policy-pack-config`) may set for this rule. */
  readonly configSchema?: PolicyConfigSchema;
}

/** A resource class of `@pulumi/aws` (its static `__pulumiType` is what the runtime filters on). */
export type ResourceClass<TArgs> = { new (name: string, args: TArgs, ...rest: any[]): Resource };

/** A check of one resource type's inputs, for rules that check several types differently. */
export const forType = <TArgs>(
  type: ResourceClass<TArgs>,
  check: TypedResourceValidation<Unwrap<NonNullable<TArgs>>>,
): ResourceValidation => validateResourceOfType(type, check);

function policyOf(info: RuleInfo) {
  return {
    name: info.name,
    source: info.source,
    description: `${info.source.split(", ").join(" / ")}: ${info.summary}`,
    enforcementLevel: info.enforcementLevel ?? "mandatory",
    ...(info.configSchema ? { configSchema: info.configSchema } : {}),
  };
}

/** A rule over each resource of one type (`of` + `check`) or of several (`checks`). */
export function resourceRule<TArgs>(
  rule: RuleInfo & {
    readonly of: ResourceClass<TArgs>;
    /** Gets the resource's inputs; reports each violation. */
    readonly check: TypedResourceValidation<Unwrap<NonNullable<TArgs>>>;
  },
): RelayPolicy;
export function resourceRule(
  rule: RuleInfo & { readonly checks: readonly ResourceValidation[] },
): RelayPolicy;
export function resourceRule(
  rule: RuleInfo &
    (
      | { readonly of: ResourceClass<unknown>; readonly check: TypedResourceValidation<any> }
      | { readonly checks: readonly ResourceValidation[] }
    ),
): RelayPolicy {
  return {
    ...policyOf(rule),
    validateResource: "checks" in rule ? [...rule.checks] : forType(rule.of, rule.check),
  };
}

/** A rule over the whole stack: every resource's outputs, parents and providers linked. */
export function stackRule(rule: RuleInfo & { readonly check: StackValidation }): RelayPolicy {
  return { ...policyOf(rule), validateStack: rule.check };
}
