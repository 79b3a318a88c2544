// Resolving codes in the link service: one database read however many
// redirects ask for a cold code at once, then the cache answers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Orm, openDatabase } from '../../lib/db/open.ts';
import { runtimeErrors } from '../../lib/runtime-errors.ts';
import type { SharedState } from '../../lib/shared-state.ts';
import type { Link } from '../../services/link/domain/link.ts';
import { LinkResolver } from '../../services/link/domain/resolve-links.ts';
import { urlHash } from '../../services/link/domain/target-url.ts';
import { LinkCache } from '../../services/link/store/link-cache.ts';
import { LinkStore } from '../../services/link/store/link-store.ts';
import { linkSchema } from '../../services/link/store/schema.ts';
import { testLog } from '../support/logger.ts';
import { FLAVOURS } from '../support/shared-state.ts';

class CountingStore extends LinkStore {
  reads = 0;
  /** While set, reads fail as an unreachable database would. */
  failing = false;
  override async findByCodes(codes: readonly string[]) {
    this.reads++;
    if (this.failing) throw runtimeErrors.database_unavailable();
    return super.findByCodes(codes);
  }
}

const link = (code: string, id: string): Link => ({
  id,
  code,
  targetUrl: `https://example.com/${code}`,
  ownerId: '42',
  createdAt: new Date(),
  expiresAt: null,
});

describe.each(FLAVOURS)('link resolver on the $name cache', (flavour) => {
  let dir: string;
  let orm: Orm;
  let state: SharedState;
  let store: CountingStore;
  let resolver: LinkResolver;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'resolver-'));
    orm = await openDatabase({
      url: `sqlite:${join(dir, 'link.sqlite')}`,
      schema: linkSchema,
      log: testLog,
    });
    state = await flavour.open();
    store = new CountingStore(orm);
    const cache = new LinkCache(state.cache, {
      ttlMs: 60_000,
      negativeTtlMs: 60_000,
      log: testLog,
    });
    resolver = new LinkResolver(store, cache);
    for (const [i, code] of ['Stamp3d', 'Other01', 'Other02'].entries()) {
      await store.insert(link(code, String(1_000 + i)), urlHash(code));
    }
  });
  afterAll(async () => {
    await state.close();
    await orm.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('when 50 resolves of one cold code arrive at once, then the database is read once', async () => {
    store.reads = 0;
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => resolver.resolve('Stamp3d')),
    );
    expect(store.reads).toBe(1);
    for (const answer of answers)
      expect(answer).toMatchObject({ status: 'found', targetUrl: 'https://example.com/Stamp3d' });
    await new Promise((resolve) => setTimeout(resolve, 50)); // the cache fill is written after the answer
    expect(await resolver.resolve('Stamp3d')).toMatchObject({ status: 'found' });
    expect(store.reads).toBe(1);
  });

  test('when the database fails, then only the codes that needed it are unavailable, and the next read works', async () => {
    await resolver.resolve('Other01'); // cached from here on
    await new Promise((resolve) => setTimeout(resolve, 50));
    await store.insert(link('Fresh01', '2001'), urlHash('Fresh01'));
    store.failing = true;
    const during = await resolver.resolveMany(['Other01', 'Fresh01', 'Fresh01']);
    expect(during.map((r) => r.status)).toEqual(['found', 'unavailable', 'unavailable']);
    // Each failed code carries the cause the store gave, for every edge to report.
    expect(during[1]).toMatchObject({ error: { code: 'database_unavailable' } });
    // Nothing of the failed read is left waiting: the next ask reads again.
    store.failing = false;
    store.reads = 0;
    expect(await resolver.resolve('Fresh01')).toMatchObject({ status: 'found' });
    expect(store.reads).toBe(1);
  });

  test('when a batch mixes cold, repeated and unknown codes, then one query serves them all', async () => {
    store.reads = 0;
    const results = await resolver.resolveMany([
      'Other01',
      'Other02',
      'Other01',
      'Unknwn1',
      'bad code!',
    ]);
    expect(store.reads).toBe(1);
    expect(results.map((r) => r.status)).toEqual([
      'found',
      'found',
      'found',
      'not_found',
      'not_found',
    ]);
  });
});
