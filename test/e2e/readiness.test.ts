// /readyz says whether this gateway can serve redirects, and what of the rest
// works. Analytics is off the redirect path: its database gone, or the whole
// service gone, makes the gateway degraded (200, the cause named), never
// unready; only the link service not serving answers 503, and the body still
// names every dependency's state.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { dropDatabases } from '../support/databases.ts';
import { MYSQL_URL, uniqueName } from '../support/env.ts';
import { startFakeLinkService, startGatewayFor } from '../support/fake-link-service.ts';
import { call, newGuest, shorten } from '../support/http.ts';
import { startTestMesh, type TestMesh } from '../support/mesh.ts';
import { TcpRelay } from '../support/tcp-relay.ts';
import { within } from '../support/wait.ts';

const target = new URL(MYSQL_URL);
const relay = new TcpRelay(target.hostname, Number(target.port || 3306));
const database = uniqueName('ready_analytics');

async function readiness(url: string): Promise<{ status: number; body: string }> {
  const answer = await call(url, 'GET', '/readyz');
  return { status: answer.status, body: JSON.stringify(answer.body) };
}

describe('readiness with analytics failing', () => {
  let mesh: TestMesh | undefined;
  let code: string;
  let targetUrl: string;

  beforeAll(async () => {
    await relay.start();
    const url = new URL(MYSQL_URL);
    url.host = `127.0.0.1:${relay.port}`;
    mesh = await startTestMesh('mysql+redis', {
      ANALYTICS_DATABASE_URL: `${url.href.replace(/\/$/, '')}/${database}`,
    });
    const token = await newGuest(mesh.url);
    targetUrl = 'https://example.com/ready-without-analytics';
    code = (await shorten(mesh.url, token, targetUrl)).body.code;
  });
  afterAll(async () => {
    await relay.start().catch(() => {});
    await mesh?.stop();
    await relay.cut();
    await dropDatabases([database]);
  });

  test('when every dependency works, then 200 ready with each of them ok', async () => {
    const url = (mesh as TestMesh).url;
    const answer = await call(url, 'GET', '/readyz');
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      status: 'ready',
      checks: { link: 'ok', identity: 'ok', analytics: 'ok' },
    });
  });

  test("when analytics' database is unreachable, then 200 degraded naming it, and redirects go on", async () => {
    const url = (mesh as TestMesh).url;
    await relay.cut();
    try {
      await within(10_000, async () => {
        const { status, body } = await readiness(url);
        return (
          status === 200 &&
          body ===
            JSON.stringify({
              status: 'degraded',
              checks: { link: 'ok', identity: 'ok', analytics: 'database_unavailable' },
            })
        );
      });
      const redirect = await call(url, 'GET', `/${code}`);
      expect(redirect.status).toBe(302);
      expect(redirect.headers.get('location')).toBe(targetUrl);
    } finally {
      await relay.start();
    }
    await within(10_000, async () => (await readiness(url)).body.includes('"analytics":"ok"'));
  });

  test('when the analytics service is gone, then 200 degraded with analytics unavailable, and redirects go on; when link is gone too, then 503 naming both', async () => {
    const running = mesh as TestMesh;
    await running.mesh.analytics.stop();
    const degraded = await call(running.url, 'GET', '/readyz');
    expect(degraded.status).toBe(200);
    expect(degraded.body).toEqual({
      status: 'degraded',
      checks: { link: 'ok', identity: 'ok', analytics: 'unavailable' },
    });
    const redirect = await call(running.url, 'GET', `/${code}`);
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toBe(targetUrl);

    await running.mesh.link.stop();
    const unready = await call(running.url, 'GET', '/readyz');
    expect(unready.status).toBe(503);
    expect(unready.headers.get('content-type')).toContain('application/problem+json');
    expect(unready.body).toMatchObject({
      code: 'link_unavailable',
      checks: { link: 'unavailable', identity: 'ok', analytics: 'unavailable' },
    });
  });
});

describe('readiness with several link instances', () => {
  const LINK = 'shortener.v1.LinkService';

  test('when one of two link instances stops serving, then /readyz stays 200 with link ok; when both do, then 503', async () => {
    const first = await startFakeLinkService();
    const second = await startFakeLinkService();
    const gateway = await startGatewayFor(first, {
      LINK_GRPC_TARGET: `ipv4:${first.address},${second.address}`,
    });
    try {
      first.server.setHealth(LINK, false);
      // Asked many times: round robin takes the stopping instance every other time.
      for (let i = 0; i < 10; i++) {
        const answer = await call(gateway.url, 'GET', '/readyz');
        expect(answer.status).toBe(200);
        expect(answer.body).toMatchObject({ checks: { link: 'ok' } });
      }
      second.server.setHealth(LINK, false);
      const answer = await call(gateway.url, 'GET', '/readyz');
      expect(answer.status).toBe(503);
      expect(answer.body).toMatchObject({
        code: 'link_unavailable',
        checks: { link: 'unavailable' },
      });
    } finally {
      await gateway.stop();
      await first.server.shutdown(1_000);
      await second.server.shutdown(1_000);
    }
  });
});
