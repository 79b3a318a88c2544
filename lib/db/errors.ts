// Driver errors in the domain's terms. A store catches what it expects (a
// unique index refusing a row is an answer, not a failure) and hands the rest
// to translateDatabaseError: an unreachable database, or one that did not
// answer within the call's deadline, becomes `unavailable` (503); anything
// else is a bug and stays as it is, to be logged.
import {
  ConnectionException,
  DriverException,
  UniqueConstraintViolationException,
} from '@mikro-orm/core';
import { unavailable } from '../errors.ts';
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
 * unique violation. MySQL names the index ("… for key 'links.links_code_unique'"),
 * SQLite the columns ("UNIQUE constraint failed: links.code"): `indexes` maps
 * each index name to its columns so both answer the same.
 */
export function violatedUnique(
  error: unknown,
  indexes: Readonly<Record<string, readonly string[]>>,
): string | undefined {
  if (!(error instanceof UniqueConstraintViolationException)) return undefined;
  const message = error.message;
  for (const [index, columns] of Object.entries(indexes)) {
    if (message.includes(`'${index}'`) || message.includes(`.${index}'`)) return index;
    const sqlite = /UNIQUE constraint failed: (.+)$/m.exec(message)?.[1];
    if (sqlite) {
      const failed = sqlite.split(',').map((column) => column.trim().replace(/^\w+\./, ''));
      if (failed.length === columns.length && columns.every((c) => failed.includes(c))) {
        return index;
      }
    }
  }
  return 'unknown';
}

/** A unique index refused a row; the caller decides what that means. */
export class DuplicateKey extends Error {
  override name = 'DuplicateKey';
}

export function translateDatabaseError(error: unknown): never {
  const abandoned = abandonedError(error);
  if (abandoned) throw abandoned;
  if (error instanceof UniqueConstraintViolationException) throw new DuplicateKey(error.message);
  const code = (error as { code?: string }).code;
  const connection =
    error instanceof ConnectionException ||
    (code !== undefined && CONNECTION_CODES.has(code)) ||
    (error instanceof DriverException && /connect|pool|timeout/i.test(error.message));
  if (connection) throw unavailable('database is unreachable', error, 'database_unavailable');
  throw error;
}
