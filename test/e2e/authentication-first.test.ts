// Authentication comes before everything else a route checks: a request to a
// route that needs a caller, sent without a valid token, is answered 401
// whatever its body, query or path hold — it never learns the route's rules,
// and nothing is parsed for it. Every such route is found in the OpenAPI
// document, so a route added later is held to the same rule.
import { beforeAll, describe, expect, test } from 'vitest';
import { call } from '../support/http.ts';
import { MESH_FLAVOURS, meshForSuite } from '../support/mesh.ts';
import { expectProblem } from '../support/problems.ts';

/** A token of the issued shape (smt_ + 43 base64url characters) that was never issued. */
const FORGED_TOKEN = `smt_${'A'.repeat(20)}${'b'.repeat(20)}_-9`;

interface Operation {
  method: string;
  path: string;
}

const BAD_QUERY = '?pageSize=many&pageToken=%21%21&window=forever&from=yesterday&bogus=1';

/** What is wrong with the request besides its token; each would be a 400 or a 415 for a caller. */
const BAD_PARTS: { story: string; body?: string; headers?: Record<string, string> }[] = [
  {
    story: 'a body that breaks the schema',
    body: JSON.stringify({ targetUrl: 5, alias: '', unexpected: true }),
    headers: { 'content-type': 'application/json' },
  },
  {
    story: 'malformed JSON',
    body: '{"targetUrl": "https://example.com/",',
    headers: { 'content-type': 'application/json' },
  },
  {
    story: 'a text/plain body',
    body: 'https://example.com/plain',
    headers: { 'content-type': 'text/plain' },
  },
];

const hasBody = (method: string) => ['POST', 'PUT', 'PATCH'].includes(method);

describe.each(MESH_FLAVOURS)('authentication before validation (%s)', (flavour) => {
  const mesh = meshForSuite(flavour);
  let operations: Operation[];

  beforeAll(async () => {
    const document = await call(mesh.url, 'GET', '/api/v1/openapi.json');
    expect(document.status).toBe(200);
    operations = Object.entries(document.body.paths).flatMap(([path, methods]) =>
      Object.entries(methods)
        .filter(([, operation]) => {
          const security = (operation as { security?: Record<string, unknown>[] }).security;
          return !!security?.length && security.every((requirement) => 'bearer' in requirement);
        })
        .map(([method]) => ({
          method: method.toUpperCase(),
          // A path parameter that no route would accept either.
          path: path.replace(/\{[^}]+\}/g, '!!not~a~code!!'),
        })),
    );
  });

  test('the routes that need a caller are found, shortening among them', () => {
    expect(operations).toContainEqual({ method: 'POST', path: '/api/v1/links' });
    expect(operations).toContainEqual({ method: 'GET', path: '/api/v1/links' });
    expect(operations.length).toBeGreaterThanOrEqual(6);
  });

  test.each(BAD_PARTS)(
    'when a request without a token carries $story, then every route that needs a caller answers 401 missing_token',
    async ({ body, headers }) => {
      for (const { method, path } of operations) {
        const answer = await call(mesh.url, method, path + BAD_QUERY, {
          ...(hasBody(method) ? { body, headers } : {}),
        });
        expectProblem(answer, 401, { code: 'missing_token', label: `${method} ${path}` });
      }
    },
  );

  test.each(BAD_PARTS)(
    'when a request with a forged token carries $story, then every route that needs a caller answers 401 invalid_token',
    async ({ body, headers }) => {
      for (const { method, path } of operations) {
        const answer = await call(mesh.url, method, path + BAD_QUERY, {
          token: FORGED_TOKEN,
          ...(hasBody(method) ? { body, headers } : {}),
        });
        expectProblem(answer, 401, { code: 'invalid_token', label: `${method} ${path}` });
      }
    },
  );

  test('when an unauthenticated POST /api/v1/links asks for a bad alias, then 401, not 400', async () => {
    const answer = await call(mesh.url, 'POST', '/api/v1/links', {
      json: { targetUrl: 'https://example.com/anon', alias: 'x' },
    });
    expectProblem(answer, 401, { code: 'missing_token' });
  });
});
