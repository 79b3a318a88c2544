// A small HTTP client for stories told against the gateway.
import { expect } from 'vitest';

/**
 * Every field any of our JSON answers has (problem details, links, pages of
 * links, guests, the OpenAPI document): a test reads the ones its answer
 * should have and checks their values.
 */
export interface ApiBody {
  // problem details
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  field: string;
  retryAfterSeconds: number;
  // a link
  id: string;
  shortUrl: string;
  targetUrl: string;
  ownerId: string;
  createdAt: string;
  expiresAt: string | null;
  explicitExpiresAt: string | null;
  maxVisits: number | null;
  visitsLeft: number | null;
  lastAccessedAt: string | null;
  // a page of links
  links: ApiBody[];
  nextPageToken: string | null;
  // a guest, a member, a session
  kind: string;
  token: string;
  tokenExpiresAt: string;
  email: string | null;
  emailVerified: boolean;
  // API keys
  name: string;
  key: string;
  lastUsedAt: string | null;
  apiKeys: ApiBody[];
  // the OpenAPI document
  openapi: string;
  paths: Record<string, Record<string, unknown>>;
  components: Record<string, Record<string, unknown>>;
}

export interface Answer {
  status: number;
  headers: Headers;
  /** The parsed JSON body, or the text of any other body. */
  body: ApiBody;
}

export async function call(
  base: string,
  method: string,
  path: string,
  options: { token?: string; json?: unknown; body?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined = options.body;
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.json);
  }
  const response = await fetch(base + path, { method, headers, body, redirect: 'manual' });
  const text = await response.text();
  const type = response.headers.get('content-type') ?? '';
  return {
    status: response.status,
    headers: response.headers,
    body: (type.includes('json') && text ? JSON.parse(text) : text) as ApiBody,
  };
}

export async function newGuest(
  base: string,
  headers: Record<string, string> = {},
): Promise<string> {
  const answer = await call(base, 'POST', '/api/v1/guests', { headers });
  if (answer.status !== 201)
    throw new Error(`guest not issued: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body.token as string;
}

export async function shorten(base: string, token: string, targetUrl: string, extra: object = {}) {
  return call(base, 'POST', '/api/v1/links', { token, json: { targetUrl, ...extra } });
}

/** The first 100 links the token's owner has, newest first. */
export async function linksOf(base: string, token: string): Promise<ApiBody[]> {
  const answer = await call(base, 'GET', '/api/v1/links?pageSize=100', { token });
  expect(answer.status).toBe(200);
  return answer.body.links;
}
