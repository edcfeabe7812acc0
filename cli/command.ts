/**
 * One way every command line of the project is defined and parsed: `node:util` `parseArgs` in
 * strict mode (no dependency, and it already accepts `--x v` and `--x=v`), wrapped so that
 * every command gets the same things for free:
 * - `--help` / `-h` that explains every flag, its value, its default and its environment variable;
 * - unknown flags, missing values and bad values rejected as a `UsageError` (exit 2) with one
 *   line naming the flag, the value and the fix;
 * - environment-variable fallbacks declared next to the flag, not in a source header.
 *
 * Values are parsed by the small parsers below (`integer`, `number`, `choice`, …), each of
 * which names the flag and the accepted range in its message.
 */
import { parseArgs } from "node:util";
import { closest } from "./suggest";

export interface OptionSpec {
  readonly type: "string" | "boolean";
  /** One line: what the flag does. */
  readonly description: string;
  /** Placeholder of the value in help, e.g. `N`, `URL`. @default - "VALUE" */
  readonly value?: string;
  /** Environment variable read when the flag is absent. @default - none */
  readonly env?: string;
  /** Default shown in help (the command applies it). @default - none shown */
  readonly defaultText?: string;
  readonly short?: string;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

export interface CommandSpec<O extends OptionSpecs> {
  /** How the user runs it, e.g. `npm run plan --`. */
  readonly usage: string;
  /** One paragraph: what the command does. */
  readonly summary: string;
  readonly options: O;
  /** Positional arguments, if any, as shown in the usage line. @default - none accepted */
  readonly positionals?: string;
  readonly examples?: readonly string[];
  /** Further paragraphs at the end of the help (exit codes, files written). */
  readonly notes?: readonly string[];
}

type Values<O extends OptionSpecs> = {
  [K in keyof O]?: O[K]["type"] extends "boolean" ? boolean : string;
};

export interface ParsedCommandLine<O extends OptionSpecs> {
  /** Flags as given, or from their environment variable. */
  readonly values: Values<O>;
  readonly positionals: readonly string[];
  /** Which flags came from the environment (for messages: "DC_QUEUE_URL=…"). */
  readonly fromEnv: ReadonlySet<keyof O>;
}

/** A mistake on the command line: one line naming the flag and the fix; exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Asked for help: the text to print; exit code 0. */
export class HelpRequested extends Error {
  constructor(readonly text: string) {
    super("help requested");
    this.name = "HelpRequested";
  }
}

/** `--retention-seconds -1` → `--retention-seconds=-1`, so a negative number reaches validation. */
function joinNegativeValues(argv: readonly string[], specs: OptionSpecs): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith("--") ? argv[i].slice(2) : undefined;
    const next = argv[i + 1];
    if (name && specs[name]?.type === "string" && next !== undefined && /^-\.?\d/.test(next)) {
      out.push(`${argv[i]}=${next}`);
      i++;
    } else {
      out.push(argv[i]);
    }
  }
  return out;
}

/** parseArgs' messages, made into one line that names the fix. */
function usageMessage(error: Error, specs: OptionSpecs): string {
  const text = error.message.split("\n")[0];
  const unknown = /Unknown option '(-{1,2}[^']+)'/.exec(text);
  if (unknown) {
    const flag = unknown[1].replace(/^-+/, "").split("=")[0];
    const hint = closest(flag, Object.keys(specs));
    return `unknown option ${unknown[1]}${hint ? ` — did you mean --${hint}?` : ""} (see --help)`;
  }
  const missing = /Option '(?:-\w, )?(--[^ ]+) <value>' argument missing/.exec(text);
  if (missing) return `${missing[1]} needs a value (see --help)`;
  const ambiguous = /Option '(?:-\w, )?(--[^ ']+)' argument is ambiguous/.exec(text);
  if (ambiguous) {
    const flag = ambiguous[1];
    return `${flag} needs a value (see --help); a value that starts with "-" is written ${flag}=-…`;
  }
  const positional = /Unexpected argument '([^']+)'/.exec(text);
  if (positional)
    return `unexpected argument "${positional[1]}" — flags start with -- (see --help)`;
  const notBoolean = /Option '(?:-\w, )?(--[^ ]+)' does not take an argument/.exec(text);
  if (notBoolean) return `${notBoolean[1]} is a switch and takes no value (see --help)`;
  return `${text} (see --help)`;
}

/**
 * Parses `argv` against the spec.
 * @throws HelpRequested for `--help`/`-h`; UsageError for any mistake.
 */
export function parseCommandLine<O extends OptionSpecs>(
  spec: CommandSpec<O>,
  argv: readonly string[] = process.argv.slice(2),
  env: NodeJS.ProcessEnv = process.env,
): ParsedCommandLine<O> {
  // Help wins over every other mistake on the line (but not after `--`, where words are data).
  const end = argv.indexOf("--");
  const flags = end >= 0 ? argv.slice(0, end) : argv;
  if (flags.includes("--help") || flags.includes("-h")) throw new HelpRequested(helpText(spec));
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const [name, option] of Object.entries(spec.options)) {
    options[name] = { type: option.type, ...(option.short ? { short: option.short } : {}) };
  }
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: joinNegativeValues(argv, spec.options),
      options,
      strict: true,
      allowPositionals: spec.positionals !== undefined,
    }) as typeof parsed;
  } catch (error) {
    throw new UsageError(usageMessage(error as Error, spec.options));
  }
  const values: Record<string, string | boolean | undefined> = { ...parsed.values };
  const fromEnv = new Set<keyof O>();
  for (const [name, option] of Object.entries(spec.options)) {
    const value = values[name];
    if (typeof value === "string" && value.startsWith("--")) {
      throw new UsageError(`--${name} needs a value, got the flag ${value} (see --help)`);
    }
    if (
      value === undefined &&
      option.env &&
      env[option.env] !== undefined &&
      env[option.env] !== ""
    ) {
      const raw = env[option.env]!;
      if (option.type === "boolean") {
        if (!["1", "0", "true", "false"].includes(raw)) {
          throw new UsageError(`${option.env}=${raw} must be true, false, 1 or 0 (for --${name})`);
        }
        values[name] = raw === "1" || raw === "true";
      } else {
        values[name] = raw;
      }
      fromEnv.add(name as keyof O);
    }
  }
  return { values: values as Values<O>, positionals: parsed.positionals, fromEnv };
}

/** The help text: usage, summary, every flag with its value, default and environment variable. */
export function helpText<O extends OptionSpecs>(spec: CommandSpec<O>): string {
  const lines = [
    `usage: ${spec.usage} [options]${spec.positionals ? ` ${spec.positionals}` : ""}`,
    "",
    ...wrap(spec.summary, 100),
    "",
    "options:",
  ];
  const entries = Object.entries(spec.options).map(([name, option]) => {
    const flag =
      (option.short ? `-${option.short}, ` : "") +
      `--${name}` +
      (option.type === "string" ? ` ${option.value ?? "VALUE"}` : "");
    const extras = [
      option.defaultText ? `default: ${option.defaultText}` : undefined,
      option.env ? `env: ${option.env}` : undefined,
    ].filter(Boolean);
    return { flag, text: option.description + (extras.length ? ` (${extras.join("; ")})` : "") };
  });
  entries.push({ flag: "-h, --help", text: "print this help and exit" });
  const width = Math.min(34, Math.max(...entries.map((e) => e.flag.length)) + 2);
  for (const { flag, text } of entries) {
    const [first, ...rest] = wrap(text, 100 - width - 2);
    lines.push(`  ${flag.padEnd(width)}${first}`);
    if (flag.length >= width)
      lines.splice(lines.length - 1, 1, `  ${flag}`, `  ${" ".repeat(width)}${first}`);
    for (const line of rest) lines.push(`  ${" ".repeat(width)}${line}`);
  }
  if (spec.examples?.length) lines.push("", "examples:", ...spec.examples.map((e) => `  ${e}`));
  for (const note of spec.notes ?? []) lines.push("", ...wrap(note, 100));
  return lines.join("\n") + "\n";
}

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  for (const paragraph of text.split("\n")) {
    let line = "";
    for (const word of paragraph.split(/\s+/).filter(Boolean)) {
      if (line && line.length + 1 + word.length > width) {
        out.push(line);
        line = word;
      } else {
        line = line ? `${line} ${word}` : word;
      }
    }
    out.push(line);
  }
  return out;
}

/** Where a value came from, for messages: `--rate` or `DC_WAIT_SECONDS (for --wait-seconds)`. */
function source(flag: string, env?: string): string {
  return env ? `${env} (for --${flag})` : `--${flag}`;
}

/** A whole number in [min, max]; `undefined` stays undefined. */
export function integer(
  flag: string,
  value: string | undefined,
  range: Range = {},
  env?: string,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n)) {
    throw new UsageError(
      `${source(flag, env)} must be a whole number${rangeText(range)}, got "${value}"`,
    );
  }
  checkRange(flag, value, n, range, env);
  return n;
}

/** A finite number in [min, max]; `undefined` stays undefined. */
export function decimal(
  flag: string,
  value: string | undefined,
  range: Range = {},
  env?: string,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n)) {
    throw new UsageError(
      `${source(flag, env)} must be a number${rangeText(range)}, got "${value}"`,
    );
  }
  checkRange(flag, value, n, range, env);
  return n;
}

/** One of the listed words. */
export function choice<T extends string>(
  flag: string,
  value: string | undefined,
  choices: readonly T[],
  env?: string,
): T | undefined {
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value)) {
    throw new UsageError(
      `${source(flag, env)} must be one of ${choices.join(", ")}, got "${value}"`,
    );
  }
  return value as T;
}

/** An http(s) URL. */
export function httpUrl(flag: string, value: string | undefined, env?: string): string | undefined {
  if (value === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || !/^https?:$/.test(url.protocol)) {
    throw new UsageError(`${source(flag, env)} must be an http(s) URL, got "${value}"`);
  }
  return value;
}

/**
 * A MySQL/MariaDB server URL as mysql2 takes it: `mysql://user[:password]@host[:port]/[database]`
 * (`mariadb://` too). Only the shape is checked here; whether the server answers is the command's.
 */
export function mysqlUrl(
  flag: string,
  value: string | undefined,
  env?: string,
): string | undefined {
  if (value === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || !/^(mysql|mariadb):$/.test(url.protocol) || !url.hostname) {
    throw new UsageError(
      `${source(flag, env)} must look like mysql://user:password@host:3306/, got "${value}"`,
    );
  }
  return value;
}

/** The environment variable a flag's value came from (for messages), if it did. */
export function envSource<O extends OptionSpecs>(
  spec: CommandSpec<O>,
  parsed: ParsedCommandLine<O>,
  name: keyof O & string,
): string | undefined {
  return parsed.fromEnv.has(name) ? spec.options[name]?.env : undefined;
}

/** A value the command cannot run without. */
export function required<T>(flag: string, value: T | undefined, env?: string, hint = ""): T {
  if (value === undefined || value === "") {
    throw new UsageError(
      `missing --${flag}${env ? ` (or ${env})` : ""}${hint ? `: ${hint}` : ""} (see --help)`,
    );
  }
  return value;
}

/** Accepted numbers: `min`/`max` inclusive, `above` exclusive (`{ above: 0 }`: "> 0"). */
export interface Range {
  readonly min?: number;
  readonly max?: number;
  readonly above?: number;
}

function rangeText({ min, max, above }: Range): string {
  if (above !== undefined && max !== undefined) return ` > ${above} and ≤ ${max}`;
  if (above !== undefined) return ` > ${above}`;
  if (min !== undefined && max !== undefined) return ` in ${min}..${max}`;
  if (min !== undefined) return ` ≥ ${min}`;
  if (max !== undefined) return ` ≤ ${max}`;
  return "";
}

function checkRange(flag: string, raw: string, n: number, range: Range, env?: string): void {
  if (
    (range.min !== undefined && n < range.min) ||
    (range.max !== undefined && n > range.max) ||
    (range.above !== undefined && n <= range.above)
  ) {
    throw new UsageError(`${source(flag, env)} must be${rangeText(range)}, got ${raw}`);
  }
}
