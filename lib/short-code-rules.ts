// Rules for short codes that the gateway and the link service share: what a
// code looks like, and which words are never codes because the gateway uses
// them as paths.

/** Most codes one ResolveLinks call may carry (the gateway splits larger batches). */
export const MAX_RESOLVE_BATCH = 1024;
/** Items per CreateLinks call. */
export const MAX_CREATE_BATCH = 256;

/** URL-safe, case-sensitive, 1 to 32 characters (generated codes and chosen aliases). */
export const CODE_PATTERN = /^[0-9A-Za-z_-]{1,32}$/;

/**
 * Compared case-insensitively, so no code can shadow a path of the gateway:
 * the one list of them, for generated codes, members' aliases and the
 * redirect path alike. Every first path segment a gateway route uses must be
 * here (test/gateway/reserved-paths.test.ts checks), and words the web
 * expects at the top of a site (pages linked from mails among them) are kept
 * free before any route takes them.
 */
export const RESERVED_CODES: ReadonlySet<string> = new Set([
  'api',
  'admin',
  'docs',
  'healthz',
  'readyz',
  'livez',
  'metrics',
  'openapi',
  'problems',
  'static',
  'assets',
  'login',
  'logout',
  'signup',
  // The pages the notifier's mails link to (gateway/routes/account-pages.ts).
  'reset-password',
  'verify-email',
  // The one-click extend page of expiry notices (gateway/routes/extend-page.ts).
  'extend',
  'favicon.ico',
  'robots.txt',
  '.well-known',
]);

const RESERVED = new RegExp(
  `^(${[...RESERVED_CODES].map((word) => word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})$`,
  'i',
);

export function isReserved(code: string): boolean {
  return RESERVED.test(code);
}
