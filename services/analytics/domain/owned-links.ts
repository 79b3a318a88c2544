// Whose links are whose is the link service's to say, at the time of asking
// (a guest's links become a member's on sign-up): analytics never decides it
// from owner ids copied into click events.

import type { Caller } from '../../../lib/callers.ts';
import type { LinkRef } from '../ranking/ranking.ts';

export type { Caller };

/** Calls made for a request end by its deadline (ms since the epoch; Infinity for none). */
export interface OwnedLinks {
  /** The caller's live link with this code; `analytics_link_not_found` for any other (unknown, deleted, someone else's). */
  find(caller: Caller, code: string, deadline: number): Promise<LinkRef>;
  /** The caller's live links now, newest first, at most `max` of them. */
  list(caller: Caller, max: number, deadline: number): Promise<LinkRef[]>;
}
