// The three answers of the redirect path, with their bodies built once.
import type { FastifyReply } from 'fastify';
import { PROBLEM_TYPE, problem } from './problems.ts';

/** Browsers must not cache the redirect: every click has to reach us. */
const NO_STORE = 'private, no-store, max-age=0';

const NOT_FOUND = JSON.stringify(problem(404, 'link_not_found', 'no link has this code'));
const EXPIRED = JSON.stringify(problem(410, 'link_expired', 'this link has expired'));

export function sendRedirect(reply: FastifyReply, location: string): void {
  reply.code(302).headers({ location, 'cache-control': NO_STORE }).send();
}

export function sendNotFound(reply: FastifyReply): void {
  reply
    .code(404)
    .headers({ 'content-type': PROBLEM_TYPE, 'cache-control': NO_STORE })
    .send(NOT_FOUND);
}

export function sendExpired(reply: FastifyReply): void {
  reply
    .code(410)
    .headers({ 'content-type': PROBLEM_TYPE, 'cache-control': NO_STORE })
    .send(EXPIRED);
}
