// When a link expires (docs/decisions/0007-expiry.md): when it has gone
// unused for the idle period (counted from its last access, or its creation
// if it was never followed, and never before the time an extension pushed it
// to), at its explicit expiry, or when its visits ran out — whichever comes
// first. Pure: every rule takes the time as an argument, so every story can
// be told with a clock of its own.
import type { Link } from './link.ts';

/** What expiry is computed from. */
export type ExpiryFacts = Pick<
  Link,
  'createdAt' | 'expiresAt' | 'lastAccessedAt' | 'extendedTo' | 'exhaustedAt'
>;

/** When the idle period runs out: from the last use, never before an extension's date. */
export function idleExpiry(link: ExpiryFacts, idleMs: number): number {
  const lastUse = (link.lastAccessedAt ?? link.createdAt).getTime();
  return Math.max(lastUse + idleMs, link.extendedTo?.getTime() ?? Number.NEGATIVE_INFINITY);
}

/** The expiry that applies now (ms since the epoch): the earliest of idle, explicit and exhausted. */
export function effectiveExpiry(link: ExpiryFacts, idleMs: number): number {
  let at = idleExpiry(link, idleMs);
  if (link.expiresAt && link.expiresAt.getTime() < at) at = link.expiresAt.getTime();
  if (link.exhaustedAt && link.exhaustedAt.getTime() < at) at = link.exhaustedAt.getTime();
  return at;
}

export function isExpired(link: ExpiryFacts, idleMs: number, now: number): boolean {
  return effectiveExpiry(link, idleMs) <= now;
}

/**
 * What an extension to `target` changes: whichever of the explicit and the
 * idle expiry applied now moves there, and the other no earlier, so the
 * expiry that applies afterwards is exactly `target`.
 */
export function extendedTo(
  link: ExpiryFacts,
  target: number,
): Pick<Link, 'expiresAt' | 'extendedTo'> {
  const explicit = link.expiresAt?.getTime();
  return {
    expiresAt: explicit === undefined ? null : new Date(Math.max(explicit, target)),
    extendedTo: new Date(Math.max(link.extendedTo?.getTime() ?? 0, target)),
  };
}
