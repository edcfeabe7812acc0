/**
 * Reading the raw `order-relay:*` values from the Pulumi runtime (the program) before
 * `parseConfig` validates them. Stack files (the offline tools) are config/load.ts.
 */
import * as pulumi from "@pulumi/pulumi";
import { CONFIG_NAMESPACE, RelayConfig, parseConfig } from "./schema";

/** Parses one config value: Pulumi hands objects and numbers to the program as JSON text. */
function decode(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Every `order-relay:*` key the runtime holds, decoded — including typos, so they can be reported. */
export function rawConfigFromRuntime(): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(pulumi.runtime.allConfig())) {
    const [namespace, ...rest] = key.split(":");
    if (namespace !== CONFIG_NAMESPACE) continue;
    raw[rest.join(":")] = decode(value);
  }
  return raw;
}

/** Reads and validates the stack's config from the Pulumi runtime: the one place `index.ts` calls. */
export function loadRelayConfig(): RelayConfig {
  return parseConfig(rawConfigFromRuntime(), pulumi.getStack());
}
