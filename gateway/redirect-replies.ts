// The answers of the redirect path, written straight to node:http with their
// bodies built once.
import type { ServerResponse } from 'node:http';
import { PROBLEM_TYPE, type ProblemBody, problem } from './problems.ts';

/** Browsers must not cache the redirect: every click has to reach us. */
const NO_STORE = 'private, no-store, max-age=0';

const NOT_FOUND = JSON.stringify(problem(404, 'link_not_found', 'no link has this code'));
const EXPIRED = JSON.stringify(problem(410, 'link_expired', 'this link has expired'));
const UNAVAILABLE = JSON.stringify({
  ...problem(503, 'link_unavailable', 'this link cannot be resolved right now; retry shortly'),
  retryAfterSeconds: 1,
});

export function sendRedirect(response: ServerResponse, location: string): void {
  response.writeHead(302, { location, 'cache-control': NO_STORE, 'content-length': '0' }).end();
}

export function sendNotFound(response: ServerResponse): void {
  response
    .writeHead(404, { 'content-type': PROBLEM_TYPE, 'cache-control': NO_STORE })
    .end(NOT_FOUND);
}

export function sendExpired(response: ServerResponse): void {
  response.writeHead(410, { 'content-type': PROBLEM_TYPE, 'cache-control': NO_STORE }).end(EXPIRED);
}

export function sendUnavailable(response: ServerResponse): void {
  response
    .writeHead(503, { 'content-type': PROBLEM_TYPE, 'cache-control': NO_STORE, 'retry-after': '1' })
    .end(UNAVAILABLE);
}

export function sendRawProblem(response: ServerResponse, body: ProblemBody): void {
  const headers: Record<string, string> = {
    'content-type': PROBLEM_TYPE,
    'cache-control': NO_STORE,
  };
  if (body.retryAfterSeconds !== undefined) headers['retry-after'] = String(body.retryAfterSeconds);
  response.writeHead(body.status, headers).end(JSON.stringify(body));
}
