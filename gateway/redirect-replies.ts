// The answers of the redirect path, written straight to node:http. A failed
// redirect answers the problem the link service's error stands for, through
// the same kind→status table as every other answer (problems.ts); each
// distinct problem is encoded once and reused, so no answer costs JSON work.
import type { ServerResponse } from 'node:http';
import { ResolveStatus } from '../gen/shortener/v1/link.ts';
import { DomainError, type ErrorKind } from '../lib/errors.ts';
import type { RedirectTally } from '../lib/metrics/metrics.ts';
import { runtimeErrors } from '../lib/runtime-errors.ts';
import { linkErrors } from '../services/link/errors.ts';
import { PROBLEM_TYPE, type ProblemBody, problemFromDomain } from './problems.ts';
import { traceHeaders } from './server-spans.ts';

/** Browsers must not cache the redirect: every click has to reach us. */
const NO_STORE = 'private, no-store, max-age=0';

/** A problem ready to write: its status, headers and encoded body. */
export interface EncodedProblem {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export function encodeProblem(problem: ProblemBody): EncodedProblem {
  const headers: Record<string, string> = {
    'content-type': PROBLEM_TYPE,
    'cache-control': NO_STORE,
  };
  if (problem.retryAfterSeconds !== undefined) {
    headers['retry-after'] = String(problem.retryAfterSeconds);
  }
  return { status: problem.status, headers, body: JSON.stringify(problem) };
}

// What the gateway answers in the link service's words without asking it: a
// path that cannot be a code. (A near-cache hit past its expiry asks link:
// use may have pushed the idle expiry out.)
const NOT_FOUND = encodeProblem(problemFromDomain(linkErrors.link_not_found()));

/** The kind each failed outcome of ResolveLinks stands for, as ResolveLink's status would say. */
const KIND_BY_STATUS: Partial<Record<ResolveStatus, ErrorKind>> = {
  [ResolveStatus.RESOLVE_STATUS_NOT_FOUND]: 'not_found',
  [ResolveStatus.RESOLVE_STATUS_EXPIRED]: 'expired',
  [ResolveStatus.RESOLVE_STATUS_UNAVAILABLE]: 'unavailable',
};

/** Problems per (status, code, message) a link service sent; a handful in practice, bounded anyway. */
const SENT = new Map<string, EncodedProblem>();
const MAX_SENT = 256;

/**
 * The answer to a ResolveLinks item that did not resolve: the error it names,
 * or, from a link service that names none, what its status alone says.
 */
export function problemForResult(
  status: ResolveStatus,
  errorCode: string,
  errorMessage: string,
): EncodedProblem {
  const key = `${status}\u0000${errorCode}\u0000${errorMessage}`;
  const known = SENT.get(key);
  if (known) return known;
  const kind = KIND_BY_STATUS[status] ?? 'unavailable';
  const error =
    errorCode === ''
      ? kind === 'not_found'
        ? linkErrors.link_not_found()
        : kind === 'expired'
          ? linkErrors.link_expired()
          : runtimeErrors.unavailable()
      : new DomainError(kind, errorMessage || errorCode, { code: errorCode });
  const encoded = encodeProblem(problemFromDomain(error));
  if (SENT.size < MAX_SENT) SENT.set(key, encoded);
  return encoded;
}

export function sendRedirect(response: ServerResponse, location: string): void {
  response
    .writeHead(
      302,
      traceHeaders(response, { location, 'cache-control': NO_STORE, 'content-length': '0' }),
    )
    .end();
}

export function sendEncoded(response: ServerResponse, problem: EncodedProblem): void {
  response.writeHead(problem.status, traceHeaders(response, problem.headers)).end(problem.body);
}

export function sendNotFound(response: ServerResponse): void {
  sendEncoded(response, NOT_FOUND);
}

/** Counts a redirect that was answered with a problem, by what it says. */
export function countProblem(tally: RedirectTally, problem: EncodedProblem): void {
  if (problem.status === 404) tally.notFound++;
  else if (problem.status === 410) tally.expired++;
  else tally.failed++;
}
