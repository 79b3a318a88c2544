// Every error the identity service answers with, beside the shared runtime's
// (lib/runtime-errors.ts). Fields are named as in proto/shortener/v1/identity.proto.
import { defineErrors } from '../../lib/errors.ts';

export const identityErrors = defineErrors({
  /** Every refusal of a token reads the same, so a caller learns nothing about why. */
  invalid_token: {
    kind: 'unauthenticated',
    message: 'the token is invalid, revoked or expired',
  },
  /** An unknown email and a wrong password read the same. */
  invalid_credentials: {
    kind: 'unauthenticated',
    message: 'the email and password do not match an account',
  },
  login_rate_limited: {
    kind: 'exhausted',
    message: 'too many failed logins; wait before trying again',
  },
  invalid_email: {
    kind: 'invalid',
    field: 'email',
    message: 'email must be an address like name@example.com, at most 254 characters',
  },
  password_too_short: {
    kind: 'invalid',
    field: 'password',
    message: (rule: { min: number }) => `password must have at least ${rule.min} characters`,
  },
  password_too_long: {
    kind: 'invalid',
    field: 'password',
    message: (rule: { max: number }) => `password must have at most ${rule.max} characters`,
  },
  password_too_common: {
    kind: 'invalid',
    field: 'password',
    message: 'password is one of the most common passwords; choose another',
  },
  email_taken: { kind: 'conflict', message: 'an account already has this email' },
  /** The guest token's links already belong to another account. */
  guest_already_adopted: {
    kind: 'conflict',
    message: "this guest's links already belong to another account",
  },
  members_only: {
    kind: 'forbidden',
    message: 'only members may do this; sign up with POST /api/v1/users',
  },
  account_not_found: { kind: 'not_found', message: 'no open account is behind this caller' },
  invalid_user_id: { kind: 'invalid', field: 'user_id', message: 'user_id is not a member id' },
  invalid_api_key_name: {
    kind: 'invalid',
    field: 'name',
    message: (rule: { max: number }) =>
      `name must have 1 to ${rule.max} characters, not only spaces`,
  },
  invalid_api_key_id: { kind: 'invalid', field: 'id', message: 'id is not an API key id' },
  api_key_not_found: { kind: 'not_found', message: 'no API key of yours has this id' },
  too_many_api_keys: {
    kind: 'conflict',
    message: (rule: { max: number }) => `at most ${rule.max} live API keys; revoke one first`,
  },
  /** A reset or verification token that is unknown, used or expired: all read the same. */
  invalid_account_token: {
    kind: 'invalid',
    field: 'token',
    message: 'the token is unknown, already used or expired',
  },
});
