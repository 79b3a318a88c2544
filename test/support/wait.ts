// Waiting in tests: for a fixed time, or until a condition holds.

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `check` holds, returning how long it took; throws after timeoutMs. */
export async function within(
  timeoutMs: number,
  check: () => boolean | Promise<boolean>,
): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await check()) return performance.now() - start;
    if (performance.now() - start > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await sleep(20);
  }
}
