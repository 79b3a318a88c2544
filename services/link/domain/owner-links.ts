// Links changing hands with their owner's account: a guest's links adopted by
// the member the guest became, and a closed account's links deleted. Both are
// called by the identity service, both are idempotent (a repeated call finds
// nothing left to do), and both leave every cache agreeing with the
// database: the shared cache learns first or is overwritten, and every
// gateway's near cache drops the codes through the change feed.
import { isSnowflake } from '../../../lib/ids/snowflake.ts';
import type { LinkChanges } from '../changes/link-changes.ts';
import { linkErrors } from '../errors.ts';
import type { LinkCache } from '../store/link-cache.ts';
import { type LinkStore, OWNER_DELETE_CHUNK } from '../store/link-store.ts';

export interface OwnerLinksDeps {
  store: LinkStore;
  cache: LinkCache;
  changes: LinkChanges;
  now: () => number;
}

function checkId(id: string, field: string): void {
  if (!isSnowflake(id)) throw linkErrors.invalid_principal_id({ field });
}

/**
 * Moves the guest's links to the member and refuses the guest further links.
 * One member per guest: a guest adopted by another member is refused. The
 * shared cache is overwritten with each moved link (its entry names the
 * owner a click is counted for), and watchers drop the codes.
 */
export async function adoptGuestLinks(
  deps: OwnerLinksDeps,
  guestId: string,
  memberId: string,
): Promise<number> {
  checkId(guestId, 'guest_id');
  checkId(memberId, 'member_id');
  const adopter = await deps.store.recordAdoption(guestId, memberId, new Date(deps.now()));
  if (adopter !== memberId) throw linkErrors.guest_adopted_elsewhere();
  const moved = await deps.store.moveOwner(guestId, memberId);
  for (const link of moved) {
    await deps.cache.put(link);
    await deps.changes.announce(link.code);
  }
  return moved.length;
}

/**
 * Deletes every live link of the owner, a chunk at a time, each as DeleteLink
 * deletes one: the shared cache is told first (if it cannot be, nothing more
 * is deleted: `cache_unavailable`, and a retry goes on from there), then the
 * database, then the watchers.
 */
export async function deleteOwnerLinks(deps: OwnerLinksDeps, ownerId: string): Promise<number> {
  checkId(ownerId, 'owner_id');
  let deleted = 0;
  for (;;) {
    const links = await deps.store.liveLinksOf(ownerId, OWNER_DELETE_CHUNK);
    if (links.length === 0) return deleted;
    for (const link of links) await deps.cache.forget(link.code);
    try {
      deleted += await deps.store.markManyDeleted(
        links.map((link) => link.id),
        ownerId,
        new Date(deps.now()),
      );
    } catch (error) {
      for (const link of links) await deps.cache.unforget(link.code);
      throw error;
    }
    for (const link of links) await deps.changes.announce(link.code);
  }
}
