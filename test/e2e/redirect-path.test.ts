// What the redirect path hands the link service: one ResolveLinks call for
// many concurrent redirects, each item carrying the client's details (the
// address behind exactly the configured number of trusted proxies), HEAD
// marked as such, and a code with a query string served like any other.
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RunningGateway } from '../../gateway/main.ts';
import { ResolveStatus } from '../../gen/shortener/v1/link.ts';
import {
  type FakeLinkService,
  found,
  notFound,
  startFakeLinkService,
  startGatewayFor,
} from '../support/fake-link-service.ts';
import { call } from '../support/http.ts';
import { expectProblem } from '../support/problems.ts';

/**
 * A link service that records every ResolveLinks call and resolves every code
 * to /<code>, but for `gone404` (unknown) and `dbDown1` (its database read failed).
 */
const recordingLinkService = (delayMs: number) =>
  startFakeLinkService({
    delayMs,
    resolve: (item) =>
      item.code === 'gone404'
        ? notFound()
        : item.code === 'dbDown1'
          ? {
              status: ResolveStatus.RESOLVE_STATUS_UNAVAILABLE,
              linkId: '0',
              ownerId: '0',
              targetUrl: '',
              errorCode: 'database_unavailable',
              errorMessage: 'database is unreachable',
              visitsLimited: false,
            }
          : found(`https://example.com/${item.code}`),
  });

describe.each([0, 1])('the redirect path with %i trusted proxies', (trustedProxies) => {
  let link: FakeLinkService;
  let gateway: RunningGateway;

  beforeAll(async () => {
    link = await recordingLinkService(50);
    gateway = await startGatewayFor(link, {
      NEAR_CACHE_SIZE: '0',
      TRUSTED_PROXIES: String(trustedProxies),
    });
  });
  afterAll(async () => {
    await gateway?.stop();
    await link?.server.shutdown(1_000);
  });

  test('when a browser follows a link, then the link service gets its address, agent, referer, language and trace context', async () => {
    link.calls.length = 0;
    const headers = {
      'user-agent': 'Mozilla/5.0 (test)',
      referer: 'https://news.example/article',
      'accept-language': 'nl-NL,nl;q=0.9',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      tracestate: 'vendor=value',
      'x-forwarded-for': '203.0.113.9, 198.51.100.7',
    };
    const answer = await call(gateway.url, 'GET', '/Ab3dEf9', { headers });
    expect(answer.status).toBe(302);
    expect(answer.headers.get('location')).toBe('https://example.com/Ab3dEf9');
    const item = link.calls.flat().find((i) => i.code === 'Ab3dEf9');
    // Behind one trusted proxy the client is the last address that proxy saw;
    // with none, X-Forwarded-For is ignored and the socket's address counts.
    expect(item?.client).toEqual({
      ip: trustedProxies === 1 ? '198.51.100.7' : '127.0.0.1',
      userAgent: 'Mozilla/5.0 (test)',
      referer: 'https://news.example/article',
      acceptLanguage: 'nl-NL,nl;q=0.9',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      tracestate: 'vendor=value',
    });
    expect(item?.head).toBe(false);
  });

  test('when a link is checked with HEAD, then it redirects and the item says HEAD', async () => {
    link.calls.length = 0;
    const answer = await call(gateway.url, 'HEAD', '/HeadOnly');
    expect(answer.status).toBe(302);
    expect(link.calls.flat().find((i) => i.code === 'HeadOnly')?.head).toBe(true);
  });

  test('when the link service cannot resolve one code now, then that redirect alone answers 503 with Retry-After and the cause the service gave', async () => {
    const [down, fine] = await Promise.all([
      call(gateway.url, 'GET', '/dbDown1'),
      call(gateway.url, 'GET', '/FineOne'),
    ]);
    // The service's cause, not a code the gateway makes up in its place.
    expectProblem(down, 503, { code: 'database_unavailable' });
    expect(down.body.detail).toBe('database is unreachable');
    expect(down.headers.get('retry-after')).toBe('1');
    expect(fine.status).toBe(302);
  });

  test('when a service behind the gateway is unreachable, then the answer is 503 and names no internal address', async () => {
    // identity is configured on a port where nothing listens.
    const answer = await call(gateway.url, 'POST', '/api/v1/guests');
    expectProblem(answer, 503);
    expect(answer.body.detail).toBe('a service this request needs is unreachable');
    expect(JSON.stringify(answer.body)).not.toMatch(/\d+\.\d+\.\d+\.\d+|ECONNREFUSED|localhost/);
  });

  test('when a short link carries a query string, then it redirects the same', async () => {
    const answer = await call(gateway.url, 'GET', '/WithQry?utm_source=mail');
    expect(answer.status).toBe(302);
    expect(answer.headers.get('location')).toBe('https://example.com/WithQry');
  });

  test('when 100 redirects arrive in the same turn, then one ResolveLinks call carries them all, each answered on its own', async () => {
    const codes = Array.from({ length: 100 }, (_, i) =>
      i === 50 ? 'gone404' : `Code${String(i).padStart(3, '0')}`,
    );
    const { port } = new URL(gateway.url);
    const sockets = await Promise.all(
      codes.map(
        () =>
          new Promise<Socket>((resolve, reject) => {
            const socket = connect(Number(port), '127.0.0.1', () => resolve(socket));
            socket.on('error', reject);
          }),
      ),
    );
    /** Writes one request on every socket in one synchronous loop; resolves with each response head. */
    const round = (paths: string[]) => {
      const heads = sockets.map(
        (socket) =>
          new Promise<string>((resolve) => {
            let text = '';
            const onData = (chunk: Buffer) => {
              text += chunk.toString();
              if (!text.includes('\r\n\r\n')) return;
              socket.off('data', onData);
              resolve(text);
            };
            socket.on('data', onData);
          }),
      );
      sockets.forEach((socket, i) => {
        socket.write(`GET /${paths[i]} HTTP/1.1\r\nHost: test\r\n\r\n`);
      });
      return Promise.all(heads);
    };
    try {
      // Warm every keep-alive connection first, as a browser's or a load
      // balancer's would be; then all 100 redirects arrive in one turn.
      await round(codes.map(() => 'Warm000'));
      link.calls.length = 0;
      const heads = await round(codes);
      heads.forEach((head, i) => {
        if (codes[i] === 'gone404') expect(head).toMatch(/^HTTP\/1\.1 404/);
        else expect(head).toContain(`location: https://example.com/${codes[i]}\r\n`);
      });
      expect(
        link.calls
          .flat()
          .map((item) => item.code)
          .sort(),
      ).toEqual([...codes].sort());
      expect(link.calls.length).toBeLessThanOrEqual(2);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });
});
