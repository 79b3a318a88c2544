// Databases of a test's own, opened through the ORM and the migrations the
// services run: on the machine's MariaDB (dropped afterwards) or in a SQLite
// file (deleted afterwards).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import type { Dialect, Schema } from '../../lib/db/migrations.ts';
import { type Orm, openDatabase } from '../../lib/db/open.ts';
import { MYSQL_URL, uniqueName } from './env.ts';
import { testLog } from './logger.ts';

export async function dropDatabases(names: string[]): Promise<void> {
  const connection = await createConnection({ uri: MYSQL_URL });
  try {
    for (const name of names) await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
  } finally {
    await connection.end();
  }
}

export interface TestDatabase {
  orm: Orm;
  url: string;
  /** Closes the ORM and removes the database. */
  close(): Promise<void>;
}

/** A new, empty database of `dialect` with `schema`'s migrations run, named after `label`. */
export async function openTestDatabase(
  dialect: Dialect,
  schema: Schema,
  label: string,
): Promise<TestDatabase> {
  const { url, remove } = dialect === 'mysql' ? onMariaDb(label) : inSqliteFile(label);
  const orm = await openDatabase({ url, schema, log: testLog });
  return {
    orm,
    url,
    async close() {
      await orm.close();
      await remove();
    },
  };
}

function onMariaDb(label: string) {
  const name = uniqueName(label);
  return { url: `${MYSQL_URL}/${name}`, remove: () => dropDatabases([name]) };
}

function inSqliteFile(label: string) {
  const dir = mkdtempSync(join(tmpdir(), `${label}-`));
  return {
    url: `sqlite:${join(dir, 'db.sqlite')}`,
    remove: async () => rmSync(dir, { recursive: true, force: true }),
  };
}
