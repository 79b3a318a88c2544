// The one-click extend link of an expiry notice: a token anyone holding it
// may use without logging in, so it is signed (HMAC-SHA256 with the
// LINK_EXTEND_TOKEN_SECRET), single-purpose (the purpose is signed with it:
// no other token of ours verifies as this), and good only for the expiry
// period it was issued for: it names the link and the expiry the notice was
// about, and stops working when that expiry passes or moves (the link was
// extended, by this token or otherwise, or used).
//
// `<link id>.<expiry ms>.<signature>`: nothing secret is in it, and nothing
// in it is trusted before the signature is checked.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { isSnowflake } from '../../../lib/ids/snowflake.ts';
import { linkErrors } from '../errors.ts';

const PURPOSE = 'shortener.link.extend.v1';

export interface ExtendGrant {
  linkId: string;
  /** The expiry (ms since the epoch) the token was issued for; it is also when the token expires. */
  expiresAt: number;
}

export class ExtendTokens {
  readonly #secret: Buffer;

  /** Without a secret, a random one: tokens then verify only in this process, until it stops. */
  constructor(secret: string | null) {
    this.#secret = secret ? Buffer.from(secret, 'utf8') : randomBytes(32);
  }

  sign(grant: ExtendGrant): string {
    const body = `${grant.linkId}.${grant.expiresAt}`;
    return `${body}.${this.#mac(body).toString('base64url')}`;
  }

  /** The grant a token carries; `invalid_extend_token` if malformed or not signed by us. */
  verify(token: string): ExtendGrant {
    const match = /^(\d{1,20})\.(\d{1,16})\.([A-Za-z0-9_-]{43})$/.exec(token);
    if (!match) throw linkErrors.invalid_extend_token();
    const [, linkId, expiry, signature] = match as unknown as [string, string, string, string];
    const body = `${linkId}.${expiry}`;
    const given = Buffer.from(signature, 'base64url');
    // 43 characters carry 258 bits for the MAC's 256: a token whose last
    // character differs only in the two unused bits decodes the same. Only
    // the one spelling we issue is accepted.
    if (given.toString('base64url') !== signature) throw linkErrors.invalid_extend_token();
    const expected = this.#mac(body);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw linkErrors.invalid_extend_token();
    }
    if (!isSnowflake(linkId)) throw linkErrors.invalid_extend_token();
    return { linkId, expiresAt: Number(expiry) };
  }

  #mac(body: string): Buffer {
    return createHmac('sha256', this.#secret).update(`${PURPOSE}\n${body}`).digest();
  }
}
