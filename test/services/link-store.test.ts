// The link store on real databases, straight through the ORM and the
// migrations the service runs: codes are case-sensitive (MariaDB's default
// collation is not), tombstones keep a deleted code from ever coming back,
// a lost race for a unique index is an answer (which index), and 64-bit ids
// survive exactly; a guest a member adopted stores no more links.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { violatedUnique } from '../../lib/db/errors.ts';
import type { Dialect } from '../../lib/db/migrations.ts';
import { LinkResolver } from '../../services/link/domain/resolve-links.ts';
import { urlHash } from '../../services/link/domain/target-url.ts';
import { LinkRow } from '../../services/link/store/entities.ts';
import { LinkStore } from '../../services/link/store/link-store.ts';
import { linkSchema } from '../../services/link/store/schema.ts';
import { openTestDatabase, type TestDatabase } from '../support/databases.ts';
import { aLink, freshLinkId, linkCacheOver, storeLink } from '../support/links.ts';

const DIALECTS: Dialect[] = ['mysql', 'sqlite'];

/** Above 2^53: a JS number cannot hold these. */
const BIG_ID = '9223372036854775807'; // 2^63 - 1, the largest int64
const BIG_ID_2 = '9007199254740993'; // 2^53 + 1
const BIG_ID_3 = '9007199254740995';
const BIG_OWNER = '9007199254740997';

describe.each(DIALECTS)('link store (%s)', (dialect) => {
  let db: TestDatabase;
  let store: LinkStore;
  const tally = { shared: 0, single: 0 };

  beforeAll(async () => {
    db = await openTestDatabase(dialect, linkSchema, 'link_store');
    store = new LinkStore(db.orm, { tally });
  });
  afterAll(() => db?.close());

  test('when two codes differ only in case, then both are stored and each resolves to its own target', async () => {
    const lower = aLink({ code: 'aBcDeF1', targetUrl: 'https://example.com/first' });
    const upper = aLink({ code: 'AbCdEf1', targetUrl: 'https://example.com/second' });
    expect(await storeLink(store, lower)).toBe('inserted');
    expect(await storeLink(store, upper)).toBe('inserted');

    expect((await store.findByCode('aBcDeF1'))?.targetUrl).toBe('https://example.com/first');
    expect((await store.findByCode('AbCdEf1'))?.targetUrl).toBe('https://example.com/second');
    expect(await store.findByCode('abcdef1')).toBeNull();
    expect(await store.findByCode('ABCDEF1')).toBeNull();
    const both = await store.findByCodes(['aBcDeF1', 'AbCdEf1', 'abcdef1']);
    expect(both.map((row) => [row.code, row.targetUrl]).sort()).toEqual([
      ['AbCdEf1', 'https://example.com/second'],
      ['aBcDeF1', 'https://example.com/first'],
    ]);

    const resolver = new LinkResolver(store, linkCacheOver());
    // Twice: from the database, then from the cache the first pass filled.
    for (let pass = 0; pass < 2; pass++) {
      const [first, second, neither] = await resolver.resolveMany([
        'aBcDeF1',
        'AbCdEf1',
        'abcdef1',
      ]);
      expect(first).toMatchObject({ status: 'found', targetUrl: 'https://example.com/first' });
      expect(second).toMatchObject({ status: 'found', targetUrl: 'https://example.com/second' });
      expect(neither).toEqual({ status: 'not_found' });
    }
  });

  test('when two URL hashes differ only in case for one owner, then both links are stored', async () => {
    // Hashes are hex and never differ only in case, but the column must not
    // fold case either: an owner's (owner, hash) pair is compared byte for byte.
    const owner = '100000000000000777';
    const a = aLink({ code: 'hashCs1', ownerId: owner });
    const b = aLink({ code: 'hashCs2', ownerId: owner });
    await store.insert(a, 'ab'.repeat(32));
    await store.insert(b, 'AB'.repeat(32));
    expect((await store.findByOwnerAndUrl(owner, 'ab'.repeat(32)))?.code).toBe('hashCs1');
    expect((await store.findByOwnerAndUrl(owner, 'AB'.repeat(32)))?.code).toBe('hashCs2');
  });

  test('when a link is deleted, then its code can never be inserted again and the tombstone stays', async () => {
    const original = aLink({ code: 'GoneFor', targetUrl: 'https://example.com/original' });
    await storeLink(store, original);
    expect(await store.markDeleted(original.id, original.ownerId, new Date())).toBe(true);

    const impostor = aLink({
      code: 'GoneFor',
      ownerId: '100000000000000002',
      targetUrl: 'https://example.com/impostor',
    });
    expect(await storeLink(store, impostor)).toBe('code_taken');
    // Not even its original owner gets it back for the same URL.
    expect(await storeLink(store, { ...original, id: freshLinkId(), createdAt: new Date() })).toBe(
      'code_taken',
    );

    const tombstone = await store.findByCode('GoneFor');
    expect(tombstone).not.toBeNull();
    expect(tombstone?.id).toBe(original.id);
    expect(tombstone?.targetUrl).toBe('https://example.com/original');
    expect(tombstone?.deletedAt).toBeInstanceOf(Date);
    expect(await store.findByCodes(['GoneFor'])).toHaveLength(1);
    // Deleted means deleted for every reader: the list and the resolver skip it.
    const listed = await store.listByOwner(original.ownerId, null, 100);
    expect(listed.map((row) => row.code)).not.toContain('GoneFor');
    expect(await new LinkResolver(store, linkCacheOver()).resolve('GoneFor')).toEqual({
      status: 'not_found',
    });
    // And deleting again changes nothing.
    expect(await store.markDeleted(original.id, original.ownerId, new Date())).toBe(false);
  });

  test('when an owner stores the same URL twice under two codes, then the second insert answers url_taken and stores nothing', async () => {
    const owner = '100000000000000888';
    const first = aLink({
      code: 'Twice01',
      ownerId: owner,
      targetUrl: 'https://example.com/twice',
    });
    const second = { ...first, id: freshLinkId(), code: 'Twice02' };
    expect(await storeLink(store, first)).toBe('inserted');
    expect(await storeLink(store, second)).toBe('url_taken');
    expect(await store.findByCode('Twice02')).toBeNull();
    expect((await store.findByOwnerAndUrl(owner, urlHash(first.targetUrl)))?.code).toBe('Twice01');
    // Another owner may shorten the same URL.
    const theirs = { ...second, ownerId: '100000000000000889' };
    expect(await storeLink(store, theirs)).toBe('inserted');
  });

  test('when a taken code looks like the name of another index, then the violation is still read as the code index', async () => {
    const code = 'links_owner_url_unique';
    expect(await storeLink(store, aLink({ code, ownerId: '100000000000000901' }))).toBe('inserted');
    let refusal: unknown;
    try {
      await db.orm.em.fork().insert(LinkRow, {
        ...aLink({ code, ownerId: '100000000000000902' }),
        urlHash: urlHash('https://example.com/other'),
        deletedAt: null,
      });
    } catch (error) {
      refusal = error;
    }
    // Whatever order the indexes are asked in, only the index the database names counts.
    const columns = {
      links_code_unique: ['code'],
      links_owner_url_unique: ['owner_id', 'url_hash'],
    };
    expect(violatedUnique(refusal, columns)).toBe('links_code_unique');
    const reversed = {
      links_owner_url_unique: ['owner_id', 'url_hash'],
      links_code_unique: ['code'],
    };
    expect(violatedUnique(refusal, reversed)).toBe('links_code_unique');
    expect(violatedUnique(refusal, { links_other_unique: ['other'] })).toBe('unknown');
    expect(violatedUnique(new Error('not a database error'), columns)).toBeUndefined();
  });

  test('when ids are above 2^53, then they round-trip exactly', async () => {
    const createdAt = new Date('2026-03-04T05:06:07.089Z');
    const expiresAt = new Date('2027-03-04T05:06:07.123Z');
    const rows = [
      aLink({ code: 'BigId01', id: BIG_ID, ownerId: BIG_OWNER, createdAt, expiresAt }),
      aLink({ code: 'BigId02', id: BIG_ID_2, ownerId: BIG_OWNER, createdAt }),
      aLink({ code: 'BigId03', id: BIG_ID_3, ownerId: BIG_OWNER, createdAt }),
    ];
    for (const row of rows) await storeLink(store, row);

    const read = await store.findByCode('BigId01');
    expect(read?.id).toBe(BIG_ID);
    expect(read?.ownerId).toBe(BIG_OWNER);
    expect(read?.createdAt.toISOString()).toBe(createdAt.toISOString());
    expect(read?.expiresAt?.toISOString()).toBe(expiresAt.toISOString());
    expect((await store.findByCode('BigId02'))?.id).toBe(BIG_ID_2);
    expect((await store.findByCode('BigId03'))?.id).toBe(BIG_ID_3);

    const byUrl = await store.findByOwnerAndUrl(BIG_OWNER, urlHash(rows[1]?.targetUrl ?? ''));
    expect(byUrl?.id).toBe(BIG_ID_2);

    // Paging by id compares the 64-bit values, not rounded ones: 2^53+1 and
    // 2^53+3 are one double apart, yet ordered and separated exactly.
    const newestFirst = await store.listByOwner(BIG_OWNER, null, 10);
    expect(newestFirst.map((row) => row.id)).toEqual([BIG_ID, BIG_ID_3, BIG_ID_2]);
    const below = await store.listByOwner(BIG_OWNER, BIG_ID_3, 10);
    expect(below.map((row) => row.id)).toEqual([BIG_ID_2]);

    expect(await store.markDeleted(BIG_ID_3, BIG_OWNER, new Date())).toBe(true);
    expect((await store.listByOwner(BIG_OWNER, null, 10)).map((row) => row.id)).toEqual([
      BIG_ID,
      BIG_ID_2,
    ]);
  });
  test("when a member has adopted a guest, then the guest's next link answers adopted and is not stored, and a guest one double away is not held back", async () => {
    // 2^53+1 and 2^53+3 are the same double: the check compares 64-bit ids.
    const adopted = BIG_ID_2;
    const neighbour = BIG_ID_3;
    await store.recordAdoption(adopted, BIG_OWNER, new Date());

    const refused = aLink({ code: 'Adopted1', ownerId: adopted });
    expect(await storeLink(store, refused)).toBe('adopted');
    expect(await store.findByCode('Adopted1')).toBeNull();

    const kept = aLink({ code: 'Adopted2', ownerId: neighbour });
    expect(await storeLink(store, kept)).toBe('inserted');
    expect((await store.findByCode('Adopted2'))?.ownerId).toBe(neighbour);

    // A member's link is never held back, whatever its id.
    const members = aLink({ code: 'Adopted3', ownerId: adopted, ownerKind: 'member' });
    expect(await storeLink(store, members)).toBe('inserted');
  });

  test('when many inserts arrive together, then each is stored or refused exactly as alone, whichever index or adoption refuses it', async () => {
    const owner = '100000000000000888';
    const adopted = '100000000000000889';
    await store.recordAdoption(adopted, '100000000000000890', new Date());
    const holder = aLink({ code: 'Togeth0', ownerId: owner });
    await storeLink(store, holder);
    const fresh = Array.from({ length: 12 }, (_, i) =>
      aLink({ code: `Tgthr${String(i).padStart(2, '0')}`, ownerId: owner }),
    );
    const sameUrl = aLink({
      code: 'TgthrUr',
      ownerId: owner,
      targetUrl: fresh[0]?.targetUrl as string,
    });
    const takenCode = aLink({ code: 'Togeth0', ownerId: '100000000000000891' });
    const ofAdopted = aLink({ code: 'TgthrAd', ownerId: adopted });
    const members = aLink({ code: 'TgthrMb', ownerId: adopted, ownerKind: 'member' });
    const all = [...fresh, sameUrl, takenCode, ofAdopted, members];
    const before = { ...tally };
    const outcomes = await Promise.all(all.map((link) => storeLink(store, link)));
    // On MySQL those stored went in one statement; SQLite writes each alone.
    expect({ shared: tally.shared - before.shared, single: tally.single - before.single }).toEqual(
      dialect === 'mysql' ? { shared: 13, single: 0 } : { shared: 0, single: 13 },
    );
    expect(outcomes).toEqual([
      ...fresh.map(() => 'inserted'),
      'url_taken',
      'code_taken',
      'adopted',
      'inserted',
    ]);
    const stored = await store.findByCodes(all.map((link) => link.code));
    expect(stored.map((row) => row.id).sort()).toEqual(
      [holder, ...fresh, members].map((link) => link.id).sort(),
    );
    // Every value as written: a link stored with others is the link asked for.
    const first = stored.find((row) => row.id === fresh[0]?.id);
    expect(first).toMatchObject({
      code: fresh[0]?.code,
      targetUrl: fresh[0]?.targetUrl,
      ownerId: owner,
      ownerKind: 'guest',
      expiresAt: null,
      maxVisits: null,
    });
  });

  test('when inserts with an expiry and a visit limit arrive together, then each keeps its own', async () => {
    const expiresAt = new Date(Date.now() + 86_400_000);
    const dated = aLink({ code: 'TgthrEx', expiresAt });
    const limited = aLink({ code: 'TgthrLm', maxVisits: 7 });
    const plain = aLink({ code: 'TgthrPl' });
    expect(
      await Promise.all([
        store.insert(dated, null),
        store.insert(limited, null),
        store.insert(plain, null),
      ]),
    ).toEqual(['inserted', 'inserted', 'inserted']);
    expect((await store.findByCode('TgthrEx'))?.expiresAt?.getTime()).toBe(expiresAt.getTime());
    expect((await store.findByCode('TgthrLm'))?.maxVisits).toBe(7);
    expect((await store.findByCode('TgthrPl'))?.maxVisits).toBeNull();
  });

  test('when a link a shared statement wrote is written again with others, then it stands once, and another link under its id is refused', async () => {
    // A shared statement's answer lost: the link is there already.
    const written = aLink({ code: 'TgthrAg' });
    expect(await storeLink(store, written)).toBe('inserted');
    // Ids never repeat; if one did, a different link under it is no success.
    const clash = aLink({ code: 'TgthrCl', id: written.id });
    const other = aLink({ code: 'TgthrOt' });
    const [again, clashed, beside] = await Promise.allSettled([
      storeLink(store, written),
      storeLink(store, clash),
      storeLink(store, other),
    ]);
    expect(beside).toEqual({ status: 'fulfilled', value: 'inserted' });
    expect(clashed.status).toBe('rejected');
    expect(await store.findByCode('TgthrCl')).toBeNull();
    expect((await store.findByCodes(['TgthrAg'])).map((row) => row.id)).toEqual([written.id]);
    // MySQL shared the statement and knows the row for the link; SQLite
    // (never shared) answers as for any second write, naming an index it checked.
    if (dialect === 'mysql') expect(again).toEqual({ status: 'fulfilled', value: 'inserted' });
    else expect(again).toEqual({ status: 'fulfilled', value: 'url_taken' });
  });
});
