import { onShutdown } from "../../cli/process";

/**
 * What a run started, stopped last-started first (best effort) when the run ends — normally, on
 * an error, or on SIGINT/SIGTERM: the first `defer` registers the whole list with cli/process.ts's
 * `onShutdown`, so a signal runs the same steps in the same order.
 */
export class Cleanup {
  private readonly steps: (() => Promise<unknown>)[] = [];
  private running: Promise<void> | undefined;
  private unregister: (() => void) | undefined;

  /** Registers a stop step; steps run in reverse registration order. */
  defer(step: () => Promise<unknown>): void {
    this.steps.push(step);
    this.unregister ??= onShutdown(() => this.run());
  }

  /**
   * Runs every registered step once, newest first; a failing step does not stop the others.
   * Called again while it runs (the run's own end and a signal at once), it waits for the same.
   */
  run(): Promise<void> {
    this.running ??= (async () => {
      try {
        while (this.steps.length > 0) {
          const step = this.steps.pop()!;
          try {
            await step();
          } catch {
            // best effort
          }
        }
      } finally {
        this.unregister?.();
        this.unregister = undefined;
        this.running = undefined;
      }
    })();
    return this.running;
  }
}
