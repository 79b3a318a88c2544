// How a service gets its id generator: lease a worker id, wait (boundedly) until
// it may be used, and carry on degraded if it cannot yet: the lease keeps
// trying in the background and generation refuses until it succeeds.
import type { Logger } from '../log.ts';
import { SnowflakeGenerator } from './snowflake.ts';
import { type LeaseStore, WorkerLease } from './worker-lease.ts';

export async function startIdGenerator(
  store: LeaseStore,
  ttlMs: number,
  log: Logger,
): Promise<{ ids: SnowflakeGenerator; lease: WorkerLease }> {
  const lease = WorkerLease.start(store, { ttlMs, log });
  let timer: NodeJS.Timeout | undefined;
  const leased = await Promise.race([
    lease.ready.then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(resolve, ttlMs + 2_000, false);
    }),
  ]);
  clearTimeout(timer);
  if (!leased) log.warn('no worker id leased yet: nothing needing a new id can be created');
  return { ids: new SnowflakeGenerator(lease), lease };
}
