// A transaction that fails in the worst way — its connection dies under it,
// so even its ROLLBACK fails — still gives its connection back: the next
// calls, more of them than the pool holds, are answered.
import { createConnection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Orm, openDatabase } from '../../lib/db/open.ts';
import { linkSchema } from '../../services/link/store/schema.ts';
import { dropDatabases } from '../support/databases.ts';
import { MYSQL_URL, uniqueName } from '../support/env.ts';
import { testLog } from '../support/logger.ts';

const POOL = 2;

describe('a MariaDB transaction whose connection is killed mid-way', () => {
  const name = uniqueName('failed_trx');
  let orm: Orm;

  beforeAll(async () => {
    orm = await openDatabase({
      url: `${MYSQL_URL}/${name}`,
      schema: linkSchema,
      log: testLog,
      poolSize: POOL,
    });
  });
  afterAll(async () => {
    await orm?.close();
    await dropDatabases([name]);
  });

  test('when it fails more often than the pool has connections, then every later call is still answered', async () => {
    const killer = await createConnection({ uri: MYSQL_URL });
    try {
      for (let i = 0; i < POOL * 3; i++) {
        const failed = orm.em.fork().transactional(async (em) => {
          const [row] = (await em.execute('select connection_id() as id')) as { id: number }[];
          await em.execute('insert into `health_probes` (`id`, `probed_at`) values (?, 1)', [
            100 + i,
          ]);
          await killer.query(`KILL CONNECTION ${Number(row?.id)}`);
          await em.execute('select 1');
        });
        await expect(failed).rejects.toThrow();
      }
      const answers = await Promise.all(
        Array.from({ length: POOL * 3 }, () =>
          Promise.race([
            orm.em.fork().getConnection().execute('select 1 as one'),
            new Promise((_, reject) => setTimeout(() => reject(new Error('no connection')), 3_000)),
          ]),
        ),
      );
      expect(answers).toHaveLength(POOL * 3);
      const rows = (await orm.em
        .fork()
        .getConnection()
        .execute('select count(*) as n from `health_probes` where `id` >= 100')) as { n: number }[];
      expect(Number(rows[0]?.n)).toBe(0);
    } finally {
      await killer.end();
    }
  });
});
