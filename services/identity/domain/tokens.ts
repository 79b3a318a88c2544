// Bearer tokens and the other secrets identity hands out: 32 random bytes
// behind a prefix that says what they are (a session, an API key, a password
// reset or an email verification). Only their SHA-256 is stored; a
// high-entropy secret needs no slow hash, and a leaked table yields no usable
// token.
import { hash, randomBytes } from 'node:crypto';

export const TOKEN_KINDS = {
  /** A session: what guests are issued and members get at sign-up and login. */
  session: 'smt_',
  /** A member's named API key: authenticates like a session until revoked. */
  apiKey: 'smk_',
  passwordReset: 'smr_',
  emailVerification: 'smv_',
} as const;

export type TokenKind = keyof typeof TOKEN_KINDS;

const BODY = /^[A-Za-z0-9_-]{43}$/;

export function newToken(kind: TokenKind = 'session'): string {
  return TOKEN_KINDS[kind] + randomBytes(32).toString('base64url');
}

/** False for anything that cannot be a token of this kind we issued, before any lookup. */
export function looksLikeToken(token: string, kind: TokenKind = 'session'): boolean {
  return token.startsWith(TOKEN_KINDS[kind]) && BODY.test(token.slice(4));
}

export function tokenHash(token: string): string {
  return hash('sha256', token);
}
