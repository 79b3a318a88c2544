// The expiry rules and the extend token, as pure functions of a link and a
// time: idle since last use (or creation), an explicit date, or used-up
// visits, whichever first; an extension moves what applies by exactly its
// amount; a token verifies only as signed, for its link and period.
import { describe, expect, test } from 'vitest';
import {
  type ExpiryFacts,
  effectiveExpiry,
  extendedTo,
  isExpired,
} from '../../services/link/domain/expiry.ts';
import { ExtendTokens } from '../../services/link/domain/extend-token.ts';
import { DAY } from '../support/clock.ts';

const IDLE = 180 * DAY;
const T0 = Date.UTC(2027, 0, 1);
const facts = (overrides: Partial<ExpiryFacts> = {}): ExpiryFacts => ({
  createdAt: new Date(T0),
  expiresAt: null,
  lastAccessedAt: null,
  extendedTo: null,
  exhaustedAt: null,
  ...overrides,
});

describe('when a link expires', () => {
  test('when it was never followed, then the idle period counts from its creation', () => {
    expect(effectiveExpiry(facts(), IDLE)).toBe(T0 + IDLE);
    expect(isExpired(facts(), IDLE, T0 + IDLE - 1)).toBe(false);
    expect(isExpired(facts(), IDLE, T0 + IDLE)).toBe(true);
  });

  test('when it was followed, then from its last access', () => {
    const used = facts({ lastAccessedAt: new Date(T0 + 100 * DAY) });
    expect(effectiveExpiry(used, IDLE)).toBe(T0 + 280 * DAY);
  });

  test('when it has an explicit date, then whichever comes first applies', () => {
    expect(effectiveExpiry(facts({ expiresAt: new Date(T0 + DAY) }), IDLE)).toBe(T0 + DAY);
    expect(effectiveExpiry(facts({ expiresAt: new Date(T0 + 999 * DAY) }), IDLE)).toBe(T0 + IDLE);
  });

  test('when its visits ran out, then at that moment', () => {
    expect(effectiveExpiry(facts({ exhaustedAt: new Date(T0 + 5) }), IDLE)).toBe(T0 + 5);
  });

  test('when it is extended, then the expiry that applies moves by exactly the amount, idle or dated', () => {
    const idle = facts({ lastAccessedAt: new Date(T0) });
    const idleChange = extendedTo(idle, T0 + IDLE + 30 * DAY);
    expect(effectiveExpiry({ ...idle, ...idleChange }, IDLE)).toBe(T0 + IDLE + 30 * DAY);
    expect(idleChange.expiresAt).toBeNull();

    const dated = facts({ expiresAt: new Date(T0 + 10 * DAY) });
    const datedChange = extendedTo(dated, T0 + 40 * DAY);
    expect(effectiveExpiry({ ...dated, ...datedChange }, IDLE)).toBe(T0 + 40 * DAY);
    // A later use still pushes the idle expiry beyond an extension.
    const usedLater = { ...idle, ...idleChange, lastAccessedAt: new Date(T0 + 100 * DAY) };
    expect(effectiveExpiry(usedLater, IDLE)).toBe(T0 + 280 * DAY);
  });
});

describe('the extend token', () => {
  const tokens = new ExtendTokens('one secret of at least thirty-two characters!!');
  const grant = { linkId: '123456789012345678', expiresAt: T0 + IDLE };

  test('when a signed token comes back as it was, then it names its link and period', () => {
    expect(tokens.verify(tokens.sign(grant))).toEqual(grant);
  });

  test('when a token is altered, cut, signed with another secret or is not one at all, then invalid_extend_token', () => {
    const token = tokens.sign(grant);
    const otherLink = token.replace(grant.linkId, '123456789012345679');
    const laterPeriod = token.replace(String(grant.expiresAt), String(grant.expiresAt + DAY));
    const foreign = new ExtendTokens('another secret, also thirty-two characters long').sign(grant);
    for (const bad of [
      otherLink,
      laterPeriod,
      foreign,
      token.slice(0, -1),
      '',
      'a.b.c',
      `${token}x`,
    ]) {
      expect(() => tokens.verify(bad), bad).toThrow(
        expect.objectContaining({ code: 'invalid_extend_token', kind: 'invalid' }),
      );
    }
  });

  test('when a signature differs only in the unused bits of its last character, then it is refused too', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (let period = 0; period < 8; period++) {
      const token = tokens.sign({ ...grant, expiresAt: grant.expiresAt + period });
      const last = alphabet.indexOf(token.slice(-1));
      // The same four significant bits, other unused ones: the same bytes once decoded.
      const variants = [0, 1, 2, 3]
        .map((low) => alphabet[(last & ~3) | low] as string)
        .filter((c) => c !== token.slice(-1))
        .map((c) => token.slice(0, -1) + c);
      expect(variants).toHaveLength(3);
      for (const variant of variants) {
        expect(() => tokens.verify(variant), variant).toThrow(
          expect.objectContaining({ code: 'invalid_extend_token' }),
        );
      }
      expect(tokens.verify(token).expiresAt).toBe(grant.expiresAt + period);
    }
  });
});
