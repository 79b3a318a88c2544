// Every click counted: redirects answered from the gateway's near cache and
// through ResolveLinks alike go out on the bus in batches, and the analytics
// service's visit recorder and ranking counter each count every one exactly
// once — on RabbitMQ with MariaDB and Redis, and on the embedded default.
// HEAD requests and unknown codes are not clicks.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  AnalyticsServiceClient,
  AnalyticsServiceService,
  TopLinksScope,
  TopLinksWindow,
} from '../../gen/shortener/v1/analytics.ts';
import { type Principal, PrincipalKind } from '../../gen/shortener/v1/principal.ts';
import { connect, promiseClient } from '../../lib/grpc/client.ts';
import { call, shorten } from '../support/http.ts';
import { MESH_FLAVOURS, meshForSuite } from '../support/mesh.ts';
import { within } from '../support/wait.ts';

const CLICKS = 1_000;
const HEADERS = {
  'user-agent':
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
  referer: 'https://news.example/article',
  'accept-language': 'de-CH,de;q=0.9',
};

/** Sends `count` requests, `parallel` at a time, and returns their statuses. */
async function burst(count: number, parallel: number, send: (i: number) => Promise<number>) {
  const statuses: number[] = [];
  for (let i = 0; i < count; i += parallel) {
    const wave = Array.from({ length: Math.min(parallel, count - i) }, (_, j) => send(i + j));
    statuses.push(...(await Promise.all(wave)));
  }
  return statuses;
}

describe.each(MESH_FLAVOURS)('the click pipeline (%s)', (flavour) => {
  const mesh = meshForSuite(flavour);
  let guest: Principal;
  let codes: string[];
  let analytics: ReturnType<typeof promiseClient<typeof AnalyticsServiceService>>;
  let channel: AnalyticsServiceClient;

  beforeAll(async () => {
    const issued = await call(mesh.url, 'POST', '/api/v1/guests');
    guest = { id: issued.body.id, kind: PrincipalKind.PRINCIPAL_KIND_GUEST };
    codes = [];
    for (let i = 0; i < 3; i++) {
      const made = await shorten(mesh.url, issued.body.token, `https://example.com/clicked/${i}`);
      codes.push(made.body.code);
    }
    channel = connect(AnalyticsServiceClient, mesh.mesh.analytics.address, 5_000);
    analytics = promiseClient(channel, AnalyticsServiceService);
  });
  afterAll(() => channel?.close());

  const totalOf = async (code: string) =>
    Number(
      (
        await analytics.getLinkStats({
          caller: guest,
          code,
          fromDate: '',
          toDate: '',
          includeBots: false,
          breakdownLimit: 0,
        })
      ).total,
    );

  test(`when ${CLICKS} redirects are answered, then exactly ${CLICKS} visits are stored with the client's details and the ranking counts ${CLICKS}`, async () => {
    const statuses = await burst(CLICKS, 50, (i) =>
      fetch(`${mesh.url}/${codes[i % 3]}`, { redirect: 'manual', headers: HEADERS }).then(
        async (answer) => {
          await answer.arrayBuffer();
          return answer.status;
        },
      ),
    );
    expect(statuses).toEqual(Array(CLICKS).fill(302));
    // Not clicks: HEAD, and codes nobody has.
    for (const code of codes) expect((await call(mesh.url, 'HEAD', `/${code}`)).status).toBe(302);
    expect((await call(mesh.url, 'GET', '/NoSuch1')).status).toBe(404);

    const perLink = [334, 333, 333];
    await within(30_000, async () => {
      const totals = await Promise.all(codes.map(totalOf));
      return totals.every((total, i) => total === perLink[i]);
    });
    // And no more arrive: each click was recorded once.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await Promise.all(codes.map(totalOf))).toEqual(perLink);

    const page = await analytics.listVisits({
      caller: guest,
      code: codes[0] as string,
      pageSize: 5,
      pageToken: '',
    });
    expect(page.visits).toHaveLength(5);
    expect(page.visits[0]).toMatchObject({
      userAgent: HEADERS['user-agent'],
      referer: HEADERS.referer,
      acceptLanguage: HEADERS['accept-language'],
      browser: 'Chrome',
      bot: false,
    });
    // The client address is kept anonymised (loopback here: 127.0.0.0/24).
    expect(page.visits[0]?.ip).toBe('127.0.0.0');

    await within(10_000, async () => {
      const top = await analytics.getTopLinks({
        caller: guest,
        window: TopLinksWindow.TOP_LINKS_WINDOW_1H,
        limit: 10,
        scope: TopLinksScope.TOP_LINKS_SCOPE_CALLER,
      });
      const counted = top.links.reduce((sum, link) => sum + Number(link.visits), 0);
      return counted === CLICKS;
    });
  });
});
