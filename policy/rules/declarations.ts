/**
 * Stack facts no resource shows (is this a production stack? the privacy bound, the DB
 * retention): read from the inputs the program declares on its `RelayObservability` component
 * (contract/declarations.ts); the pack's own config (`--policy-pack-config`) may override each
 * of them per rule, and the `order-relay:production` stack tag marks production when nothing is
 * declared (see policy/README.md).
 */
import { PolicyConfigSchema, StackValidationArgs } from "@pulumi/policy";
import { PRODUCTION_STACK_TAG, StackDeclarations } from "../../contract/declarations";
import { DECLARING_COMPONENT_TYPE } from "./types";

/** The declarations as the pack sees them: a stack may declare nothing. */
export type Declared = Partial<StackDeclarations>;

/** The stack's declarations, with pack-config overrides. */
export function declarations(args: StackValidationArgs): Declared {
  const component = args.resources.find((r) => r.type === DECLARING_COMPONENT_TYPE);
  const declared = (component?.props ?? {}) as Declared;
  const overrides = args.getConfig<Declared>();
  const tagged = args.stackTags.get(PRODUCTION_STACK_TAG);
  return {
    production:
      overrides.production ??
      declared.production ??
      (tagged === undefined ? undefined : tagged === "true"),
    maxResidenceHours: overrides.maxResidenceHours ?? declared.maxResidenceHours,
    retentionHours: overrides.retentionHours ?? declared.retentionHours,
    purgeIntervalMinutes: overrides.purgeIntervalMinutes ?? declared.purgeIntervalMinutes,
    purgeRequires: overrides.purgeRequires ?? declared.purgeRequires,
    resendAfterMinutes: overrides.resendAfterMinutes ?? declared.resendAfterMinutes,
  };
}

/** `configSchema` of a rule that reads the declarations: each may be overridden. */
export const declarationSchema = {
  properties: {
    production: { type: "boolean", description: "Override: the stack is production." },
    maxResidenceHours: { type: "number", description: "Override: the privacy bound." },
    retentionHours: { type: "number", description: "Override: DB retention (hours)." },
    purgeIntervalMinutes: { type: "number", description: "Override: purge interval." },
    purgeRequires: {
      type: "string",
      enum: ["confirmed", "handedOff"],
      description: "Override: what the purge waits for.",
    },
    resendAfterMinutes: { type: "number", description: "Override: resend interval (minutes)." },
  } satisfies Record<keyof StackDeclarations, PolicyConfigSchema["properties"][string]>,
} satisfies PolicyConfigSchema;
