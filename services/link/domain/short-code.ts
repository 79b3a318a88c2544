// Short codes are random: `length` base62 characters from the CSPRNG, so one
// code says nothing about any other (no enumeration), and the database's unique
// index on code settles the rare collision (the caller retries with a new one).
// Members may choose an alias instead: a code like any other once stored.
// See docs/decisions/0002-short-codes.md.
import { randomFillSync } from 'node:crypto';
import { isReserved } from '../../../lib/short-code-rules.ts';
import { linkErrors } from '../errors.ts';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
// 248 = 4 × 62: bytes at or above it are skipped so every character is equally likely.
const UNBIASED_LIMIT = 248;

/**
 * CSPRNG bytes drawn a few kilobytes at a time, each used once: one call
 * into the generator per some hundreds of codes, not one per code.
 */
const POOL = Buffer.alloc(4096);
let used = POOL.length;

function randomByte(): number {
  if (used === POOL.length) {
    randomFillSync(POOL);
    used = 0;
  }
  return POOL[used++] as number;
}

export function randomCode(length: number): string {
  let code = '';
  while (code.length < length) {
    const byte = randomByte();
    if (byte < UNBIASED_LIMIT) code += ALPHABET[byte % 62];
  }
  return isReserved(code) ? randomCode(length) : code;
}

export const ALIAS_LENGTH = { min: 3, max: 32 } as const;
const ALIAS_PATTERN = new RegExp(`^[0-9A-Za-z_-]{${ALIAS_LENGTH.min},${ALIAS_LENGTH.max}}$`);

/** A chosen alias must look like a code and must not shadow a path of the gateway. */
export function checkAlias(alias: string): void {
  if (!ALIAS_PATTERN.test(alias)) throw linkErrors.invalid_alias(ALIAS_LENGTH);
  if (isReserved(alias)) throw linkErrors.alias_reserved();
}
