/**
 * Component type tokens the rules look for, from the program's own list
 * (contract/componentTypes.ts), so a renamed component cannot silently blind a rule.
 */
import { COMPONENT_TYPE } from "../../contract/componentTypes";
import { DECLARING_COMPONENT_TYPE } from "../../contract/declarations";

/** `Aggregator` (components/aggregator.ts): its queues are the aggregator's, not a region's. */
export const AGGREGATOR_COMPONENT_TYPE = COMPONENT_TYPE.aggregator;

/** `AckPath` (components/ackPath.ts): the DC's acknowledgements back to a region. */
export const ACK_PATH_COMPONENT_TYPE = COMPONENT_TYPE.ackPath;

/** `RelayObservability`, whose inputs are the stack's declarations (contract/declarations.ts). */
export { DECLARING_COMPONENT_TYPE };
