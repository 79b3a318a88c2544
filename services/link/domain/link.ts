// The link as the domain knows it, and the caller acting on it.

export interface Link {
  id: string;
  code: string;
  targetUrl: string;
  ownerId: string;
  createdAt: Date;
  /** Explicit expiry; null for none. */
  expiresAt: Date | null;
}

/** A link as stored, including tombstones. */
export interface StoredLink extends Link {
  deletedAt: Date | null;
}

export type { Caller } from '../../../lib/callers.ts';

export function isExpired(link: Pick<Link, 'expiresAt'>, now: number): boolean {
  return link.expiresAt !== null && link.expiresAt.getTime() <= now;
}
