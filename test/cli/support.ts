/**
 * Running the project's commands as child processes, the way a user or CI does, and finding
 * what they leave behind.
 *
 * Every child gets its own TMPDIR (a fresh dir), which it and all of its descendants inherit:
 * a process still carrying that TMPDIR in its environment after the command ended was left
 * behind by it (a re-parented `mariadbd`, a DC consumer), and anything in the dir is a temp
 * leftover — except tsx's own compile cache (`tsx-<uid>/`), which tsx keeps by design.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { stringify as toYaml } from "yaml";
import { readStackFile, stackFilePath } from "../../config/load";
import { KNOWN_REGIONS, partitionOf } from "../../config/schema";

export const ROOT = path.join(__dirname, "..", "..");
/** The tsx CLI, as `npm start`/`npm run …` runs it (a wrapper process that relays signals). */
export const TSX_CLI = path.join(ROOT, "node_modules", "tsx", "dist", "cli.mjs");

export interface Child {
  readonly process: ChildProcess;
  readonly tmp: string;
  stdout: string;
  stderr: string;
  /** Resolves with the exit code (or 128 + signal number) once the process has exited. */
  readonly exited: Promise<number>;
  /** Waits until `pattern` appears in the stream (rejects on timeout or exit). */
  waitFor(stream: "stdout" | "stderr", pattern: RegExp, timeoutMs: number): Promise<void>;
  /** Removes its TMPDIR (after the checks). */
  cleanUp(): void;
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

export interface StartOptions {
  /** Environment on top of this process's (undefined values are removed). */
  readonly env?: Record<string, string | undefined>;
  /** Through the tsx CLI wrapper (as npm runs it) instead of `node --import tsx`. */
  readonly viaTsxCli?: boolean;
  /** Own process group, so a test can signal the whole group like a terminal's Ctrl-C. */
  readonly detached?: boolean;
  /** Run as this user (root only). */
  readonly uid?: number;
  readonly gid?: number;
  /** Write this to stdin and close it; otherwise stdin is closed at once. */
  readonly stdin?: string;
  /** A TMPDIR another user may use (in /tmp, mode 0777), for `uid`. */
  readonly sharedTmp?: boolean;
}

/** Starts `script` (a path from the project root) with `args`. */
export function startCommand(
  script: string,
  args: readonly string[],
  options: StartOptions = {},
): Child {
  const tmp = mkdtempSync(path.join(options.sharedTmp ? "/tmp" : tmpdir(), "cli-child-"));
  if (options.sharedTmp) chmodSync(tmp, 0o777);
  const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp };
  for (const [k, v] of Object.entries(options.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const argv = options.viaTsxCli
    ? [TSX_CLI, script, ...args]
    : ["--import", "tsx", script, ...args];
  const proc = spawn(process.execPath, argv, {
    cwd: ROOT,
    env,
    detached: options.detached ?? false,
    stdio: ["pipe", "pipe", "pipe"],
    ...(options.uid !== undefined ? { uid: options.uid, gid: options.gid ?? options.uid } : {}),
  });
  proc.stdin!.end(options.stdin ?? "");
  const child: Child = {
    process: proc,
    tmp,
    stdout: "",
    stderr: "",
    exited: new Promise((resolve) => {
      proc.on("close", (code, signal) =>
        resolve(code ?? 128 + (SIGNAL_NUMBERS[signal ?? ""] ?? 0)),
      );
    }),
    waitFor(stream, pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (pattern.test(child[stream])) {
            clearTimeout(timer);
            proc.stdout!.off("data", check);
            proc.stderr!.off("data", check);
            resolve();
          }
        };
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `timed out waiting for ${pattern} on ${stream}\nstdout:\n${child.stdout}\nstderr:\n${child.stderr}`,
              ),
            ),
          timeoutMs,
        );
        proc.stdout!.on("data", check);
        proc.stderr!.on("data", check);
        void child.exited.then(() => {
          if (!pattern.test(child[stream])) {
            clearTimeout(timer);
            reject(
              new Error(
                `exited before ${pattern} appeared on ${stream}\nstdout:\n${child.stdout}\nstderr:\n${child.stderr}`,
              ),
            );
          }
        });
        check();
      });
    },
    cleanUp() {
      rmSync(tmp, { recursive: true, force: true });
    },
  };
  proc.stdout!.setEncoding("utf8").on("data", (d: string) => (child.stdout += d));
  proc.stderr!.setEncoding("utf8").on("data", (d: string) => (child.stderr += d));
  return child;
}

export interface LiveProcess {
  readonly pid: number;
  readonly command: string;
}

/**
 * Every process whose environment carries `TMPDIR=<tmp>` (or a dir inside it, as mocha's global
 * fixture sets): the child's descendants.
 */
export function processesOf(tmp: string): LiveProcess[] {
  const markers = [`\0TMPDIR=${tmp}\0`, `\0TMPDIR=${tmp}/`];
  const found: LiveProcess[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const environ = `\0${readFileSync(`/proc/${entry}/environ`, "latin1")}\0`;
      if (!markers.some((m) => environ.includes(m))) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue; // exited, unreaped
      const command = readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " ").trim();
      found.push({ pid: Number(entry), command });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

/** Waits (briefly) for every process of the child's run to be gone; returns what is left. */
export async function leftoverProcesses(tmp: string, waitMs = 5000): Promise<LiveProcess[]> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const left = processesOf(tmp);
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** What is left in the child's TMPDIR (tsx's compile cache aside). */
export function leftoverFiles(tmp: string): string[] {
  return readdirSync(tmp).filter((name) => !/^tsx-\d+$/.test(name));
}

/** Kills what a failed test left (so one failure does not leak into the machine). */
export function killAll(processes: readonly LiveProcess[]): void {
  for (const p of processes) {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

/** A stack file with `n` regions (prod's first), for a plan that takes a while and prints a lot. */
export function manyRegionStack(dir: string, n: number): string {
  const file = readStackFile(stackFilePath("prod"), "prod");
  const prodRegions = file.relay.regions as Record<string, unknown>[];
  const used = new Set(prodRegions.map((r) => String(r.region)));
  const extra = KNOWN_REGIONS.filter((r) => partitionOf(r) === "aws" && !used.has(r)).sort();
  const regions = [...prodRegions];
  for (let i = 0; regions.length < n; i++) {
    const cidr = `10.${100 + i}.0.0/16`;
    regions.push({ region: extra[i], vpc: { cidr }, dbClientCidrs: [cidr] });
  }
  const config: Record<string, unknown> = {};
  for (const [key, value] of Object.entries({ ...file.relay, regions }))
    config[`order-relay:${key}`] = value;
  for (const [key, value] of Object.entries(file.other)) config[key] = value;
  const out = path.join(dir, `Pulumi.many.yaml`);
  writeFileSync(out, toYaml({ config }));
  return out;
}
