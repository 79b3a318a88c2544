// A transaction that fails in the worst way — its connection dies under it,
// so even its ROLLBACK fails — still gives its connection back: the next
// calls, more of them than the pool holds, are answered.
import { createConnection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { translateDatabaseError } from '../../lib/db/errors.ts';
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

describe('two MariaDB transactions locking rows in opposite orders', () => {
  const name = uniqueName('deadlock');
  let orm: Orm;

  beforeAll(async () => {
    orm = await openDatabase({ url: `${MYSQL_URL}/${name}`, schema: linkSchema, log: testLog });
    await orm.em
      .fork()
      .execute('insert into `health_probes` (`id`, `probed_at`) values (1, 0), (2, 0)');
  });
  afterAll(async () => {
    await orm?.close();
    await dropDatabases([name]);
  });

  test('when they deadlock, then the loser is told database_contention (unavailable: retry) and its write is undone', async () => {
    const both = new Promise<void>((resolve) => setTimeout(resolve, 200));
    const lockInOrder = (first: number, second: number) =>
      orm.em.fork().transactional(async (em) => {
        await em.execute('update `health_probes` set `probed_at` = ? where `id` = ?', [
          first,
          first,
        ]);
        await both;
        await em.execute('update `health_probes` set `probed_at` = ? where `id` = ?', [
          first,
          second,
        ]);
      });
    const outcomes = await Promise.allSettled([lockInOrder(1, 2), lockInOrder(2, 1)]);
    const failed = outcomes.filter((o) => o.status === 'rejected');
    expect(failed).toHaveLength(1);
    const reason = (failed[0] as PromiseRejectedResult).reason;
    expect(() => translateDatabaseError(reason)).toThrow(
      expect.objectContaining({ kind: 'unavailable', code: 'database_contention' }),
    );
    // The winner's writes stand, whole; the loser's are gone.
    const rows = (await orm.em
      .fork()
      .execute('select `id`, `probed_at` from `health_probes` order by `id`')) as {
      id: number;
      probed_at: number;
    }[];
    const values = rows.map((row) => Number(row.probed_at));
    expect([
      [1, 1],
      [2, 2],
    ]).toContainEqual(values);
  });
});
