/**
 * Reading the raw `order-relay:*` values from a stack file (the offline tools) before
 * `parseConfig` validates them. The program's half, from the Pulumi runtime, is config/runtime.ts:
 * kept apart so the command lines answer `--help` and usage errors without loading Pulumi.
 */
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { CONFIG_NAMESPACE, ConfigError } from "./schema";

/** A stack file (`stacks/Pulumi.<stack>.yaml`) split into our namespace and the rest. */
export interface StackFile {
  readonly path: string;
  readonly stack: string;
  /** `order-relay:*` values without the namespace. */
  readonly relay: Record<string, unknown>;
  /** Every other namespaced value (e.g. `aws:defaultTags`), keyed with its namespace. */
  readonly other: Record<string, unknown>;
}

export const STACKS_DIR = path.join(__dirname, "..", "stacks");

export function stackFilePath(stack: string): string {
  return path.join(STACKS_DIR, `Pulumi.${stack}.yaml`);
}

/** Stack names that have a file in `stacks/`. */
export function listStacks(): string[] {
  return fs
    .readdirSync(STACKS_DIR)
    .map((file) => /^Pulumi\.(.+)\.yaml$/.exec(file)?.[1])
    .filter((stack): stack is string => stack !== undefined)
    .sort();
}

/** Reads a stack YAML file; the stack name is taken from `Pulumi.<stack>.yaml` unless given. */
export function readStackFile(file: string, stack?: string): StackFile {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError([`cannot read stack file ${file}: ${(error as Error).message}`]);
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new ConfigError([`${file} is not valid YAML: ${(error as Error).message}`]);
  }
  const config = (document as { config?: unknown } | null)?.config;
  if (config === null || typeof config !== "object" || Array.isArray(config)) {
    throw new ConfigError([
      `${file} has no "config:" map — see stacks/Pulumi.dev.yaml for the shape`,
    ]);
  }
  const relay: Record<string, unknown> = {};
  const other: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config as Record<string, unknown>)) {
    const [namespace, ...rest] = key.split(":");
    if (namespace === CONFIG_NAMESPACE && rest.length > 0) relay[rest.join(":")] = value;
    else other[key] = value;
  }
  const name = stack ?? /Pulumi\.(.+)\.yaml$/.exec(path.basename(file))?.[1] ?? "dev";
  return { path: file, stack: name, relay, other };
}
