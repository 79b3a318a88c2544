// Every click counted: redirects answered from the gateway's near cache and
// through ResolveLinks alike go out on the bus in batches, and the analytics
// service's visit recorder and ranking counter each count every one exactly
// once — on RabbitMQ with MariaDB and Redis, and on the embedded default.
// HEAD requests and unknown codes are not clicks.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  AnalyticsServiceClient,
  AnalyticsServiceService,
} from '../../gen/shortener/v1/analytics.ts';
import { connect, promiseClient } from '../../lib/grpc/client.ts';
import {
  type ClickedLinks,
  clickedLinks,
  perCode,
  redirects,
  visitCounter,
} from '../support/clicks.ts';
import { call } from '../support/http.ts';
import { MESH_FLAVOURS, meshForSuite } from '../support/mesh.ts';
import { within } from '../support/wait.ts';

const CLICKS = 1_000;
const HEADERS = {
  'user-agent':
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
  referer: 'https://news.example/article',
  'accept-language': 'de-CH,de;q=0.9',
};

describe.each(MESH_FLAVOURS)('the click pipeline (%s)', (flavour) => {
  const mesh = meshForSuite(flavour);
  let links: ClickedLinks;
  let counter: ReturnType<typeof visitCounter>;
  let analytics: ReturnType<typeof promiseClient<typeof AnalyticsServiceService>>;
  let channel: AnalyticsServiceClient;

  beforeAll(async () => {
    links = await clickedLinks(mesh.url);
    counter = visitCounter(mesh.mesh.analytics.address, links.guest);
    channel = connect(AnalyticsServiceClient, mesh.mesh.analytics.address, 5_000);
    analytics = promiseClient(channel, AnalyticsServiceService);
  });
  afterAll(() => {
    channel?.close();
    counter?.close();
  });

  test(`when ${CLICKS} redirects are answered, then exactly ${CLICKS} visits are stored with the client's details and the ranking counts ${CLICKS}`, async () => {
    const { guest, codes } = links;
    const statuses = await redirects(mesh.url, codes, CLICKS, 50, () => {}, HEADERS);
    expect(statuses).toEqual(Array(CLICKS).fill(302));
    // Not clicks: HEAD, and codes nobody has.
    for (const code of codes) expect((await call(mesh.url, 'HEAD', `/${code}`)).status).toBe(302);
    expect((await call(mesh.url, 'GET', '/NoSuch1')).status).toBe(404);

    const expected = perCode(codes, CLICKS);
    await within(30_000, async () =>
      (await counter.totals(codes)).every((total, i) => total === expected[i]),
    );
    // And no more arrive: each click was recorded once.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await counter.totals(codes)).toEqual(expected);

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

    await within(10_000, async () => (await counter.ranked()) === CLICKS);
  });
});
