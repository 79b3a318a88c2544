// The embedded database: a SQLite file through better-sqlite3, read so that
// 64-bit ids keep every digit.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);

function exactInteger(value: unknown): unknown {
  if (typeof value !== 'bigint') return value;
  return value <= MAX_SAFE && value >= MIN_SAFE ? Number(value) : value.toString();
}

function exactRow<T>(row: T): T {
  if (row && typeof row === 'object') {
    const record = row as Record<string, unknown>;
    for (const key of Object.keys(record)) record[key] = exactInteger(record[key]);
  }
  return row;
}

/**
 * better-sqlite3 reads integers as JS numbers, which silently rounds Snowflake
 * ids (above 2^53). Switching it to BigInt everywhere breaks MikroORM's own
 * counts, so every statement reads exactly and only integers outside the safe
 * range come back as decimal strings; bigint('string') properties expect those.
 */
export function openSqlite(path: string): Database.Database {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  const prepare = db.prepare.bind(db);
  db.prepare = ((source: string) => {
    const statement = prepare(source);
    if (!statement.reader) return statement;
    statement.safeIntegers(true);
    const all = statement.all.bind(statement);
    const get = statement.get.bind(statement);
    const iterate = statement.iterate.bind(statement);
    return Object.assign(statement, {
      all: (...params: unknown[]) => all(...params).map(exactRow),
      get: (...params: unknown[]) => exactRow(get(...params)),
      *iterate(...params: unknown[]) {
        for (const row of iterate(...params)) yield exactRow(row);
      },
    });
  }) as typeof db.prepare;
  return db;
}
