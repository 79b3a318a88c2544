// Links changing hands with their owner, on every store adapter: a guest's
// links moved to the member who adopted the guest (atomically, once, with the
// member's own claim on a URL kept), the adopter recorded once and for all,
// and an owner's live links deleted a chunk at a time. Ids above 2^53 must
// survive every statement exactly.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Dialect } from '../../lib/db/migrations.ts';
import { urlHash } from '../../services/link/domain/target-url.ts';
import { LinkStore } from '../../services/link/store/link-store.ts';
import { linkSchema } from '../../services/link/store/schema.ts';
import { openTestDatabase, type TestDatabase } from '../support/databases.ts';
import { aLink, storeLink } from '../support/links.ts';

const DIALECTS: Dialect[] = ['mysql', 'sqlite'];

let nextOwner = 9_007_199_254_800_001n; // above 2^53
function freshOwner(): string {
  nextOwner += 2n;
  return String(nextOwner);
}

describe.each(DIALECTS)('links changing owner (%s)', (dialect) => {
  let db: TestDatabase;
  let store: LinkStore;

  beforeAll(async () => {
    db = await openTestDatabase(dialect, linkSchema, 'owner_links');
    store = new LinkStore(db.orm);
  });
  afterAll(() => db?.close());

  test("when a guest's links move to a member, then all of them, tombstones too, are the member's and the guest has none", async () => {
    const guest = freshOwner();
    const member = freshOwner();
    const neighbour = String(BigInt(guest) + 1n); // one apart: a double would confuse them
    const live = [
      aLink({ code: `mv${dialect}A`, ownerId: guest }),
      aLink({ code: `mv${dialect}B`, ownerId: guest }),
    ];
    const gone = aLink({ code: `mv${dialect}C`, ownerId: guest });
    const untouched = aLink({ code: `mv${dialect}D`, ownerId: neighbour });
    for (const link of [...live, gone, untouched])
      expect(await storeLink(store, link)).toBe('inserted');
    expect(await store.markDeleted(gone.id, guest, new Date())).toBe(true);

    const moved = await store.moveOwner(guest, member);
    expect(moved.map((link) => link.code).sort()).toEqual(live.map((link) => link.code).sort());
    for (const link of moved) expect(link.ownerId).toBe(member);
    expect((await store.listByOwner(member, null, 10)).map((l) => l.code).sort()).toEqual(
      live.map((link) => link.code).sort(),
    );
    expect(await store.listByOwner(guest, null, 10)).toEqual([]);
    expect((await store.findByCode(gone.code))?.ownerId).toBe(member);
    expect((await store.findByCode(untouched.code))?.ownerId).toBe(neighbour);
    // Moving again finds nothing left.
    expect(await store.moveOwner(guest, member)).toEqual([]);
  });

  test("when both claim a URL, then the member's link keeps the claim and the adopted one keeps its code", async () => {
    const guest = freshOwner();
    const member = freshOwner();
    const url = `https://example.com/claimed/${dialect}`;
    const mine = aLink({ code: `cl${dialect}M`, ownerId: member, targetUrl: url });
    const theirs = aLink({ code: `cl${dialect}G`, ownerId: guest, targetUrl: url });
    const only = aLink({ code: `cl${dialect}O`, ownerId: guest });
    for (const link of [mine, theirs, only]) expect(await storeLink(store, link)).toBe('inserted');

    expect(await store.moveOwner(guest, member)).toHaveLength(2);
    expect((await store.findByOwnerAndUrl(member, urlHash(url)))?.code).toBe(mine.code);
    expect((await store.findByOwnerAndUrl(member, urlHash(only.targetUrl)))?.code).toBe(only.code);
    expect((await store.findByCode(theirs.code))?.ownerId).toBe(member);
    expect((await store.listByOwner(member, null, 10)).map((l) => l.code).sort()).toEqual(
      [mine.code, theirs.code, only.code].sort(),
    );
  });

  test('when moves of one guest run at once, then every link is moved exactly once', async () => {
    const guest = freshOwner();
    const member = freshOwner();
    const links = Array.from({ length: 20 }, (_, i) =>
      aLink({ code: `race${dialect}${String(i).padStart(2, '0')}`, ownerId: guest }),
    );
    for (const link of links) await storeLink(store, link);
    const results = await Promise.all(
      Array.from({ length: 4 }, () => store.moveOwner(guest, member)),
    );
    const movedCodes = results.flat().map((link) => link.code);
    expect(movedCodes.sort()).toEqual(links.map((link) => link.code).sort());
    expect(await store.listByOwner(guest, null, 100)).toEqual([]);
    expect(await store.listByOwner(member, null, 100)).toHaveLength(20);
  });

  test('when two members record adopting one guest, then the first stands for both', async () => {
    const guest = freshOwner();
    const [first, second] = [freshOwner(), freshOwner()];
    expect(await store.adopterOf(guest)).toBeNull();
    const answers = await Promise.all([
      store.recordAdoption(guest, first, new Date()),
      store.recordAdoption(guest, second, new Date()),
    ]);
    expect(answers[0]).toBe(answers[1]);
    expect([first, second]).toContain(answers[0]);
    expect(await store.adopterOf(guest)).toBe(answers[0]);
    expect(await store.recordAdoption(guest, first, new Date())).toBe(answers[0]);
  });

  test("when an owner's links are deleted in chunks, then only live ones of that owner become tombstones", async () => {
    const owner = freshOwner();
    const other = freshOwner();
    const links = Array.from({ length: 5 }, (_, i) =>
      aLink({ code: `del${dialect}${i}`, ownerId: owner }),
    );
    const kept = aLink({ code: `del${dialect}K`, ownerId: other });
    for (const link of [...links, kept]) await storeLink(store, link);

    const firstChunk = await store.liveLinksOf(owner, 3);
    expect(firstChunk.map((l) => l.code)).toEqual(links.slice(0, 3).map((l) => l.code));
    // Someone else's id in the list is left alone.
    const ids = [...firstChunk.map((l) => l.id), kept.id];
    expect(await store.markManyDeleted(ids, owner, new Date())).toBe(3);
    expect(await store.markManyDeleted(ids, owner, new Date())).toBe(0);
    expect((await store.liveLinksOf(owner, 10)).map((l) => l.code)).toEqual(
      links.slice(3).map((l) => l.code),
    );
    expect((await store.findByCode(kept.code))?.deletedAt).toBeNull();
    // A tombstone keeps its code taken.
    expect(await storeLink(store, aLink({ code: links[0]?.code ?? '', ownerId: other }))).toBe(
      'code_taken',
    );
  });
});
