// Every answer of the gateway has the documented shape, also for requests that
// never reach a route: malformed percent encoding, an over-long URI, a missing
// Host header, a request that never finishes, a method a path does not serve.
// Each is an RFC 9457 problem, and none of them changes anything.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startGateway } from '../../gateway/main.ts';
import { loadMeshConfig } from '../../mesh.ts';
import { call, newGuest, shorten } from '../support/http.ts';
import { inProcessInfrastructure } from '../support/infrastructure.ts';
import { testLog } from '../support/logger.ts';
import { MESH_FLAVOURS, startTestMesh, type TestMesh } from '../support/mesh.ts';
import { exchange, openSocket, parseAnswer, type RawAnswer } from '../support/raw-http.ts';

interface Shape {
  status: number;
  headers: { get(name: string): string | null };
  body: unknown;
}

function expectProblem(answer: Shape, status: number, code: string): void {
  expect(answer.status).toBe(status);
  expect(answer.headers.get('content-type')).toContain('application/problem+json');
  const body = answer.body as Record<string, unknown>;
  expect(body.status).toBe(status);
  expect(body.code).toBe(code);
  expect(body.type).toBe(`/problems/${code}`);
  expect(typeof body.title).toBe('string');
  expect(String(body.title).length).toBeGreaterThan(0);
  expect(typeof body.detail).toBe('string');
}

const raw = (answer: RawAnswer): Shape => ({
  status: answer.status,
  headers: { get: (name) => answer.headers[name.toLowerCase()] ?? null },
  body: answer.json,
});

describe.each(MESH_FLAVOURS)('answers at the HTTP edge (%s)', (flavour) => {
  let mesh: TestMesh;
  let token: string;
  let known: { code: string; targetUrl: string };

  /** The mesh still serves: the known link redirects and the caller's list is as it was. */
  const expectStillServing = async () => {
    const redirect = await call(mesh.url, 'GET', `/${known.code}`);
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toBe(known.targetUrl);
    const list = await call(mesh.url, 'GET', '/api/v1/links', { token });
    expect(list.status).toBe(200);
    expect(list.body.links.map((link: { code: string }) => link.code)).toEqual([known.code]);
  };

  beforeAll(async () => {
    mesh = await startTestMesh(flavour, { GATEWAY_REQUEST_TIMEOUT: '1s' });
    token = await newGuest(mesh.url);
    const made = await shorten(mesh.url, token, 'https://example.com/edge/known');
    expect(made.status).toBe(201);
    known = { code: made.body.code, targetUrl: made.body.targetUrl };
  });
  afterAll(() => mesh?.stop());

  test.each([
    ['a code', '/%zz'],
    ['a link code of the API', '/api/v1/links/%E0%A4%A'],
  ])(
    'when a path holds malformed percent encoding in %s, then 400 malformed_url',
    async (_where, path) => {
      const answer = await call(mesh.url, 'GET', path, { token });
      expectProblem(answer, 400, 'malformed_url');
      await expectStillServing();
    },
  );

  test('when the URI is longer than 8192 bytes, then 414 uri_too_long, on the redirect path too', async () => {
    for (const path of [`/${'a'.repeat(9_000)}`, `/api/v1/links?pageToken=${'a'.repeat(9_000)}`]) {
      const answer = await call(mesh.url, 'GET', path, { token });
      expectProblem(answer, 414, 'uri_too_long');
    }
    await expectStillServing();
  });

  test('when the request line alone overflows the header limit, then 414 uri_too_long, not 431', async () => {
    const text = await exchange(mesh.url, `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    const answer = parseAnswer(text);
    expectProblem(raw(answer), 414, 'uri_too_long');
    expect(answer.headers.connection).toBe('close');
    await expectStillServing();
  });

  test.each([
    ['a redirect', () => `/${known.code}`],
    ['an API route', () => '/api/v1/links'],
  ])(
    'when an HTTP/1.1 request for %s has no Host header, then 400 missing_host and no redirect',
    async (_what, path) => {
      const text = await exchange(mesh.url, `GET ${path()} HTTP/1.1\r\nConnection: close\r\n\r\n`);
      const answer = parseAnswer(text);
      expectProblem(raw(answer), 400, 'missing_host');
      expect(answer.headers.location).toBeUndefined();
      await expectStillServing();
    },
  );

  test('when an HTTP/1.0 request has no Host header, then it is served: 1.0 has none to send', async () => {
    const text = await exchange(mesh.url, `GET /${known.code} HTTP/1.0\r\n\r\n`);
    const answer = parseAnswer(text);
    expect(answer.status).toBe(302);
    expect(answer.headers.location).toBe(known.targetUrl);
  });

  test.each([
    ['its head', 'GET /healthz HTTP/1.1\r\nHost: x\r\n'],
    [
      'its body',
      // Authenticated: a request without a token is answered 401 before its body is read.
      'POST /api/v1/links HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer <token>\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"targetUrl":',
    ],
  ])(
    'when a client never finishes %s, then 408 request_timeout and the connection is closed',
    async (_part, request) => {
      const text = await exchange(mesh.url, request.replace('<token>', token), 10_000);
      const answer = parseAnswer(text);
      expectProblem(raw(answer), 408, 'request_timeout');
      expect(answer.headers.connection).toBe('close');
      await expectStillServing();
    },
  );

  test.each([
    ['PUT', '/api/v1/links', 'GET, HEAD, POST'],
    ['PATCH', '/api/v1/links/abc1234', 'DELETE, GET, HEAD'],
    ['DELETE', '/healthz', 'GET, HEAD'],
    ['POST', '/abc1234', 'GET, HEAD'],
    ['GET', '/api/v1/guests', 'POST'],
    ['GET', '/api/v1/sessions/current', 'DELETE'],
  ])(
    'when %s %s is asked, then 405 method_not_allowed with Allow: %s',
    async (method, path, allow) => {
      const answer = await call(
        mesh.url,
        method,
        path,
        method === 'GET' ? { token } : { token, json: {} },
      );
      expectProblem(answer, 405, 'method_not_allowed');
      expect(answer.headers.get('allow')).toBe(allow);
      await expectStillServing();
    },
  );

  test('when a path no route knows is asked, then still 404 not_found', async () => {
    const answer = await call(mesh.url, 'PUT', '/api/v2/links/x', { token, json: {} });
    expectProblem(answer, 404, 'not_found');
    expect(answer.headers.get('allow')).toBeNull();
  });
});

describe('answers while the gateway drains (embedded)', () => {
  let mesh: TestMesh;
  beforeAll(async () => {
    mesh = await startTestMesh('embedded');
  });
  afterAll(() => mesh?.stop());

  test('when a request finishes arriving after the gateway began to stop, then 503 shutting_down and the connection closes', async () => {
    const config = loadMeshConfig({
      GATEWAY_LISTEN: '127.0.0.1:0',
      LINK_GRPC_TARGET: mesh.mesh.link.address,
      IDENTITY_GRPC_TARGET: mesh.mesh.identity.address,
      LOG_LEVEL: 'error',
    });
    const gateway = await startGateway(
      config.gateway,
      config,
      testLog,
      inProcessInfrastructure(config),
    );
    const socket = await openSocket(gateway.url);
    const received = new Promise<string>((resolve) => {
      let text = '';
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => {
        text += chunk;
      });
      socket.on('close', () => resolve(text));
    });
    // Half a request: the connection is busy, so stopping does not cut it.
    socket.write('GET /api/v1/openapi.json HTTP/1.1\r\nHost: x\r\n');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const stopping = gateway.stop(5_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.write('\r\n');
    const answer = parseAnswer(await received);
    expectProblem(raw(answer), 503, 'shutting_down');
    expect(answer.headers.connection).toBe('close');
    await stopping;
  });
});
