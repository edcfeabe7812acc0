/**
 * Stack facts no AWS resource shows (is it production, its privacy bound, the database's purge
 * timing). The program declares them as the inputs of one component; the policy pack reads them
 * from there (or from the pack's config), so the pack can check relationships between resources
 * and these declarations.
 */
import { COMPONENT_TYPE } from "./componentTypes";

export interface StackDeclarations {
  /** `order-relay:production`. */
  readonly production: boolean;
  /** `order-relay:maxResidenceHours`, when set. */
  readonly maxResidenceHours?: number;
  /** `order-relay:retentionHours`: how long the purge keeps handed-off orders in the DB. */
  readonly retentionHours: number;
  /** `order-relay:purgeIntervalMinutes`. */
  readonly purgeIntervalMinutes: number;
  /** `order-relay:purgeRequires`: "confirmed" (the DC acknowledged) or "handedOff". */
  readonly purgeRequires: "confirmed" | "handedOff";
  /** `order-relay:resendAfterMinutes`: unconfirmed changes are dispatched again after this. */
  readonly resendAfterMinutes: number;
}

/** The type token of the component whose inputs are the declarations (RelayObservability). */
export const DECLARING_COMPONENT_TYPE = COMPONENT_TYPE.observability;

/** Stack tag a pack falls back to when no component declares `production`. */
export const PRODUCTION_STACK_TAG = "order-relay:production";
