import { runtimeErrors } from '../runtime-errors.ts';

/**
 * Bounds a database call: past `ms` the caller gets `unavailable` (and its
 * request a 503) instead of waiting on a database that does not answer. The
 * query itself may still finish later; its outcome is then ignored.
 */
export async function withinTime<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(runtimeErrors.database_timeout({ ms })), ms);
  });
  work.catch(() => {}); // a late failure after the timeout is not unhandled
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
