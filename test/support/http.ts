// A small HTTP client for stories told against the gateway.

export interface Answer {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies are checked field by field in the tests
  body: any;
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
    body: type.includes('json') && text ? JSON.parse(text) : text,
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

/** Polls until `check` holds, returning how long it took; throws after timeoutMs. */
export async function within(timeoutMs: number, check: () => Promise<boolean>): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await check()) return performance.now() - start;
    if (performance.now() - start > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
