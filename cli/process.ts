/**
 * How every long-running command lives and dies:
 * - `onShutdown(fn)` registers a cleanup (stop a child process, remove a temp dir); on SIGINT,
 *   SIGTERM or a normal end they run newest first, once. `onInterrupt(fn)` runs before them
 *   on a signal only (print the partial summary while the databases are still up).
 * - `onExitSync(fn)` is the last resort for what must never outlive the process (a private
 *   `mariadbd`, a temp dir): it runs synchronously in `process.on("exit")` for whatever is still
 *   registered then — after a forced exit (second Ctrl-C), a crash, or a library that calls
 *   `process.exit` (mocha's `--exit`) without running the cleanups.
 * - `writeOut`/`writeErr` resolve once the text is handed to the OS, so a pipe (`| head`,
 *   `| jq`) gets every byte however large the output, before `runMain` exits.
 * - `runMain(name, main)` turns the outcome into an exit code and one line on stderr:
 *   0 success; 1 a failure the command reports (`CommandError`, or an unexpected error —
 *   a stack trace only with DEBUG=1); 2 a usage error; 130/143 interrupted by SIGINT/SIGTERM.
 *
 * One Ctrl-C reaches a process several times: the terminal signals the whole process group, and
 * `npm` and `tsx` each relay the signal to their child as well. A repeat of the signal within
 * `REPEAT_WINDOW_MS` is therefore the same Ctrl-C and ignored; a later one forces the exit (the
 * `onExitSync` hooks still run).
 */
import { HelpRequested, UsageError } from "./command";

/** An expected failure (a server that is unreachable, a bad file): one line, the fix included. */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = "CommandError";
  }
}

type Cleanup = () => unknown;

const cleanups: Cleanup[] = [];
const interruptHandlers: Cleanup[] = [];
const exitHooks = new Set<() => void>();
let signalsInstalled = false;
let exitHookInstalled = false;
let shuttingDown: Promise<void> | undefined;
/** The reader of stdout went away (`| head`): further output is dropped, not an error. */
let stdoutClosed = false;

/** A repeat of the same signal this soon after the first is the same Ctrl-C, relayed. */
export const REPEAT_WINDOW_MS = 1000;

/** Registers a cleanup; returns a function that unregisters it (after the resource is gone). */
export function onShutdown(cleanup: Cleanup): () => void {
  installSignalHandlers();
  cleanups.push(cleanup);
  return () => {
    const index = cleanups.lastIndexOf(cleanup);
    if (index >= 0) cleanups.splice(index, 1);
  };
}

/** Registers what to do first when interrupted (e.g. print a partial summary). */
export function onInterrupt(handler: Cleanup): () => void {
  installSignalHandlers();
  interruptHandlers.push(handler);
  return () => {
    const index = interruptHandlers.lastIndexOf(handler);
    if (index >= 0) interruptHandlers.splice(index, 1);
  };
}

/**
 * Registers a synchronous last-resort cleanup (SIGKILL a child, rmSync a dir) run on process
 * exit if it is still registered then; returns the function that unregisters it.
 */
export function onExitSync(hook: () => void): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on("exit", () => {
      for (const h of [...exitHooks].reverse()) {
        try {
          h();
        } catch {
          // the process is exiting: nothing left to report to
        }
      }
      exitHooks.clear();
    });
  }
  exitHooks.add(hook);
  return () => {
    exitHooks.delete(hook);
  };
}

/**
 * Runs every registered cleanup once, newest first; errors are reported, not thrown. Cleanups
 * registered while it runs (or after) run too: calling it again runs those.
 */
export function shutdown(): Promise<void> {
  shuttingDown ??= (async () => {
    try {
      while (cleanups.length > 0) {
        const cleanup = cleanups.pop()!;
        try {
          await cleanup();
        } catch (error) {
          process.stderr.write(`cleanup failed: ${(error as Error).message ?? String(error)}\n`);
        }
      }
    } finally {
      shuttingDown = undefined;
    }
  })();
  return shuttingDown;
}

const SIGNAL_EXIT_CODES: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

/** An AbortSignal that fires on SIGINT/SIGTERM, for loops that should stop early. */
export const interrupted = new AbortController();

/** The signal that interrupted the process, if any. */
export function interruptedBy(): NodeJS.Signals | undefined {
  return firstSignal?.signal;
}

let firstSignal: { signal: NodeJS.Signals; at: number } | undefined;

function installSignalHandlers(): void {
  if (signalsInstalled) return;
  signalsInstalled = true;
  for (const signal of Object.keys(SIGNAL_EXIT_CODES) as NodeJS.Signals[]) {
    process.on(signal, () => {
      if (firstSignal) {
        if (Date.now() - firstSignal.at < REPEAT_WINDOW_MS) return; // the same Ctrl-C, relayed
        process.stderr.write(`${signal} again: exiting without waiting for cleanup\n`);
        process.exit(SIGNAL_EXIT_CODES[firstSignal.signal]); // onExitSync hooks still run
      }
      firstSignal = { signal, at: Date.now() };
      const code = SIGNAL_EXIT_CODES[signal];
      process.stderr.write(`\n${signal}: stopping (cleaning up; ${signal} again to force)\n`);
      interrupted.abort(new Error(`interrupted by ${signal}`));
      void (async () => {
        for (const handler of interruptHandlers.splice(0).reverse()) {
          try {
            await handler();
          } catch (error) {
            process.stderr.write(`on interrupt: ${(error as Error).message ?? String(error)}\n`);
          }
        }
        await shutdown();
        await flush();
        process.exit(code);
      })();
    });
  }
}

function write(stream: NodeJS.WriteStream, text: string): Promise<void> {
  if (stream === process.stdout && stdoutClosed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    try {
      stream.write(text, (error) => {
        if (!error) return resolve();
        if ((error as NodeJS.ErrnoException).code === "EPIPE" || stream.destroyed) {
          return resolve(); // the reader left; ignoreClosedPipes decides what happens next
        }
        reject(error);
      });
    } catch (error) {
      reject(error as Error);
    }
  });
}

/** Writes to stdout and resolves once the OS has it (pipes included). */
export function writeOut(text: string): Promise<void> {
  return write(process.stdout, text);
}

/** Writes to stderr and resolves once the OS has it. */
export function writeErr(text: string): Promise<void> {
  return write(process.stderr, text);
}

/** Resolves once everything written so far (console.log included) is handed to the OS. */
export async function flush(): Promise<void> {
  await writeOut("");
  await writeErr("");
}

/**
 * A reader that closed the pipe early (`| head`) is not an error of ours: output stops, the
 * cleanups run, and the process exits with the code it had (0 unless set).
 */
function ignoreClosedPipes(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE") throw error;
      if (stream === process.stdout) stdoutClosed = true;
      void shutdown().then(() => process.exit(process.exitCode ?? 0));
    });
  }
}

/**
 * Runs a command's `main` and exits with its code once output is flushed and cleanups ran.
 * `main` returns the exit code (0 when it returns nothing).
 */
export function runMain(name: string, main: () => Promise<number | void>): void {
  ignoreClosedPipes();
  installSignalHandlers();
  void (async () => {
    let code: number;
    try {
      code = (await main()) ?? 0;
    } catch (error) {
      code = await report(name, error);
    }
    await shutdown();
    if (interrupted.signal.aborted) return; // the signal handler exits with 130/143
    // Flush both streams before exiting: a pipe gets every byte.
    await flush();
    process.exit(code);
  })();
}

async function report(name: string, error: unknown): Promise<number> {
  if (error instanceof HelpRequested) {
    await writeOut(error.text);
    return 0;
  }
  if (interrupted.signal.aborted) return 130;
  if (error instanceof UsageError) {
    await writeErr(`${name}: ${error.message}\n`);
    return 2;
  }
  if (error instanceof CommandError) {
    await writeErr(
      `${name}: ${error.message}` + (process.env.DEBUG ? `\n${error.stack ?? ""}` : "") + "\n",
    );
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  await writeErr(
    `${name}: ${message.split("\n")[0]}` +
      (process.env.DEBUG
        ? `\n${(error as Error).stack ?? ""}`
        : " (DEBUG=1 shows the stack trace)") +
      "\n",
  );
  return 1;
}
