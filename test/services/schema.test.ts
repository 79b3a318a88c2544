// The schema comes only from the migrations; the entities must describe
// exactly what they create, on both dialects, or the ORM would read and write
// columns it misunderstands (and a generated migration would undo ours).
import { describe, expect, test } from 'vitest';
import type { Dialect } from '../../lib/db/migrations.ts';
import { openDatabase } from '../../lib/db/open.ts';
import { analyticsSchema } from '../../services/analytics/store/schema.ts';
import { identitySchema } from '../../services/identity/store/schema.ts';
import { linkSchema } from '../../services/link/store/schema.ts';
import { notifierSchema } from '../../services/notifier/store/schema.ts';
import { dropDatabases, openTestDatabase } from '../support/databases.ts';
import { MYSQL_URL, uniqueName } from '../support/env.ts';
import { testLog } from '../support/logger.ts';

const SERVICES = [
  { name: 'link', schema: linkSchema },
  { name: 'identity', schema: identitySchema },
  { name: 'analytics', schema: analyticsSchema },
  { name: 'notifier', schema: notifierSchema },
];
const DIALECTS: Dialect[] = ['mysql', 'sqlite'];

describe.each(SERVICES)('$name schema', (service) => {
  test.each(DIALECTS)(
    'when the %s migrations have run, then the entities match them exactly',
    async (dialect) => {
      const { orm, close } = await openTestDatabase(
        dialect,
        service.schema,
        `schema_${service.name}`,
      );
      try {
        const pending = await orm.migrator.getPending();
        expect(pending).toEqual([]);
        const drift = await orm.schema.getUpdateSchemaSQL({ wrap: false });
        expect(drift.replace(/set names \w+;/i, '').trim()).toBe('');
      } finally {
        await close();
      }
    },
  );
});

describe('migrations at start', () => {
  test('when three replicas start at once on an empty MariaDB database, then each migration runs exactly once and all start', async () => {
    const name = uniqueName('replicas');
    const url = `${MYSQL_URL}/${name}`;
    const open = () => openDatabase({ url, schema: linkSchema, log: testLog });
    const orms = await Promise.all([open(), open(), open()]);
    try {
      const applied = (await orms[0]?.em
        .getConnection()
        .execute('select name from schema_migrations order by name')) as { name: string }[];
      expect(applied.map((row) => row.name)).toEqual([
        '0001_create_links',
        '0002_create_health_probes',
        '0003_add_last_accessed_at',
        '0004_create_guest_adoptions',
        '0005_add_expiry',
        '0006_index_sweep',
      ]);
      for (const orm of orms) expect(await orm.migrator.getPending()).toEqual([]);
    } finally {
      for (const orm of orms) await orm.close();
      await dropDatabases([name]);
    }
  });
});
