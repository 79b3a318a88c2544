// The link as the domain knows it, and the caller acting on it.

export interface Link {
  id: string;
  code: string;
  targetUrl: string;
  ownerId: string;
  createdAt: Date;
  /** Explicit expiry; null for none. */
  expiresAt: Date | null;
  // --- Expiry and visits (domain/expiry.ts) ---
  /** Whose kind of principal owns it: only members' links get expiry notices. */
  ownerKind: 'guest' | 'member';
  /** The most redirects it answers; null for no limit. */
  maxVisits: number | null;
  /** The newest click the last-access toucher wrote; null if never followed. */
  lastAccessedAt: Date | null;
  /** The idle expiry never comes before this (ExtendLink); null if never extended. */
  extendedTo: Date | null;
  /** When its visits ran out (it answers 410 from then on); null while it has some. */
  exhaustedAt: Date | null;
}

/** A link as stored, including tombstones. */
export interface StoredLink extends Link {
  deletedAt: Date | null;
}

export type { Caller } from '../../../lib/callers.ts';
