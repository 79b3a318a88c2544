// Short codes are random: `length` base62 characters from the CSPRNG, so one
// code says nothing about any other (no enumeration), and the database's unique
// index on code settles the rare collision (the caller retries with a new one).
// See docs/decisions/0002-short-codes.md.
import { randomBytes } from 'node:crypto';
import { isReserved } from '../../../lib/short-code-rules.ts';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
// 248 = 4 × 62: bytes at or above it are skipped so every character is equally likely.
const UNBIASED_LIMIT = 248;

export function randomCode(length: number): string {
  let code = '';
  while (code.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < UNBIASED_LIMIT) code += ALPHABET[byte % 62];
      if (code.length === length) break;
    }
  }
  return isReserved(code) ? randomCode(length) : code;
}
