// Emails as identity keeps them: trimmed, in Unicode NFC and lower case, so
// that `Ann@Example.com ` and `ann@example.com` are one account. Checked for
// shape only (one @, something on each side, a dot in the domain, no spaces,
// within RFC 5321's lengths): whether mail arrives is what verification is for.
import { identityErrors } from '../errors.ts';

const MAX_LENGTH = 254;
const MAX_LOCAL = 64;
const SHAPE = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;

/** The email as stored, or `invalid_email`. */
export function normaliseEmail(raw: string): string {
  const email = raw.trim().normalize('NFC').toLowerCase();
  const at = email.indexOf('@');
  if (email.length > MAX_LENGTH || at > MAX_LOCAL || !SHAPE.test(email)) {
    throw identityErrors.invalid_email();
  }
  return email;
}
