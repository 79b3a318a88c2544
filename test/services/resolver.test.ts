// Resolving codes in the link service: one database read however many
// redirects ask for a cold code at once, then the cache answers.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runtimeErrors } from '../../lib/runtime-errors.ts';
import { LinkResolver } from '../../services/link/domain/resolve-links.ts';
import { LinkStore } from '../../services/link/store/link-store.ts';
import { linkSchema } from '../../services/link/store/schema.ts';
import { openTestDatabase, type TestDatabase } from '../support/databases.ts';
import { aLink, linkCacheOver, storeLink } from '../support/links.ts';
import { FLAVOURS, sharedStateForSuite } from '../support/shared-state.ts';
import { sleep } from '../support/wait.ts';

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

describe.each(FLAVOURS)('link resolver on the $name cache', (flavour) => {
  let db: TestDatabase;
  const state = sharedStateForSuite(flavour);
  let store: CountingStore;
  let resolver: LinkResolver;

  beforeAll(async () => {
    db = await openTestDatabase('sqlite', linkSchema, 'resolver');
    store = new CountingStore(db.orm);
    resolver = new LinkResolver(store, linkCacheOver(state.cache));
    for (const code of ['Stamp3d', 'Other01', 'Other02']) await storeLink(store, aLink({ code }));
  });
  afterAll(() => db?.close());

  test('when 50 resolves of one cold code arrive at once, then the database is read once', async () => {
    store.reads = 0;
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => resolver.resolve('Stamp3d')),
    );
    expect(store.reads).toBe(1);
    for (const answer of answers)
      expect(answer).toMatchObject({ status: 'found', targetUrl: 'https://example.com/Stamp3d' });
    await sleep(50); // the cache fill is written after the answer
    expect(await resolver.resolve('Stamp3d')).toMatchObject({ status: 'found' });
    expect(store.reads).toBe(1);
  });

  test('when the database fails, then only the codes that needed it are unavailable, and the next read works', async () => {
    await resolver.resolve('Other01'); // cached from here on
    await sleep(50);
    await storeLink(store, aLink({ code: 'Fresh01' }));
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
