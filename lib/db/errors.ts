// Driver errors in the domain's terms. A store catches what it expects (a
// unique index refusing a row is an answer, not a failure: violatedUnique
// tells which) and hands the rest to translateDatabaseError: an unreachable
// database, or one that did not answer within the call's deadline, becomes
// `unavailable` (503).
import {
  ConnectionException,
  DeadlockException,
  DriverException,
  LockWaitTimeoutException,
  UniqueConstraintViolationException,
} from '@mikro-orm/core';
import { runtimeErrors } from '../runtime-errors.ts';
import { abandonedError } from './call-fork.ts';

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'PROTOCOL_CONNECTION_LOST',
  'ER_CON_COUNT_ERROR',
  'SQLITE_BUSY',
]);

/**
 * The unique index a row was refused by, or undefined if the error is not a
 * unique violation ('unknown' for an index not in `indexes`). MySQL names the
 * index ("Duplicate entry '…' for key 'links_code_unique'", MySQL 8 prefixes
 * the table), SQLite the columns ("UNIQUE constraint failed: links.code"):
 * `indexes` maps each index name to its column names so both answer the same.
 * Only the key part of MySQL's message counts: the duplicate value before it
 * is the caller's data and may look like anything, an index name included.
 */
export function violatedUnique(
  error: unknown,
  indexes: Readonly<Record<string, readonly string[]>>,
): string | undefined {
  if (!(error instanceof UniqueConstraintViolationException)) return undefined;
  const message = error.message;
  const key = /for key '([^']+)'\s*$/m.exec(message)?.[1];
  const sqlite = /UNIQUE constraint failed: (.+)$/m.exec(message)?.[1];
  const failed = sqlite?.split(',').map((column) => column.trim().replace(/^\w+\./, ''));
  for (const [index, columns] of Object.entries(indexes)) {
    if (key !== undefined && (key === index || key.endsWith(`.${index}`))) return index;
    if (
      failed &&
      failed.length === columns.length &&
      columns.every((column) => failed.includes(column))
    ) {
      return index;
    }
  }
  return 'unknown';
}

const UNWRITABLE =
  /SQLITE_(FULL|READONLY|IOERR|CANTOPEN)|ER_(RECORD_FILE_FULL|DISK_FULL|OPTION_PREVENTS_STATEMENT|ERROR_ON_WRITE|CANT_CREATE_FILE|READ_ONLY_MODE)/;

/** True for a driver error that says the database cannot write (full, read-only), not that it is gone. */
export function isUnwritable(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && UNWRITABLE.test(code);
}

/**
 * Everything a store did not expect: an unreachable database becomes
 * `database_unavailable` (503); anything else, a unique violation included
 * (a store that expects one asks violatedUnique first), is a bug and stays as
 * it is, to be logged.
 */
export function translateDatabaseError(error: unknown): never {
  const abandoned = abandonedError(error);
  if (abandoned) throw abandoned;
  const code = (error as { code?: string }).code;
  const connection =
    error instanceof ConnectionException ||
    (code !== undefined && CONNECTION_CODES.has(code)) ||
    (error instanceof DriverException && /connect|pool|timeout/i.test(error.message));
  if (connection) throw runtimeErrors.database_unavailable({ cause: error });
  // The database rolled the statement's transaction back: nothing happened, a retry may pass.
  if (error instanceof DeadlockException || error instanceof LockWaitTimeoutException) {
    throw runtimeErrors.database_contention({ cause: error });
  }
  if (isUnwritable(error)) throw runtimeErrors.database_unwritable({ cause: error });
  throw error;
}
