// Opens a service's database through MikroORM: MySQL/MariaDB for real
// deployments, SQLite (a file under DATA_DIR) for the embedded mesh. The schema
// comes only from the store's versioned migrations; nothing is synchronised
// from entity metadata at run time.

import { Migrator } from '@mikro-orm/migrations';
import { MikroORM as MySqlORM } from '@mikro-orm/mysql';
import { MikroORM as SqliteORM } from '@mikro-orm/sqlite';
import { SqliteDialect } from 'kysely';
import { format } from 'mysql2';
import type { Logger } from '../log.ts';
import { migrateExclusively } from './migration-lock.ts';
import { dialectOf, migrationsFor, type Schema } from './migrations.ts';
import {
  mysqlDriverReleasingOnFailedRollback,
  releaseOnFailedRollback,
} from './released-connections.ts';
import { openSqlite } from './sqlite.ts';

export type Orm = MySqlORM | SqliteORM;

export interface DatabaseOptions {
  /** `mysql://…/database` or `sqlite:<path>` (`sqlite::memory:` for a throwaway one). */
  url: string;
  schema: Schema;
  log: Logger;
  /** Connections per process (MySQL). */
  poolSize?: number;
  /** Apply pending migrations (the default), or only wait for someone else to (see RuntimeConfig). */
  migrations?: 'apply' | 'await';
}

/** The database is behind its code and this process is not the one to migrate it: try again later. */
export class MigrationsPending extends Error {
  override name = 'MigrationsPending';
  readonly pending: readonly string[];
  constructor(pending: readonly string[]) {
    super(`migrations not applied yet: ${pending.join(', ')} (waiting for the migration job)`);
    this.pending = pending;
  }
}

/**
 * A read replica of a MySQL database, for the reads a store sends there: no
 * migrations (its schema comes from the primary, by replication), no
 * database created, and no connection until the first query, so a replica
 * that is away does not stop the service from starting; its reads fail
 * (`unavailable`) until it is back. MikroORM's own `replicas` setting is not
 * used: on 7.2 a replica loses its address when the driver reconnects
 * (ensureDatabase does) and then reads from the primary without a word.
 */
export function openReplica(url: string, schema: Schema): Orm {
  if (dialectOf(url) !== 'mysql') throw new Error('a read replica must be a MySQL database');
  // Constructed, not init(): it connects on its first query.
  return new MySqlORM({
    entities: schema.entities,
    allowGlobalContext: false,
    ensureDatabase: false,
    debug: false,
    clientUrl: url,
    pool: { min: 0, max: 10 },
    driverOptions: { queryFormat: formatOnlyWithValues },
  });
}

interface FormattingConnection {
  config: { stringifyObjects?: boolean; timezone?: string };
}

/**
 * mysql2 formats every query on the client, one without values too, and
 * scans all of its text for placeholders (string literals included), which
 * for a batch of visits costs more than the batch's own work. MikroORM sends
 * every query formatted already, with no values; only those with values are
 * formatted here, as mysql2 itself would.
 */
export function formatOnlyWithValues(
  this: FormattingConnection,
  sql: string,
  values: unknown,
): string {
  if (values === undefined || (Array.isArray(values) && values.length === 0)) return sql;
  return format(
    sql,
    values as Parameters<typeof format>[1],
    this.config.stringifyObjects,
    this.config.timezone,
  );
}

export async function openDatabase(options: DatabaseOptions): Promise<Orm> {
  const dialect = dialectOf(options.url);
  const rollbackFailed = (error: unknown) =>
    options.log.warn(
      { cause: error instanceof Error ? error.message : String(error) },
      'a transaction could not be rolled back (it had ended already); its connection is released',
    );
  const common = {
    entities: options.schema.entities,
    extensions: [Migrator],
    allowGlobalContext: false,
    ensureDatabase: dialect === 'mysql',
    debug: false,
    migrations: {
      migrationsList: migrationsFor(options.schema, dialect),
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
          driverOptions: releaseOnFailedRollback(
            new SqliteDialect({ database: openSqlite(options.url.slice('sqlite:'.length)) }),
            rollbackFailed,
          ),
        })
      : await MySqlORM.init({
          ...common,
          driver: mysqlDriverReleasingOnFailedRollback(rollbackFailed),
          clientUrl: options.url,
          pool: { min: 1, max: options.poolSize ?? 10 },
          driverOptions: { queryFormat: formatOnlyWithValues },
        });
  if (options.migrations === 'await') {
    const pending = await orm.migrator.getPending().catch(async (error: unknown) => {
      await orm.close();
      throw error;
    });
    if (pending.length > 0) {
      await orm.close();
      throw new MigrationsPending(pending.map((m) => m.name));
    }
    return orm;
  }
  const applied = await migrateExclusively(orm, dialect, options.url).catch(
    async (error: unknown) => {
      await orm.close();
      throw error;
    },
  );
  if (applied.length > 0) {
    options.log.info({ migrations: applied.map((m) => m.name) }, 'database migrated');
  }
  return orm;
}

/** host:port/database of a URL, without credentials, for logs. */
export function describeDatabase(url: string): string {
  if (dialectOf(url) === 'sqlite') return url;
  const parsed = new URL(url);
  return `mysql://${parsed.host}${parsed.pathname}`;
}
