// Links with a maximum number of visits, through the whole mesh and a second
// gateway beside it, on MariaDB with Redis and on the embedded default: the
// visit that reaches the limit is the last redirect, exactly, however many
// clicks race through however many gateways; HEAD spends nothing; the link
// shows its visits left. And ExtendLink over HTTP, with its refusals.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type RunningGateway, startGateway } from '../../gateway/main.ts';
import { dialable } from '../../lib/config/parsers.ts';
import { call, newGuest, shorten } from '../support/http.ts';
import { testObservers } from '../support/infrastructure.ts';
import { testLog } from '../support/logger.ts';
import { MESH_FLAVOURS, meshForSuite } from '../support/mesh.ts';
import { expectProblem } from '../support/problems.ts';

describe.each(MESH_FLAVOURS)('maximum visits and extensions (%s)', (flavour) => {
  const mesh = meshForSuite(flavour);
  let second: RunningGateway;
  let token: string;

  beforeAll(async () => {
    const { config, mesh: running } = mesh;
    second = await startGateway(
      {
        ...config.gateway,
        listen: '127.0.0.1:0',
        linkTarget: dialable(running.link.address),
        identityTarget: dialable(running.identity.address),
        analyticsTarget: dialable(running.analytics.address),
      },
      config,
      testLog,
      { shared: running.shared, bus: running.bus, ...testObservers(running.bus) },
    );
    token = await newGuest(mesh.url);
  });
  afterAll(() => second?.stop());

  const linkOf = async (code: string) =>
    (await call(mesh.url, 'GET', `/api/v1/links/${code}`, { token })).body;

  test('when 200 clicks race through two gateways for a link allowing 50, then exactly 50 redirect and 150 answer 410 visits_exhausted', async () => {
    const made = await shorten(mesh.url, token, 'https://example.com/limited/fifty', {
      maxVisits: 50,
    });
    expect(made.status).toBe(201);
    expect(made.body.maxVisits).toBe(50);
    expect(made.body.visitsLeft).toBe(50);
    const code = made.body.code;
    // Warm both gateways first: a limited link must not be answered from a near cache.
    const gateways = [mesh.url, second.url];
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => call(gateways[i % 2] as string, 'GET', `/${code}`)),
    );
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((s) => s === 302)).toHaveLength(50);
    expect(statuses.filter((s) => s === 410)).toHaveLength(150);
    const refused = answers.find((answer) => answer.status === 410);
    if (refused) expectProblem(refused, 410, { code: 'visits_exhausted' });
    expect(mesh.mesh.gateway.near.size + second.near.size).toBe(0);
    expect((await linkOf(code)).visitsLeft).toBe(0);
    // Spent is spent: later visits, on either gateway, are refused too.
    expectProblem(await call(second.url, 'GET', `/${code}`), 410, { code: 'visits_exhausted' });
  });

  test('when a limited link is looked at with HEAD, then no visit is spent; each GET spends one and the last one still redirects', async () => {
    const made = await shorten(mesh.url, token, 'https://example.com/limited/two', {
      maxVisits: 2,
    });
    const code = made.body.code;
    expect((await call(mesh.url, 'HEAD', `/${code}`)).status).toBe(302);
    expect((await linkOf(code)).visitsLeft).toBe(2);
    expect((await call(second.url, 'GET', `/${code}`)).status).toBe(302);
    expect((await linkOf(code)).visitsLeft).toBe(1);
    expect((await call(mesh.url, 'GET', `/${code}`)).status).toBe(302);
    expect((await linkOf(code)).visitsLeft).toBe(0);
    expectProblem(await call(mesh.url, 'GET', `/${code}`), 410, { code: 'visits_exhausted' });
    // Too late to extend a link that used up its visits.
    const late = await call(mesh.url, 'POST', `/api/v1/links/${code}/extend`, {
      token,
      json: { by: '30d' },
    });
    expectProblem(late, 410, { code: 'visits_exhausted' });
  });

  test('when a limited link is asked for with a bad limit, then 400 and no link', async () => {
    for (const maxVisits of [0, -1, 1.5, 2_000_000_000]) {
      const refused = await shorten(mesh.url, token, 'https://example.com/limited/bad', {
        maxVisits,
      });
      expectProblem(refused, 400, { label: String(maxVisits) });
    }
    const listed = await call(mesh.url, 'GET', '/api/v1/links?pageSize=100', { token });
    expect(
      listed.body.links.some((link) => link.targetUrl === 'https://example.com/limited/bad'),
    ).toBe(false);
  });

  test('when the owner extends a link by 30d, then its expiry moves exactly that far, on every answer; a stranger, a bad amount or too much are refused', async () => {
    const made = await shorten(mesh.url, token, 'https://example.com/extend/me');
    const code = made.body.code;
    const before = Date.parse(made.body.expiresAt as string);
    const extended = await call(mesh.url, 'POST', `/api/v1/links/${code}/extend`, {
      token,
      json: { by: '30d' },
    });
    expect(extended.status).toBe(200);
    expect(Date.parse(extended.body.expiresAt as string)).toBe(before + 30 * 86_400_000);
    expect((await linkOf(code)).expiresAt).toBe(extended.body.expiresAt);
    // Without a body: the default extension (30 days).
    const byDefault = await call(mesh.url, 'POST', `/api/v1/links/${code}/extend`, { token });
    expect(byDefault.status).toBe(200);
    expect(Date.parse(byDefault.body.expiresAt as string)).toBe(before + 60 * 86_400_000);

    const stranger = await newGuest(mesh.url);
    expectProblem(
      await call(mesh.url, 'POST', `/api/v1/links/${code}/extend`, { token: stranger, json: {} }),
      404,
      { code: 'link_not_found' },
    );
    expectProblem(
      await call(mesh.url, 'POST', `/api/v1/links/${code}/extend`, {
        token,
        json: { by: '9999d' },
      }),
      400,
      { code: 'invalid_extension', field: 'by' },
    );
    expectProblem(
      await call(mesh.url, 'POST', `/api/v1/links/${code}/extend`, { token, json: { by: 'soon' } }),
      400,
    );
    expectProblem(
      await call(mesh.url, 'POST', `/api/v1/links/${code}/extend`, { json: { by: '1d' } }),
      401,
    );
    expect((await linkOf(code)).expiresAt).toBe(byDefault.body.expiresAt);
    // The link still redirects, through both gateways.
    expect((await call(second.url, 'GET', `/${code}`)).status).toBe(302);
  });
});

describe('the OpenAPI document', () => {
  const mesh = meshForSuite('embedded');

  test('when it is read, then it shows the extend route and page, and links with their visits and last access', async () => {
    const doc = (await call(mesh.url, 'GET', '/api/v1/openapi.json')).body;
    const extend = doc.paths['/api/v1/links/{code}/extend']?.post as {
      responses: Record<string, unknown>;
    };
    expect(Object.keys(extend.responses).sort()).toEqual([
      '200',
      '400',
      '401',
      '404',
      '410',
      '503',
    ]);
    expect(Object.keys(doc.paths['/extend'] ?? {}).sort()).toEqual(['get', 'post']);
    const link = doc.components.schemas?.Link as { properties: Record<string, unknown> };
    for (const field of [
      'maxVisits',
      'visitsLeft',
      'lastAccessedAt',
      'expiresAt',
      'explicitExpiresAt',
    ]) {
      expect(link.properties, field).toHaveProperty(field);
    }
  });
});
