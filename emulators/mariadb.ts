/**
 * A private MariaDB server for tests, `npm start` and benchmarks: its own data dir, socket, pid
 * file and TCP port on 127.0.0.1 — never the machine's system service.
 *
 * Uses Debian's `mariadb-server` binaries (`mariadbd`, `mariadb-install-db`). When they are
 * absent and we are root, `ensureMariaDbInstalled()` installs the package with apt-get.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mysql from "mysql2/promise";

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
  const dirs = [...(process.env.PATH ?? "").split(":").filter(Boolean), ...SEARCH_DIRS];
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
      "MariaDB is not installed and we are not root: run `sudo apt-get install -y mariadb-server` " +
        "(Debian/Ubuntu), or set MYSQL_URL=mysql://user:pass@host:port/ to use an existing " +
        "MariaDB/MySQL server whose user may create databases.",
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

/** Starts a private MariaDB; resolves once it accepts TCP connections as root. */
export async function startPrivateMariaDb(options: StartOptions = {}): Promise<PrivateMariaDb> {
  ensureMariaDbInstalled();
  const mariadbd = serverBinary()!;
  const installDb = installDbBinary()!;
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "relay-mariadb-"));
  const port = options.port ?? (await freePort());
  const runDir = mkdtempSync(join(tmpdir(), "relay-mariadb-run-"));
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
      throw new MariaDbUnavailableError(
        `mariadb-install-db failed: ${init.error?.message ?? init.stderr.toString().trim()}`,
      );
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
  let child: ChildProcess | undefined;

  const start = async () => {
    const proc = spawn(mariadbd, args, { stdio: "ignore", detached: false });
    child = proc;
    let ready = false;
    let exited: string | undefined;
    proc.once("exit", (code, signal) => {
      exited = `exited with ${signal ?? code}`;
      if (child === proc && ready) {
        // Died on its own (not via stop/restart): say so, with the server's own last words.
        console.error(`private MariaDB on port ${port} ${exited}:\n${tail(errorLog)}`);
      }
    });

    const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
    for (;;) {
      if (exited) {
        throw new MariaDbUnavailableError(`mariadbd ${exited}:\n${tail(errorLog)}`);
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
        return;
      } catch (error) {
        if (Date.now() > deadline) {
          proc.kill("SIGKILL");
          throw new MariaDbUnavailableError(
            `mariadbd did not accept connections on 127.0.0.1:${port} (${(error as Error).message}):\n${tail(errorLog)}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };

  const halt = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => proc.kill("SIGKILL"), 60_000);
      proc.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
      proc.kill("SIGTERM");
    });
  };

  await start();
  let stopped = false;
  return {
    url,
    port,
    dataDir,
    async stop() {
      if (stopped) return;
      stopped = true;
      await halt();
      rmSync(runDir, { recursive: true, force: true });
      if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
    },
    async restart() {
      if (stopped) throw new Error("restart() after stop()");
      await halt();
      await start();
    },
  };
}
