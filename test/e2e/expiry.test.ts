// Expiry through the whole mesh, on MariaDB, Redis and RabbitMQ and on the
// embedded default, told with a clock the test moves (the link service and
// the gateway read it): a member's idle link gets one notice, mailed by the
// notifier to the member's confirmed address, is extended by its one-click link and is not purged; left alone, it answers 410 on every
// path (near cache, shared cache, database, gRPC), then the sweeper purges
// it: 404, its cache entry gone, its code never issued again. A guest's
// idle link gets no notice, and is purged like any other.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Orm, openDatabase } from '../../lib/db/open.ts';
import { isDomainError } from '../../lib/errors.ts';
import { LinkChanges } from '../../services/link/changes/link-changes.ts';
import { LinkRow } from '../../services/link/store/entities.ts';
import { ExpiryStore } from '../../services/link/store/expiry-store.ts';
import { LinkCache } from '../../services/link/store/link-cache.ts';
import { linkSchema } from '../../services/link/store/schema.ts';
import { Sweeper } from '../../services/link/workers/sweeper.ts';
import { newEmail, newMember } from '../support/accounts.ts';
import { DAY, TestClock } from '../support/clock.ts';
import { linkClientForTest } from '../support/grpc.ts';
import { call, newGuest, shorten } from '../support/http.ts';
import { testLog } from '../support/logger.ts';
import { linkIn, Mailbox } from '../support/mailbox.ts';
import { MESH_FLAVOURS, meshForSuite } from '../support/mesh.ts';
import { expectProblem } from '../support/problems.ts';
import { sleep, within } from '../support/wait.ts';

const IDLE = 180 * DAY;

describe.each(MESH_FLAVOURS)('expiry through the mesh (%s)', (flavour) => {
  const clock = new TestClock();
  const mesh = meshForSuite(
    flavour,
    {
      LINK_LAST_ACCESS_INTERVAL: '0',
      LINK_NOTICE_INTERVAL: '100ms',
      // The story runs a sweeper of its own when it wants one.
      LINK_SWEEP_INTERVAL: '1d',
      LINK_EXTEND_TOKEN_SECRET: 'the secret of this story, thirty-two characters at least',
      NEAR_CACHE_TTL: '1h',
    },
    { clock: clock.now },
  );
  let links: Orm;
  let member: string;
  let memberEmail: string;
  const mailbox = () => new Mailbox(undefined, mesh.config.notifier.outboxDir);
  /** The expiry notices mailed so far (to anyone). */
  const notices = async () =>
    (await mailbox().all()).filter((m) => /expires soon$/.test(m.subject ?? ''));
  const utc = (at: number) => `${new Date(at).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  let guest: string;
  let changes: LinkChanges;

  beforeAll(async () => {
    links = await openDatabase({ url: mesh.linkDatabaseUrl, schema: linkSchema, log: testLog });
    // A member who confirmed their address: notices go to confirmed addresses only.
    memberEmail = newEmail('expiry');
    member = await newMember(mesh.url, memberEmail);
    const verification = await mailbox().waitFor(memberEmail, 'Confirm your email address');
    const confirmed = await call(mesh.url, 'POST', '/api/v1/email-verifications/confirm', {
      json: { token: linkIn(verification).searchParams.get('token') },
    });
    if (confirmed.status !== 204) throw new Error(`not confirmed: ${confirmed.status}`);
    guest = await newGuest(mesh.url);
    changes = new LinkChanges(mesh.mesh.shared.broadcast, testLog);
    changes.start();
  });
  afterAll(async () => {
    await changes?.stop();
    await links?.close();
  });

  /** A second sweeper beside the service's, as another instance would run it. */
  const sweep = () =>
    new Sweeper(
      {
        expiry: new ExpiryStore(links),
        cache: new LinkCache(mesh.mesh.shared.cache, {
          ttlMs: 3_600_000,
          negativeTtlMs: 30_000,
          log: testLog,
          idleMs: IDLE,
          now: clock.now,
        }),
        visits: mesh.mesh.shared.visits,
        changes,
        bus: mesh.mesh.bus,
        log: testLog,
      },
      { idleMs: IDLE, chunk: 100, parallel: 2, now: clock.now },
    ).sweep();
  const follow = (code: string, method = 'GET') => call(mesh.url, method, `/${code}`);
  const linkOf = async (code: string) =>
    (await call(mesh.url, 'GET', `/api/v1/links/${code}`, { token: member })).body;
  const cached = async (code: string) =>
    (await mesh.mesh.shared.cache.getMany([`link:${code}`]))[0];

  test('when a member’s link idles, then one notice, a one-click extension, and no purge; left alone after that, 410 on every path, then purged: 404, cache entry gone, code never issued again', async () => {
    const made = await shorten(mesh.url, member, 'https://example.com/expiry/member');
    const guests = await shorten(mesh.url, guest, 'https://example.com/expiry/guest');
    expect(made.status).toBe(201);
    const code = made.body.code;
    const created = Date.parse(made.body.createdAt);
    expect(Date.parse(made.body.expiresAt as string)).toBe(created + IDLE);
    expect(made.body.lastAccessedAt).toBeNull();

    // Followed: the last access moves, and the idle expiry with it.
    expect((await follow(code)).status).toBe(302);
    await within(15_000, async () => (await linkOf(code)).lastAccessedAt !== null);
    const used = Date.parse((await linkOf(code)).lastAccessedAt as string);
    const expiry = used + IDLE;
    expect(Date.parse((await linkOf(code)).expiresAt as string)).toBe(expiry);

    // Three days before it expires: the member is told once; the guest is not.
    clock.set(expiry - 3 * DAY);
    await within(10_000, async () => (await notices()).length > 0);
    await sleep(500);
    const mailed = await notices();
    expect(mailed.map((m) => m.subject)).toEqual([
      `Your short link ${made.body.shortUrl} expires soon`,
    ]);
    const [mail] = mailed;
    if (!mail) throw new Error('no notice');
    expect(mail.to && !Array.isArray(mail.to) ? mail.to.value[0]?.address : undefined).toBe(
      memberEmail,
    );
    expect(mail.text).toContain(`expires on ${utc(expiry)}`);
    expect(mail.text).toContain(`last followed ${utc(used)}`);
    expect(mailed.some((m) => m.text?.includes(`/${guests.body.code} `))).toBe(false);
    const notice = {
      extendUrl: linkIn(mail).toString(),
      extendToken: linkIn(mail).searchParams.get('token') ?? '',
    };

    // The notice's link: a page with one button, which extends without a login.
    const extendPath = new URL(notice.extendUrl).pathname + new URL(notice.extendUrl).search;
    const page = await call(mesh.url, 'GET', extendPath);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(String(page.body)).toContain('<form method="post" action="/extend">');
    expect(Date.parse((await linkOf(code)).expiresAt as string)).toBe(expiry);
    const form = `token=${encodeURIComponent(notice.extendToken)}`;
    const formHeaders = { 'content-type': 'application/x-www-form-urlencoded' };
    const extended = await call(mesh.url, 'POST', '/extend', { body: form, headers: formHeaders });
    expect(extended.status).toBe(200);
    expect(String(extended.body)).toContain('Link extended');
    const pushed = expiry + 30 * DAY;
    expect(Date.parse((await linkOf(code)).expiresAt as string)).toBe(pushed);
    // The same token again is spent; a forged one is refused; each with a page saying so.
    const again = await call(mesh.url, 'POST', '/extend', { body: form, headers: formHeaders });
    expect(again.status).toBe(409);
    expect(String(again.body)).toContain('extended or used');
    const forged = await call(mesh.url, 'POST', '/extend', {
      body: `token=${encodeURIComponent(notice.extendToken.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')))}`,
      headers: formHeaders,
    });
    expect(forged.status).toBe(400);
    expect(String(forged.body)).toContain('not valid');
    const missing = await call(mesh.url, 'GET', '/extend');
    expect(missing.status).toBe(400);
    expect(missing.headers.get('content-type')).toContain('text/html');
    // No second notice for the new period while it is outside the window.
    await sleep(300);
    expect(await notices()).toHaveLength(1);

    // A day past the old expiry: it still redirects, and the sweeper leaves it (the guest's goes).
    clock.set(expiry + DAY);
    expect((await follow(code, 'HEAD')).status).toBe(302);
    expect(await sweep()).toBe(1);
    const [guestRow] = await links.em.fork().find(LinkRow, { code: guests.body.code });
    expect(guestRow?.deletedAt).not.toBeNull();
    expect((await follow(guests.body.code)).status).toBe(404);
    const [kept] = await links.em.fork().find(LinkRow, { code });
    expect(kept?.deletedAt ?? null).toBeNull();

    // HEADs are no use: they fill the near cache and leave the expiry where it is. Then it passes.
    expect((await follow(code, 'HEAD')).status).toBe(302);
    expect((await follow(code, 'HEAD')).status).toBe(302);
    clock.set(pushed + 1);
    // Near cache (it held the link), shared cache and database all say 410, and so does gRPC.
    expectProblem(await follow(code), 410, { code: 'link_expired' });
    expect(await cached(code)).not.toBeNull();
    expectProblem(await follow(code), 410, { code: 'link_expired' });
    await mesh.mesh.shared.cache.delete([`link:${code}`]);
    expectProblem(await follow(code), 410, { code: 'link_expired' });
    const grpc = linkClientForTest(mesh.mesh.link.address);
    const refused = await grpc.resolveLink({ code }).catch((error: unknown) => error);
    expect(isDomainError(refused) && [refused.kind, refused.code]).toEqual([
      'expired',
      'link_expired',
    ]);

    // Purged: 404 from then on, nothing cached, and the code is never issued again.
    expect(await sweep()).toBe(1);
    expect(await cached(code)).toBeNull();
    expectProblem(await follow(code), 404, { code: 'link_not_found' });
    expectProblem(await call(mesh.url, 'GET', `/api/v1/links/${code}`, { token: member }), 404);
    const reissued = await shorten(mesh.url, member, 'https://example.com/elsewhere', {
      alias: code,
    });
    expectProblem(reissued, 409, { code: 'alias_retired' });
  }, 60_000);
});
