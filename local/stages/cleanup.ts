/** What a run started, stopped last-started first (best effort) when the run ends. */
export class Cleanup {
  private readonly steps: (() => Promise<unknown>)[] = [];

  /** Registers a stop step; steps run in reverse registration order. */
  defer(step: () => Promise<unknown>): void {
    this.steps.push(step);
  }

  /** Runs every registered step once, newest first; a failing step does not stop the others. */
  async run(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step();
      } catch {
        // best effort
      }
    }
  }
}
