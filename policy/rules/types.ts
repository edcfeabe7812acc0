/**
 * Component type tokens the rules look for. The components are about to export their tokens as
 * static constants; until then they are spelled here, and only here.
 * TODO: import them from components/ once exported.
 */
import { DECLARING_COMPONENT_TYPE } from "../../contract/declarations";

/** `Aggregator` (components/aggregator.ts): its queues are the aggregator's, not a region's. */
export const AGGREGATOR_COMPONENT_TYPE = "order-relay:aggregator:Aggregator";

/** `RelayObservability`, whose inputs are the stack's declarations (contract/declarations.ts). */
export { DECLARING_COMPONENT_TYPE };
