// CreateLinks over LinkService, on each store: every item is created exactly
// as CreateLink would create it alone, for its own caller, and answered on
// its own and in order, its link or its error, so one refused item never
// fails the others. Principals are made here as the gateway would pass them.
import { createConnection } from 'mysql2/promise';
import { describe, expect, test } from 'vitest';
import type { CreateLinkRequest } from '../../gen/shortener/v1/link.ts';
import { type Principal, PrincipalKind } from '../../gen/shortener/v1/principal.ts';
import { DomainError, isDomainError } from '../../lib/errors.ts';
import { fromItemError, toItemError } from '../../lib/grpc/status.ts';
import { runtimeErrors } from '../../lib/runtime-errors.ts';
import { MAX_CREATE_BATCH } from '../../lib/short-code-rules.ts';
import { linkClientForTest } from '../support/grpc.ts';
import { MESH_FLAVOURS, meshForSuite } from '../support/mesh.ts';
import { within } from '../support/wait.ts';

let nextPrincipal = 310_000_000_000_000_000n;
const principal = (kind: PrincipalKind): Principal => ({ id: String(nextPrincipal++), kind });
const aMember = () => principal(PrincipalKind.PRINCIPAL_KIND_MEMBER);
const aGuest = () => principal(PrincipalKind.PRINCIPAL_KIND_GUEST);

const item = (
  caller: Principal | undefined,
  targetUrl: string,
  extra: Partial<CreateLinkRequest> = {},
): CreateLinkRequest => ({
  caller,
  targetUrl,
  alias: '',
  expiresAt: undefined,
  client: {
    ip: '203.0.113.7',
    userAgent: '',
    referer: '',
    acceptLanguage: '',
    traceparent: '',
    tracestate: '',
  },
  ...extra,
});

describe('an item error in a batch answer', () => {
  test('when a domain error is sent as an item error, then it comes back with its kind, code, field and retry delay', () => {
    const refused = runtimeErrors.rate_limited(
      { what: 'links created' },
      { retryAfterMs: 1_234.2 },
    );
    const back = fromItemError(toItemError(refused));
    expect(back).toMatchObject({ kind: 'exhausted', code: 'rate_limited', retryAfterMs: 1_235 });
    const invalid = new DomainError('invalid', 'bad target', { code: 'invalid_url', field: 'x' });
    expect(fromItemError(toItemError(invalid))).toMatchObject({
      kind: 'invalid',
      code: 'invalid_url',
      field: 'x',
      message: 'bad target',
    });
  });

  test('when something other than a domain error failed an item, then its item error says internal and nothing more', () => {
    const error = toItemError(new Error('secret host db-7.internal unreachable'));
    expect(error).toMatchObject({ status: 13, errorCode: 'internal' });
    expect(JSON.stringify(error)).not.toContain('db-7');
  });
});

describe.each(MESH_FLAVOURS)('CreateLinks over LinkService (%s)', (flavour) => {
  const mesh = meshForSuite(flavour, {
    RATE_LIMIT_CREATE_PER_PRINCIPAL: '3/1m',
    RATE_LIMIT_CREATE_PER_IP: '10000/1m',
  });
  const linkClient = () => linkClientForTest(mesh.mesh.link.address, 5_000);

  test('when one batch mixes good and refused items, then each is answered alone, in order, as CreateLink would answer it', async () => {
    const links = linkClient();
    const guest = aGuest();
    const member = aMember();
    const alias = `batch-${process.pid}-${Date.now()}`;
    const { results } = await links.createLinks({
      items: [
        item(guest, 'https://example.com/batch/a'),
        item(guest, 'ftp://example.com/not-http'),
        item(guest, 'https://example.com/batch/b', { alias: 'guest-alias' }),
        item(undefined, 'https://example.com/batch/nobody'),
        item(member, 'https://example.com/batch/c', { alias }),
      ],
    });
    expect(results).toHaveLength(5);
    const [made, badUrl, guestAlias, nobody, aliased] = results;
    expect(made?.link).toMatchObject({ created: true, link: { ownerId: guest.id } });
    expect(made?.error).toBeUndefined();
    expect(badUrl?.link).toBeUndefined();
    expect(badUrl?.error).toMatchObject({ status: 3, errorCode: 'unsupported_scheme' });
    expect(guestAlias?.error).toMatchObject({ status: 7, errorCode: 'alias_members_only' });
    expect(nobody?.error?.status).toBe(16);
    expect(aliased?.link).toMatchObject({ created: true, link: { code: alias } });
    // What was made resolves; what was refused made nothing.
    const resolved = await links.resolveLink({ code: made?.link?.link?.code ?? '' });
    expect(resolved.targetUrl).toBe('https://example.com/batch/a');
    const own = await links.listLinks({ caller: guest, pageSize: 10, pageToken: '' });
    expect(own.links.map((l) => l.code)).toEqual([made?.link?.link?.code]);
  });

  test('when one caller asks for the same URL twice in a batch, then both items get the one link, made once', async () => {
    const links = linkClient();
    const guest = aGuest();
    const { results } = await links.createLinks({
      items: [
        item(guest, 'https://example.com/batch/twice'),
        item(guest, 'https://example.com/batch/twice'),
      ],
    });
    const answers = results.map((r) => r.link);
    expect(answers.map((a) => a?.created).sort()).toEqual([false, true]);
    expect(answers[0]?.link?.id).toBe(answers[1]?.link?.id);
  });

  test('when a batch spends more than the caller’s budget, then the items over it are refused with a retry delay and the rest are made', async () => {
    const links = linkClient();
    const guest = aGuest();
    const { results } = await links.createLinks({
      items: Array.from({ length: 5 }, (_, i) => item(guest, `https://example.com/budget/${i}`)),
    });
    const made = results.filter((r) => r.link?.created);
    const refused = results.filter((r) => r.error);
    expect(made).toHaveLength(3);
    expect(refused).toHaveLength(2);
    for (const r of refused) {
      expect(r.error).toMatchObject({ status: 8, errorCode: 'rate_limited' });
      expect(Number(r.error?.retryAfterMs)).toBeGreaterThan(0);
    }
  });

  test('when a batch holds more items than allowed, then the call is refused whole and nothing is made', async () => {
    const links = linkClient();
    const guest = aGuest();
    const failure = await links
      .createLinks({
        items: Array.from({ length: MAX_CREATE_BATCH + 1 }, (_, i) =>
          item(guest, `https://example.com/too-many/${i}`),
        ),
      })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(isDomainError(failure)).toBe(true);
    expect(failure).toMatchObject({ kind: 'invalid', code: 'batch_too_large' });
    const own = await links.listLinks({ caller: guest, pageSize: 10, pageToken: '' });
    expect(own.links).toEqual([]);
  });
});

describe('CreateLinks when its shared insert waits on a lock (mysql+redis)', () => {
  const mesh = meshForSuite('mysql+redis');
  const linkClient = () => linkClientForTest(mesh.mesh.link.address, 5_000);

  test('when the items wait past the deadline, then the call is still answered in time, each waiting item as deadline_exceeded', async () => {
    const links = linkClient();
    const guest = aGuest();
    const member = aMember();
    const db = await createConnection({ uri: mesh.config.link.databaseUrl });
    try {
      // The guest adopted, and its adoption row locked: the guarded insert waits for it.
      await db.query(
        'INSERT INTO guest_adoptions (guest_id, member_id, adopted_at) VALUES (?, ?, NOW(3))',
        [guest.id, aMember().id],
      );
      await db.beginTransaction();
      await db.query('SELECT * FROM guest_adoptions WHERE guest_id = ? FOR UPDATE', [guest.id]);
      const started = performance.now();
      const { results } = await links.createLinks(
        {
          items: [
            item(guest, 'https://example.com/locked/guest'),
            item(member, 'https://example.com/locked/member'),
          ],
        },
        { deadline: Date.now() + 1_000 },
      );
      expect(performance.now() - started).toBeLessThan(1_000);
      expect(results.map((r) => r.error?.errorCode)).toEqual([
        'deadline_exceeded',
        'deadline_exceeded',
      ]);
      await db.rollback();
      // The shared statement then goes on: the member's link is written (the
      // documented cost of sharing), the adopted guest's is not.
      await within(5_000, async () => {
        const own = await links.listLinks({ caller: member, pageSize: 10, pageToken: '' });
        return own.links.length > 0;
      });
      const own = await links.listLinks({ caller: member, pageSize: 10, pageToken: '' });
      expect(own.links.map((l) => l.targetUrl)).toEqual(['https://example.com/locked/member']);
      const guests = await links.listLinks({ caller: guest, pageSize: 10, pageToken: '' });
      expect(guests.links).toEqual([]);
    } finally {
      await db.end();
    }
  });
});
