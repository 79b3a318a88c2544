// Every error the link service answers with, beside the shared runtime's
// (lib/runtime-errors.ts). Fields are named as in proto/shortener/v1/link.proto.
import { defineErrors } from '../../lib/errors.ts';

const URL_FAULTS = {
  missing: 'target_url is required',
  whitespace: 'target_url contains whitespace or control characters',
  not_absolute: 'target_url is not an absolute URL',
  no_host: 'target_url has no host',
} as const;

export const linkErrors = defineErrors({
  invalid_url: {
    kind: 'invalid',
    field: 'target_url',
    message: (fault: keyof typeof URL_FAULTS) => URL_FAULTS[fault],
  },
  url_too_long: {
    kind: 'invalid',
    field: 'target_url',
    message: (limit: { max: number }) => `target_url is longer than ${limit.max} characters`,
  },
  unsupported_scheme: {
    kind: 'invalid',
    field: 'target_url',
    message: 'target_url must use http or https',
  },
  url_has_credentials: {
    kind: 'invalid',
    field: 'target_url',
    message: 'target_url must not contain a user name or password',
  },
  private_target: {
    kind: 'invalid',
    field: 'target_url',
    message: 'target_url points at a private, loopback or local address',
  },
  expiry_in_past: {
    kind: 'invalid',
    field: 'expires_at',
    message: 'expires_at must be in the future',
  },
  /** Every store must hold it: see EXPIRY_LIMIT in domain/create-link.ts. */
  expiry_too_late: {
    kind: 'invalid',
    field: 'expires_at',
    message: (bound: { limit: Date }) => `expires_at must be before ${bound.limit.toISOString()}`,
  },
  invalid_code: { kind: 'invalid', field: 'code', message: 'code is malformed' },
  invalid_alias: {
    kind: 'invalid',
    field: 'alias',
    message: (rule: { min: number; max: number }) =>
      `alias must be ${rule.min} to ${rule.max} of the characters 0-9, A-Z, a-z, _ and -`,
  },
  alias_reserved: {
    kind: 'invalid',
    field: 'alias',
    message: 'alias is a path of the gateway, in some case, and cannot be a short code',
  },
  alias_members_only: { kind: 'forbidden', message: 'only members may choose an alias' },
  alias_taken: { kind: 'conflict', message: 'another link already has this alias' },
  /** Codes of deleted links stay tombstoned: see docs/decisions/0002-short-codes.md. */
  alias_retired: {
    kind: 'conflict',
    message: 'a deleted link had this alias, and codes are never issued again',
  },
  invalid_page_size: {
    kind: 'invalid',
    field: 'page_size',
    message: (limit: { max: number }) => `page_size must be between 1 and ${limit.max}`,
  },
  invalid_page_token: { kind: 'invalid', field: 'page_token', message: 'page_token is malformed' },
  batch_too_large: {
    kind: 'invalid',
    field: 'items',
    message: (limit: { max: number }) => `at most ${limit.max} items per call`,
  },
  link_not_found: { kind: 'not_found', message: 'no link has this code' },
  link_expired: { kind: 'expired', message: 'this link has expired' },
  /** The guest's links went to a member (AdoptGuestLinks): the guest makes no more. */
  guest_adopted: {
    kind: 'conflict',
    message: 'this guest now belongs to a member account: log in as the member to shorten',
  },
  guest_adopted_elsewhere: {
    kind: 'conflict',
    message: 'another member adopted this guest already',
  },
  /** The occurrence names the field (guest_id, member_id, owner_id). */
  invalid_principal_id: { kind: 'invalid', message: 'the id is not a Snowflake id' },
  code_space_exhausted: { kind: 'unavailable', message: 'could not find a free short code' },
  // --- Expiry (docs/decisions/0007-expiry.md) ---
  visits_exhausted: { kind: 'expired', message: 'this link has used up its visits' },
  invalid_max_visits: {
    kind: 'invalid',
    field: 'max_visits',
    message: (limit: { max: number }) => `max_visits must be between 1 and ${limit.max}`,
  },
  invalid_extension: {
    kind: 'invalid',
    field: 'by_ms',
    message: (limit: { maxMs: number }) =>
      `by must be positive and at most ${Math.floor(limit.maxMs / 86_400_000)} days (${limit.maxMs} ms)`,
  },
  invalid_extend_token: {
    kind: 'invalid',
    field: 'token',
    message: 'the extend token is malformed or its signature does not match',
  },
  extend_token_expired: {
    kind: 'expired',
    message: 'the extend token is for an expiry that has passed',
  },
  extend_token_used: {
    kind: 'conflict',
    message: "the link's expiry moved since the token was issued: it was extended or used already",
  },
});
