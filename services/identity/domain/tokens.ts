// Bearer tokens: 32 random bytes behind a recognisable prefix. Only their
// SHA-256 is stored; a high-entropy secret needs no slow hash, and a leaked
// table yields no usable token.
import { createHash, randomBytes } from 'node:crypto';

const PREFIX = 'smt_';
const SHAPE = /^smt_[A-Za-z0-9_-]{43}$/;

export function newToken(): string {
  return PREFIX + randomBytes(32).toString('base64url');
}

/** False for anything that cannot be a token we issued, before any lookup. */
export function looksLikeToken(token: string): boolean {
  return SHAPE.test(token);
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
