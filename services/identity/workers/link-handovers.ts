// The link handovers still to do: adopted guests whose links link has not yet
// confirmed moved, and closed accounts whose links it has not yet confirmed
// deleted. Sign-up, login and closing ask link at once; when link cannot be
// reached then, the request still succeeds and this actor, on a timer, asks
// again until link confirms. Both calls are idempotent, so a handover done
// twice (by two identity instances, or by a request and this actor) is no
// harm. Only what was left for longer than a grace period is picked up, so
// the actor does not race the request that is still asking.
import type { Actor, Supervisor } from '../../../lib/actors/supervisor.ts';
import { moveAdoptedLinks } from '../domain/adoption.ts';
import { deleteClosedAccountLinks, type MemberDeps } from '../domain/members.ts';

export interface HandoverOptions {
  /** How often the actor looks for handovers left; also the grace period. */
  intervalMs: number;
}

const BATCH = 100;

export class LinkHandovers implements Actor<'tick'> {
  readonly #deps: MemberDeps;
  readonly #graceMs: number;

  constructor(deps: MemberDeps, options: HandoverOptions) {
    this.#deps = deps;
    this.#graceMs = options.intervalMs;
  }

  async receive(): Promise<void> {
    const before = new Date(this.#deps.now() - this.#graceMs);
    for (const adoption of await this.#deps.accounts.adoptionsLeft(before, BATCH)) {
      await moveAdoptedLinks(this.#deps, adoption);
    }
    for (const memberId of await this.#deps.accounts.closedWithLinksLeft(before, BATCH)) {
      await deleteClosedAccountLinks(this.#deps, memberId);
    }
  }
}

export function startLinkHandovers(
  supervisor: Supervisor,
  deps: MemberDeps,
  options: HandoverOptions,
): void {
  const actor = supervisor.spawn(
    'identity.link-handovers',
    () => new LinkHandovers(deps, options),
    {
      mailbox: 1,
    },
  );
  supervisor.every(actor, options.intervalMs, () => 'tick' as const);
}
