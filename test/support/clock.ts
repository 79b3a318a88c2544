// A clock a story moves by hand: every rule that depends on time (expiry,
// notices, the sweeper) reads it instead of waiting.

export class TestClock {
  #now: number;

  constructor(start = Date.now()) {
    this.#now = start;
  }

  /** The clock as services take it: ms since the epoch. */
  readonly now = (): number => this.#now;

  advance(ms: number): void {
    this.#now += ms;
  }

  set(at: number): void {
    this.#now = at;
  }
}

export const DAY = 86_400_000;
