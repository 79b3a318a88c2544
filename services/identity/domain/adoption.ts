// A guest becomes a member: signing up or logging in with a guest's token
// adopts the guest, and every link the guest made becomes the member's.
// Identity decides who adopted whom (one member per guest, ever: the
// adoption's primary key settles races, also between two new accounts); the
// link service moves the links, atomically per guest and idempotently. If
// link cannot be reached now, the adoption stays recorded as not yet moved
// and is moved later (workers/link-handovers.ts): never split, never lost.
import type { Caller } from '../../../lib/callers.ts';
import type { Logger } from '../../../lib/log.ts';
import { identityErrors } from '../errors.ts';
import type { MemberLinks } from '../links/link-client.ts';
import type { AccountStore, Adoption } from '../store/account-store.ts';
import { type AuthenticationDeps, authenticate } from './authentication.ts';

export interface AdoptionDeps extends AuthenticationDeps {
  accounts: AccountStore;
  links: MemberLinks;
  log: Logger;
}

/**
 * The guest a token presented at sign-up or login authenticates: null when
 * none was presented, or it is a member's (there is nothing to adopt).
 * A token that does not authenticate is refused (`invalid_token`).
 */
export async function presentedGuest(deps: AdoptionDeps, token: string): Promise<Caller | null> {
  if (!token) return null;
  const principal = await authenticate(deps, token);
  return principal.kind === 'guest' ? principal : null;
}

/** Refuses a guest that some member has adopted already (a sign-up cannot be that member). */
export async function refuseAdopted(deps: AdoptionDeps, guestId: string): Promise<void> {
  if (await deps.accounts.adoptionOf(guestId)) throw identityErrors.guest_already_adopted();
}

/** Records that the member adopts the guest; refused if another member did. */
export async function adopt(
  deps: AdoptionDeps,
  guestId: string,
  memberId: string,
): Promise<Adoption> {
  const adoption = await deps.accounts.recordAdoption(guestId, memberId, new Date(deps.now()));
  if (adoption.memberId !== memberId) throw identityErrors.guest_already_adopted();
  return adoption;
}

/**
 * Has link move the adopted guest's links, and notes it once done. A failure
 * is only logged: the adoption stays to be moved, and is retried.
 */
export async function moveAdoptedLinks(deps: AdoptionDeps, adoption: Adoption): Promise<void> {
  if (adoption.linksMovedAt !== null) return;
  try {
    const moved = await deps.links.adopt(adoption.guestId, adoption.memberId);
    // The member closed their account while this waited: what moved goes too.
    const member = await deps.accounts.findMember(adoption.memberId);
    if (member?.closedAt) await deps.links.deleteAll(adoption.memberId);
    await deps.accounts.markLinksMoved(adoption.guestId, new Date(deps.now()));
    deps.log.info(
      { guestId: adoption.guestId, memberId: adoption.memberId, moved },
      'adopted guest links moved',
    );
  } catch (error) {
    deps.log.warn(
      { guestId: adoption.guestId, memberId: adoption.memberId, cause: (error as Error).message },
      'adopted guest links not moved yet; retried later',
    );
  }
}
