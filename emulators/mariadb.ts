/**
 * A private MariaDB server for tests, `npm start` and benchmarks: its own data dir, socket, pid
 * file and TCP port on 127.0.0.1 — never the machine's system service.
 *
 * Uses Debian's `mariadb-server` binaries (`mariadbd`, `mariadb-install-db`; MARIADB_BIN_DIR
 * names another directory holding them). When they are absent and we are root,
 * `ensureMariaDbInstalled()` installs the package with apt-get.
 *
 * Nothing outlives its owner: the server runs in its own process group (a Ctrl-C in the terminal
 * does not reach it; `mariadbd` ignores SIGINT anyway), is registered with cli/process.ts's
 * `onShutdown` from the moment it is spawned (SIGINT/SIGTERM stop it cleanly and remove its
 * directories) and with `onExitSync` as the last resort (SIGKILL and remove, on a forced exit
 * or a crash). A server that fails to start leaves nothing behind either.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mysql from "mysql2/promise";
import { onExitSync, onShutdown } from "../cli/process";

export interface PrivateMariaDb {
  /** `mysql://root@127.0.0.1:PORT/` (no password; root over TCP from 127.0.0.1 only). */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** Stops the server (SIGTERM, clean InnoDB shutdown) and removes a data dir it created. */
  stop(): Promise<void>;
  /** Stops and starts the server again on the same port with the same data (fault injection). */
  restart(): Promise<void>;
}

export interface StartOptions {
  /** TCP port on 127.0.0.1. @default a free port chosen by the OS */
  port?: number;
  /** Existing or new data dir; kept on stop(). @default a new temp dir, removed on stop() */
  dataDir?: string;
  /** Start with `event_scheduler=ON` (the relay's events then run by themselves). @default false */
  eventScheduler?: boolean;
  /** Extra `mariadbd` arguments, e.g. `--innodb-flush-log-at-trx-commit=2`. */
  extraArgs?: string[];
  /** How long to wait for the server to accept connections. @default 60000 */
  startTimeoutMs?: number;
}

export class MariaDbUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MariaDbUnavailableError";
  }
}

const SEARCH_DIRS = ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/usr/libexec"];

function findBinary(names: string[]): string | undefined {
  // MARIADB_BIN_DIR: only that directory (a MariaDB unpacked elsewhere; tests use it to hide one).
  const dirs = process.env.MARIADB_BIN_DIR
    ? [process.env.MARIADB_BIN_DIR]
    : [...(process.env.PATH ?? "").split(":").filter(Boolean), ...SEARCH_DIRS];
  for (const name of names) {
    for (const dir of dirs) {
      const candidate = join(dir, name);
      if (existsSync(candidate)) return candidate;
    }
  }
  return undefined;
}

const serverBinary = () => findBinary(["mariadbd", "mysqld"]);
const installDbBinary = () => findBinary(["mariadb-install-db", "mysql_install_db"]);

const isRoot = () => typeof process.getuid === "function" && process.getuid() === 0;

/**
 * Makes sure `mariadbd` and `mariadb-install-db` exist. As root it installs Debian's
 * `mariadb-server` non-interactively; otherwise it throws a message saying how to proceed.
 */
export function ensureMariaDbInstalled(log: (line: string) => void = () => {}): void {
  if (serverBinary() && installDbBinary()) return;
  if (!isRoot()) {
    throw new MariaDbUnavailableError(
      `MariaDB is not installed (no mariadbd/mariadb-install-db in ${
        process.env.MARIADB_BIN_DIR
          ? `MARIADB_BIN_DIR=${process.env.MARIADB_BIN_DIR}`
          : "PATH or /usr/sbin"
      }) and we are not root: install mariadb-server (sudo apt-get install -y mariadb-server) ` +
        "or set MYSQL_URL=mysql://user:password@host:3306/ to use a MariaDB/MySQL server whose user may create databases",
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [["update"], ["install", "-y", "--no-install-recommends", "mariadb-server"]]) {
    log(`mariadb: apt-get ${args.join(" ")}`);
    const result = spawnSync("apt-get", args, {
      env,
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: 256 * 1024 * 1024, // apt's output must not overflow spawnSync's 1 MiB default
    });
    if (result.error || result.status !== 0) {
      const detail = result.error?.message ?? result.stderr.toString().trim().split("\n").pop();
      throw new MariaDbUnavailableError(
        `apt-get ${args.join(" ")} failed (${detail}); install mariadb-server yourself or set MYSQL_URL`,
      );
    }
  }
  if (!serverBinary() || !installDbBinary()) {
    throw new MariaDbUnavailableError(
      "mariadb-server was installed but mariadbd/mariadb-install-db were not found; set MYSQL_URL",
    );
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, "utf8").trim().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no error log)";
  }
}

/** The server's last error-log line that says what went wrong, for a one-line message. */
function lastError(file: string): string {
  const lines = tail(file, 40).split("\n");
  const error = [...lines].reverse().find((l) => /\[(ERROR|FATAL)\]/.test(l)) ?? lines.at(-1) ?? "";
  return error.replace(/^.*\[(ERROR|FATAL)\]\s*/, "").trim() || "(empty error log)";
}

/** Starts a private MariaDB; resolves once it accepts TCP connections as root. */
export async function startPrivateMariaDb(options: StartOptions = {}): Promise<PrivateMariaDb> {
  ensureMariaDbInstalled();
  const mariadbd = serverBinary()!;
  const installDb = installDbBinary()!;
  const ownsDataDir = options.dataDir === undefined;
  const port = options.port ?? (await freePort());
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "relay-mariadb-"));
  const runDir = mkdtempSync(join(tmpdir(), "relay-mariadb-run-"));
  let child: ChildProcess | undefined;
  /** Every server process spawned that has not exited yet (a restart has two for a moment). */
  const running = new Set<ChildProcess>();
  const removeDirs = () => {
    rmSync(runDir, { recursive: true, force: true });
    if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
  };
  // Last resort (forced exit, crash): kill whatever runs and remove the directories, synchronously.
  const unhookExit = onExitSync(() => {
    for (const proc of running) proc.kill("SIGKILL");
    removeDirs();
  });
  const socket = join(runDir, "mariadb.sock");
  const pidFile = join(runDir, "mariadb.pid");
  const errorLog = join(runDir, "error.log");
  const userArgs = isRoot() ? ["--user=root"] : [];

  if (!existsSync(join(dataDir, "mysql"))) {
    const init = spawnSync(
      installDb,
      [
        "--no-defaults",
        `--datadir=${dataDir}`,
        ...userArgs,
        // root gets no password and no unix_socket-only auth, so TCP from 127.0.0.1 works.
        "--auth-root-authentication-method=normal",
        "--skip-test-db",
        "--skip-name-resolve",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    if (init.error || init.status !== 0) {
      unhookExit();
      removeDirs();
      const detail = init.error?.message ?? init.stderr.toString().trim().split("\n").pop();
      throw new MariaDbUnavailableError(`mariadb-install-db failed: ${detail}`);
    }
  }

  const args = [
    "--no-defaults",
    `--datadir=${dataDir}`,
    `--socket=${socket}`,
    `--pid-file=${pidFile}`,
    `--log-error=${errorLog}`,
    // Its own temp dir: another process cleaning /tmp must not break the server's temp tables.
    `--tmpdir=${runDir}`,
    `--port=${port}`,
    "--bind-address=127.0.0.1",
    "--skip-name-resolve",
    ...userArgs,
    "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_unicode_ci",
    "--skip-log-bin",
    `--event-scheduler=${options.eventScheduler ? "ON" : "OFF"}`,
    "--max-connections=500",
    "--innodb-buffer-pool-size=256M",
    ...(options.extraArgs ?? []),
  ];
  const url = `mysql://root@127.0.0.1:${port}/`;
  let stopping = false;

  const start = async () => {
    // Its own process group: the terminal's Ctrl-C goes to us, and we stop the server in order.
    const proc = spawn(mariadbd, args, { stdio: "ignore", detached: true });
    child = proc;
    running.add(proc);
    let ready = false;
    let exited: string | undefined;
    proc.once("exit", (code, signal) => {
      running.delete(proc);
      exited = `exited with ${signal ?? code}`;
      if (child === proc && ready && !stopping) {
        // Died on its own (not via stop/restart): say so, with the server's own last words.
        console.error(`private MariaDB on port ${port} ${exited}:\n${tail(errorLog)}`);
      }
    });

    const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
    for (;;) {
      if (exited) {
        throw new MariaDbUnavailableError(`mariadbd ${exited}: ${lastError(errorLog)}`);
      }
      try {
        const connection = await mysql.createConnection({
          host: "127.0.0.1",
          port,
          user: "root",
          connectTimeout: 2000,
        });
        await connection.end();
        ready = true;
        accepting = true;
        return;
      } catch (error) {
        if (Date.now() > deadline) {
          proc.kill("SIGKILL");
          throw new MariaDbUnavailableError(
            `mariadbd did not accept connections on 127.0.0.1:${port} within ${
              (options.startTimeoutMs ?? 60_000) / 1000
            } s (${(error as Error).message}; server log: ${lastError(errorLog)})`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };

  let accepting = false;
  /**
   * Stops the server: SIGTERM (a clean InnoDB shutdown), SIGKILL after `graceMs`. A server that
   * is still starting ignores SIGTERM until it is up, so it gets SIGKILL at once.
   */
  const halt = async (graceMs: number) => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => proc.kill("SIGKILL"), accepting ? graceMs : 0);
      proc.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
      proc.kill("SIGTERM");
    });
    accepting = false;
  };

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      stopping = true;
      // Data that is removed next needs no long clean shutdown.
      await halt(ownsDataDir ? 5_000 : 60_000);
      removeDirs();
      unhookExit();
      unregister();
    })());
  // From the moment the server is spawned: a signal stops it (cleanly) and removes its dirs.
  const unregister = onShutdown(stop);
  try {
    await start();
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    port,
    dataDir,
    stop,
    async restart() {
      if (stopped) throw new Error("restart() after stop()");
      await halt(60_000);
      await start();
    },
  };
}
