// Passwords: what may be one, and how it is kept. The rules are NIST SP
// 800-63B's: at least 8 characters, none of the commonest passwords (the
// list zxcvbn-ts ships), and a bound above (128) so that nobody pays to hash
// a megabyte. Passwords are compared in Unicode NFKC, so the same password
// typed on two keyboards is the same.
//
// Hashes are argon2id at OWASP's recommended cost (19 MiB of memory, 2
// passes, 1 lane), in PHC string form, which names its own parameters:
// raising the cost later leaves old hashes verifiable. argon2's verify
// compares in constant time. A login for an email nobody has is verified
// against a dummy hash of the same cost, so it takes as long as a wrong
// password and answers alike.
import { randomBytes } from 'node:crypto';
import { dictionary } from '@zxcvbn-ts/language-common';
import argon2 from 'argon2';
import { identityErrors } from '../errors.ts';

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 128;

export const ARGON2_COST = {
  type: argon2.argon2id,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

let common: Set<string> | undefined;

/** The commonest passwords, lower-cased, built on first use (about 50,000 of them). */
function commonPasswords(): Set<string> {
  common ??= new Set(dictionary['passwords-common'].map((word) => word.toLowerCase()));
  return common;
}

function canonical(password: string): string {
  return password.normalize('NFKC');
}

/** Throws the rule a new password breaks; counts characters, not bytes. */
export function checkNewPassword(password: string): void {
  const length = [...canonical(password)].length;
  if (length < MIN_PASSWORD_LENGTH)
    throw identityErrors.password_too_short({ min: MIN_PASSWORD_LENGTH });
  if (length > MAX_PASSWORD_LENGTH)
    throw identityErrors.password_too_long({ max: MAX_PASSWORD_LENGTH });
  if (commonPasswords().has(canonical(password).toLowerCase()))
    throw identityErrors.password_too_common();
}

export class PasswordHasher {
  #dummy: Promise<string> | undefined;

  hash(password: string): Promise<string> {
    return argon2.hash(canonical(password), ARGON2_COST);
  }

  /**
   * Whether the password matches the hash; with no hash (no such account),
   * false after the same work as a real check.
   */
  async verify(hash: string | null, password: string): Promise<boolean> {
    // A password far beyond the rules cannot match and is not worth hashing.
    const candidate = password.length > 4 * MAX_PASSWORD_LENGTH ? '' : canonical(password);
    if (hash === null) {
      await argon2.verify(await this.#dummyHash(), candidate).catch(() => false);
      return false;
    }
    try {
      return await argon2.verify(hash, candidate);
    } catch {
      return false;
    }
  }

  /** Made at start (warm()) so the first unknown email costs no more than the others. */
  warm(): Promise<string> {
    return this.#dummyHash();
  }

  #dummyHash(): Promise<string> {
    this.#dummy ??= argon2.hash(randomBytes(16).toString('hex'), ARGON2_COST);
    return this.#dummy;
  }
}
