// A store's database work for one call: every query honours the call's signal
// (lib/call-scope.ts). The drivers cannot abort a statement by themselves, and
// a timer racing the query alone would leave its connection busy with it (and
// a transaction free to commit later). So on abort kysely sends `KILL QUERY`
// for the running statement from a separate control connection (MySQL and
// MariaDB); the statement fails, the transaction it was in is rolled back, and
// the connection goes back to the pool. The caller does not wait for any of
// that: it hears `unavailable` as soon as the signal aborts.
//
// (kysely's `kill session` would also drop the connection, but mysql2 never
// settles a query on a connection destroyed under it, so the rollback that
// follows waits forever.)
//
// SQLite runs each statement synchronously, so there only the wait for its
// single connection can be given up; kysely then hands the connection on when
// its turn comes, never leaving it taken.
import { MikroORM as MySqlORM } from '@mikro-orm/mysql';
import { callSignal, isAbortReason, unlessAborted } from '../call-scope.ts';
import { runtimeErrors } from '../runtime-errors.ts';
import type { Orm } from './open.ts';

type Fork = ReturnType<Orm['em']['fork']>;

/** Runs `work` on a fork whose queries honour the running call's signal. */
export function inCall<T>(orm: Orm, work: (em: Fork) => Promise<T>): Promise<T> {
  const signal = callSignal();
  const em = orm.em.fork({
    signal,
    inflightQueryAbortStrategy: orm instanceof MySqlORM ? 'cancel query' : 'ignore query',
  });
  return unlessAborted(work(em), signal);
}

/** A database call given up on because its call ran out of time: `unavailable`, like a dead database. */
export function abandonedError(error: unknown): Error | undefined {
  if (!isAbortReason(error)) return undefined;
  return runtimeErrors.database_timeout({ cause: error });
}
