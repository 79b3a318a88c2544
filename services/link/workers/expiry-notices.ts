// The expiry-notice scheduler: an actor, woken by a timer, that finds
// members' links expiring within the notice window and publishes one
// `link.expiring` event per link and expiry period (the expiry it is about;
// use or an extension moves it, and makes a new period). Guests' links get
// none: nobody could be told.
//
// Once per period, with several schedulers and across crashes: each notice
// is claimed before it is published, with a conditional UPDATE on the state
// the scheduler read (ExpiryStore.claimNotice: of several schedulers, one
// wins), and the claim holds an event id and a lease. Published with a
// confirm, the notice is marked sent. A scheduler that stops between claim
// and mark leaves the lease to run out; then another claims the same notice
// again, keeps its event id, and publishes it: if the first publish had gone
// out, consumers see the same event id twice and handle it once.
import { LinkExpiring } from '../../../gen/shortener/v1/events.ts';
import type { Actor } from '../../../lib/actors/supervisor.ts';
import type { Bus } from '../../../lib/bus/bus.ts';
import { EVENTS } from '../../../lib/bus/catalog.ts';
import { effectiveExpiry } from '../domain/expiry.ts';
import type { ExtendTokens } from '../domain/extend-token.ts';
import type { ExpiryStore, NoticeCandidate } from '../store/expiry-store.ts';

export interface NoticeDeps {
  expiry: Pick<ExpiryStore, 'noticeCandidates' | 'claimNotice' | 'noticeSent'>;
  bus: Pick<Bus, 'publish'>;
  tokens: ExtendTokens;
  nextEventId: () => string;
}

export interface NoticeOptions {
  idleMs: number;
  windowMs: number;
  leaseMs: number;
  /** PUBLIC_BASE_URL/extend: the token goes in its query. */
  extendPageUrl: string;
  now: () => number;
  /** Links read per query. */
  batch?: number;
}

export type NoticeTick = 'notice';

export class ExpiryNoticeScheduler implements Actor<NoticeTick> {
  readonly #deps: NoticeDeps;
  readonly #options: Required<NoticeOptions>;

  constructor(deps: NoticeDeps, options: NoticeOptions) {
    this.#deps = deps;
    this.#options = { batch: 500, ...options };
  }

  async receive(): Promise<void> {
    await this.run();
  }

  /** One pass over the links expiring within the window; returns the notices it published. */
  async run(): Promise<number> {
    const now = this.#options.now();
    const by = new Date(now + this.#options.windowMs);
    let after: string | null = null;
    let published = 0;
    for (;;) {
      const links = await this.#deps.expiry.noticeCandidates({
        after,
        limit: this.#options.batch,
        by,
        idleMs: this.#options.idleMs,
      });
      for (const link of links) if (await this.#notice(link, now)) published++;
      if (links.length < this.#options.batch) return published;
      after = (links.at(-1) as NoticeCandidate).id;
    }
  }

  async #notice(link: NoticeCandidate, now: number): Promise<boolean> {
    const expiry = effectiveExpiry(link, this.#options.idleMs);
    if (expiry <= now || expiry > now + this.#options.windowMs) return false;
    const samePeriod = link.noticeFor?.getTime() === expiry;
    // Sent already, or claimed by a scheduler whose lease still runs.
    if (samePeriod && (link.noticeLeaseUntil === null || link.noticeLeaseUntil.getTime() > now)) {
      return false;
    }
    const eventId =
      samePeriod && link.noticeEventId ? link.noticeEventId : this.#deps.nextEventId();
    const claimed = await this.#deps.expiry.claimNotice(link, {
      expiry: new Date(expiry),
      eventId,
      leaseUntil: new Date(now + this.#options.leaseMs),
    });
    if (!claimed) return false;
    const token = this.#deps.tokens.sign({ linkId: link.id, expiresAt: expiry });
    await this.#deps.bus.publish(
      EVENTS.linkExpiring,
      LinkExpiring.encode({
        eventId,
        linkId: link.id,
        code: link.code,
        ownerId: link.ownerId,
        expiresAt: new Date(expiry),
        lastAccessedAt: link.lastAccessedAt ?? undefined,
        extendToken: token,
        extendUrl: `${this.#options.extendPageUrl}?token=${encodeURIComponent(token)}`,
        targetUrl: link.targetUrl,
      }).finish(),
    );
    await this.#deps.expiry.noticeSent(link.id, eventId);
    return true;
  }
}
