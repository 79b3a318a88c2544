// Opens a service's database through MikroORM: MySQL/MariaDB for real
// deployments, SQLite (a file under DATA_DIR) for the embedded mesh. The schema
// comes only from versioned migrations, one list per dialect; nothing is
// synchronised from entity metadata at run time.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  ConnectionException,
  type Constructor,
  DriverException,
  type Options,
  UniqueConstraintViolationException,
} from '@mikro-orm/core';
import { Migration, Migrator } from '@mikro-orm/migrations';
import { MikroORM as MySqlORM } from '@mikro-orm/mysql';
import { MikroORM as SqliteORM } from '@mikro-orm/sqlite';
import Database from 'better-sqlite3';
import { SqliteDialect } from 'kysely';
import { createConnection } from 'mysql2/promise';
import { unavailable } from './errors.ts';
import type { Logger } from './log.ts';

export type Dialect = 'mysql' | 'sqlite';
export type Orm = MySqlORM | SqliteORM;
export { Migration };

export interface DatabaseOptions {
  /** `mysql://…/database` or `sqlite:<path>` (`sqlite::memory:` for a throwaway one). */
  url: string;
  entities: Options['entities'];
  migrations: Record<Dialect, Constructor<Migration>[]>;
  log: Logger;
  /** Connections per process (MySQL). */
  poolSize?: number;
}

export function dialectOf(url: string): Dialect {
  return url.startsWith('sqlite:') ? 'sqlite' : 'mysql';
}

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

export async function openDatabase(options: DatabaseOptions): Promise<Orm> {
  const dialect = dialectOf(options.url);
  const common = {
    entities: options.entities,
    extensions: [Migrator],
    allowGlobalContext: false,
    ensureDatabase: dialect === 'mysql',
    debug: false,
    migrations: {
      migrationsList: options.migrations[dialect],
      snapshot: false,
      snapshotOnMigrate: false,
      transactional: true,
      tableName: 'schema_migrations',
    },
    logger: (message: string) => options.log.debug({ orm: message }),
  };
  const orm =
    dialect === 'sqlite'
      ? await SqliteORM.init({
          ...common,
          dbName: options.url.slice('sqlite:'.length),
          driverOptions: new SqliteDialect({
            database: openSqlite(options.url.slice('sqlite:'.length)),
          }),
        })
      : await MySqlORM.init({
          ...common,
          clientUrl: options.url,
          pool: { min: 1, max: options.poolSize ?? 10 },
        });
  const applied = await migrateExclusively(orm, dialect, options.url);
  if (applied.length > 0) {
    options.log.info({ migrations: applied.map((m) => m.name) }, 'database migrated');
  }
  return orm;
}

/**
 * Runs pending migrations, one process at a time: replicas starting together
 * would otherwise race through the same DDL (which MySQL does not roll back).
 * On MySQL an advisory lock named after the database serialises them; the
 * later ones then find nothing pending. SQLite files belong to one process.
 */
async function migrateExclusively(orm: Orm, dialect: Dialect, url: string) {
  if (dialect === 'sqlite') return orm.migrator.up();
  // Advisory locks are server-wide: connect without a database (it may not exist yet).
  const server = new URL(url);
  const lock = `${server.pathname.slice(1)}:migrations`;
  server.pathname = '/';
  const connection = await createConnection({ uri: server.toString() });
  try {
    const [rows] = await connection.query('SELECT GET_LOCK(?, 120) AS acquired', [lock]);
    if ((rows as { acquired: number | null }[])[0]?.acquired !== 1) {
      throw new Error(`could not take the migration lock ${lock} within 120 s`);
    }
    return await orm.migrator.up();
  } finally {
    await connection.query('SELECT RELEASE_LOCK(?)', [lock]).catch(() => {});
    await connection.end();
  }
}

/** A unique index refused a row; the caller decides what that means. */
export class DuplicateKey extends Error {
  override name = 'DuplicateKey';
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'PROTOCOL_CONNECTION_LOST',
  'ER_CON_COUNT_ERROR',
  'SQLITE_BUSY',
]);

/**
 * Rethrows a driver error in the domain's terms: unique violations as
 * DuplicateKey, an unreachable database as `unavailable` (503). Anything else
 * is a bug and stays as it is, to be logged.
 */
export function translateDatabaseError(error: unknown): never {
  if (error instanceof UniqueConstraintViolationException) throw new DuplicateKey(error.message);
  const code = (error as { code?: string }).code;
  const connection =
    error instanceof ConnectionException ||
    (code !== undefined && CONNECTION_CODES.has(code)) ||
    (error instanceof DriverException && /connect|pool|timeout/i.test(error.message));
  if (connection) throw unavailable('database is unreachable', error, 'database_unavailable');
  throw error;
}

/**
 * Bounds a database call: past `ms` the caller gets `unavailable` (and its
 * request a 503) instead of waiting on a database that does not answer. The
 * query itself may still finish later; its outcome is then ignored.
 */
export async function withinTime<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          unavailable(`the database did not answer within ${ms} ms`, undefined, 'database_timeout'),
        ),
      ms,
    );
  });
  work.catch(() => {}); // a late failure after the timeout is not unhandled
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** host:port/database of a URL, without credentials, for logs. */
export function describeDatabase(url: string): string {
  if (dialectOf(url) === 'sqlite') return url;
  const parsed = new URL(url);
  return `mysql://${parsed.host}${parsed.pathname}`;
}
