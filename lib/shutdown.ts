// Stopping is the reverse of starting: each part registers how it stops as
// soon as it has started, and unwinding runs those steps last-in first-out,
// within one time budget. A step that fails is logged and the rest still run,
// so one broken part never keeps the others (or the database) open.
import type { Logger } from './log.ts';

/** Stops one part; gets the milliseconds left of the whole budget. */
export type StopStep = (budgetMs: number) => Promise<void> | void;

export class ShutdownStack {
  readonly #log: Logger;
  readonly #steps: { name: string; stop: StopStep }[] = [];
  #unwinding: Promise<void> | undefined;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Registers a started part; it stops before everything registered earlier. */
  push(name: string, stop: StopStep): void {
    this.#steps.push({ name, stop });
  }

  /** Stops every part, newest first, sharing budgetMs; later calls wait for the first. */
  unwind(budgetMs: number): Promise<void> {
    this.#unwinding ??= this.#unwind(budgetMs);
    return this.#unwinding;
  }

  async #unwind(budgetMs: number): Promise<void> {
    const deadline = Date.now() + budgetMs;
    for (let step = this.#steps.pop(); step; step = this.#steps.pop()) {
      try {
        await step.stop(Math.max(0, deadline - Date.now()));
      } catch (error) {
        this.#log.error({ err: error, part: step.name }, 'could not stop cleanly');
      }
    }
  }
}
