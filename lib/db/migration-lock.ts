// Pending migrations run one process at a time: replicas starting together
// would otherwise race through the same DDL (which MySQL does not roll back).
// On MySQL an advisory lock named after the database serialises them; the
// later ones then find nothing pending. SQLite files belong to one process.
import type { MikroORM } from '@mikro-orm/core';
import { createConnection } from 'mysql2/promise';
import type { Dialect } from './migrations.ts';

const LOCK_WAIT_S = 120;

interface Migrating {
  migrator: { up(): Promise<{ name: string }[]> };
}

export async function migrateExclusively(
  orm: Pick<MikroORM, 'config'> & Migrating,
  dialect: Dialect,
  url: string,
): Promise<{ name: string }[]> {
  if (dialect === 'sqlite') return orm.migrator.up();
  // Advisory locks are server-wide: connect without a database (it may not exist yet).
  const server = new URL(url);
  const lock = `${server.pathname.slice(1)}:migrations`;
  server.pathname = '/';
  const connection = await createConnection({ uri: server.toString() });
  try {
    const [rows] = await connection.query('SELECT GET_LOCK(?, ?) AS acquired', [lock, LOCK_WAIT_S]);
    if ((rows as { acquired: number | null }[])[0]?.acquired !== 1) {
      throw new Error(`could not take the migration lock ${lock} within ${LOCK_WAIT_S} s`);
    }
    return await orm.migrator.up();
  } finally {
    await connection.query('SELECT RELEASE_LOCK(?)', [lock]).catch(() => {});
    await connection.end();
  }
}
