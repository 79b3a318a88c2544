// How a service gets its id generator: lease a worker id, wait (boundedly) until
// it may be used, and carry on degraded if it cannot yet: the lease keeps
// trying in the background and generation refuses until it succeeds.
import type { Alerts } from '../alerts/alerts.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { SnowflakeGenerator } from './snowflake.ts';
import { type LeaseStore, WorkerLease } from './worker-lease.ts';

/** Who hears of the lease: the part it is for (`link`, `gateway`), its metrics and alerts. */
export interface LeaseObservers {
  part: string;
  metrics?: Metrics;
  alerts?: Alerts;
}

export async function startIdGenerator(
  store: LeaseStore,
  ttlMs: number,
  log: Logger,
  observers?: LeaseObservers,
): Promise<{ ids: SnowflakeGenerator; lease: WorkerLease }> {
  const subject = observers?.part ?? 'ids';
  const lease = WorkerLease.start(store, {
    ttlMs,
    log,
    onLost: (workerId) => {
      observers?.metrics?.leaseLosses.inc();
      observers?.alerts?.fire(
        'worker_id_lease_lost',
        subject,
        `${subject} lost worker id ${workerId} to another holder; no ids until another is leased`,
      );
    },
    onClaimed: (workerId) =>
      observers?.alerts?.resolve(
        'worker_id_lease_lost',
        subject,
        `${subject} leased worker id ${workerId}`,
      ),
  });
  observers?.metrics?.watchLease(subject, lease);
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
