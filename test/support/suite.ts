// Something a describe block's tests share, opened before them and closed
// after them, read as if it were there all along.
import { afterAll, beforeAll } from 'vitest';

/**
 * Opens a resource in a beforeAll hook of the enclosing describe block and
 * closes it in an afterAll hook; called first in the block, it is open for
 * all the block's other hooks (vitest runs afterAll hooks in reverse). The
 * view reads `keys` from the open resource: in hooks and tests, not while
 * the tests are being collected.
 */
export function suiteResource<T extends object, K extends keyof T>(
  open: () => Promise<T>,
  close: (resource: T) => Promise<unknown>,
  keys: readonly K[],
): Pick<T, K> {
  let opened: T | undefined;
  beforeAll(async () => {
    opened = await open();
  });
  afterAll(async () => {
    if (opened) await close(opened);
  });
  const view = {} as Pick<T, K>;
  for (const key of keys) {
    Object.defineProperty(view, key, {
      enumerable: true,
      get() {
        if (!opened) throw new Error(`${String(key)} is there only in the suite's hooks and tests`);
        return opened[key];
      },
    });
  }
  return view;
}
