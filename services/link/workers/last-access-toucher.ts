// The last-access toucher: an actor fed by the `link.clicked` queue of the
// link service (CONSUMERS.lastAccessToucher) that moves each clicked link's
// last access forward, which the idle expiry counts from. A hot link is
// clicked thousands of times a minute; its row is written at most once per
// interval (LINK_LAST_ACCESS_INTERVAL).
//
// How "at most once per link per interval" and "ack only once the effect is
// durable" fit together: nothing is held back for later. Each message's
// clicks are coalesced to the latest click per link, and the actor remembers
// per link the newest click time it has written (or found already written).
// A click that is not newer than that by more than the interval needs no
// write: the stored last access is already within one interval of it. Every
// other link is written in one statement per chunk (LinkStore.moveLastAccess)
// before the handler returns, so the bus acks a message only once every
// click in it is written or covered by an earlier write. The price is
// precision, bounded: the stored last access may trail a link's true last
// click by up to one interval, which an idle period of days never notices.
//
// The interval is measured in click time (when the gateway answered), not in
// the toucher's own: the decision is the same however late or often a
// message arrives. So a redelivered message writes nothing (its clicks are
// not newer than what was written for them), and a backlog replayed after an
// outage writes a link at most once per interval of the clicks it holds. The
// write itself only ever moves forward, so what the actor does not remember
// (after a restart, beyond its memory bound, or on another instance sharing
// the queue) costs at most a redundant write, never a wrong one: with N
// instances a link is written at most N times per interval. A click stamped
// later than the toucher's clock is taken as of now, so a gateway whose clock
// runs ahead cannot push a link's expiry out.
//
// Messages are handled one at a time (batch size 1): a message that does not
// decode fails alone, is retried with backoff and then parked in the
// consumer's dead-letter queue while the others flow. It fails before it
// reaches the actor, so the actor (and what it remembers) is restarted only
// when a write fails. Coalescing across messages needs no batch: once a link
// is written, its clicks in the next messages are covered until the interval
// has passed.
import { LinkClickedBatch } from '../../../gen/shortener/v1/events.ts';
import type { Actor, Supervisor } from '../../../lib/actors/supervisor.ts';
import type { Delivery } from '../../../lib/bus/bus.ts';
import { CONSUMERS } from '../../../lib/bus/catalog.ts';
import { yielding } from '../../../lib/bus/yielding.ts';
import type { ConsumerContext } from '../../../lib/service.ts';
import type { LastAccess, LinkStore } from '../store/link-store.ts';

/** One click as the toucher needs it: which link, and when (ms since epoch). */
export interface Touch {
  linkId: string;
  at: number;
}

export interface LastAccessOptions {
  /** A link is written at most once per this much click time. */
  intervalMs: number;
  /** The toucher's clock; Date.now unless given. */
  now?: () => number;
  /** Links remembered at most; the longest-written are forgotten first (costing a redundant write, no more). */
  remember?: number;
}

export type LastAccessWriter = Pick<LinkStore, 'moveLastAccess'>;

const REMEMBER = 100_000;

/** The touches in a `link.clicked` message; throws if it is not a LinkClickedBatch with clicks. */
export function touchesOf(delivery: Delivery): Touch[] {
  const { clicks } = LinkClickedBatch.decode(delivery.body);
  if (clicks.length === 0) throw new Error('a link.clicked message with no clicks');
  const touches: Touch[] = [];
  for (const click of clicks) {
    // A click naming no link or no time has nothing to touch.
    if (click.linkId === '0' || !click.clickedAt) continue;
    touches.push({ linkId: click.linkId, at: click.clickedAt.getTime() });
  }
  return touches;
}

export class LastAccessToucher implements Actor<readonly Touch[]> {
  readonly #store: LastAccessWriter;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #remember: number;
  /** Per link, the newest click time known to be written, in the order they were written. */
  readonly #written = new Map<string, number>();
  /** The newest click time seen: a link written more than an interval before it covers nothing new. */
  #newest = Number.NEGATIVE_INFINITY;

  constructor(store: LastAccessWriter, options: LastAccessOptions) {
    this.#store = store;
    this.#intervalMs = options.intervalMs;
    this.#now = options.now ?? Date.now;
    this.#remember = options.remember ?? REMEMBER;
  }

  /** Writes what the touches need written; resolves once it is durable. */
  async receive(touches: readonly Touch[]): Promise<void> {
    const now = this.#now();
    const latest = new Map<string, number>();
    for (const { linkId, at } of touches) {
      const time = Math.min(at, now);
      if (time > (latest.get(linkId) ?? Number.NEGATIVE_INFINITY)) latest.set(linkId, time);
      if (time > this.#newest) this.#newest = time;
    }
    const due: LastAccess[] = [];
    for (const [id, at] of latest) {
      const written = this.#written.get(id);
      if (written === undefined || at > written + this.#intervalMs)
        due.push({ id, at: new Date(at) });
    }
    if (due.length > 0) await this.#store.moveLastAccess(due);
    // Unknown links and links already newer are remembered too: writing them again changes nothing.
    for (const { id, at } of due) {
      this.#written.delete(id);
      this.#written.set(id, at.getTime());
    }
    this.#forget();
  }

  /** How many links it remembers (for tests of its bound). */
  get remembered(): number {
    return this.#written.size;
  }

  /** Forgets links written too long ago to cover any new click, and the oldest beyond the bound. */
  #forget(): void {
    for (const [id, written] of this.#written) {
      if (written + this.#intervalMs >= this.#newest && this.#written.size <= this.#remember) break;
      this.#written.delete(id);
    }
  }
}

/**
 * Starts the toucher under `supervisor` on its queue; stopping drains it (the
 * subscription stops first, its running message finishing, then the actor).
 */
export function startLastAccessToucher(
  { bus, onStop, yieldGate, metrics }: ConsumerContext,
  supervisor: Supervisor,
  store: LastAccessWriter,
  options: LastAccessOptions,
): void {
  const consumer = CONSUMERS.lastAccessToucher.name;
  const actor = supervisor.spawn<readonly Touch[]>(
    consumer,
    () => new LastAccessToucher(store, options),
  );
  const stopping = new AbortController();
  const subscription = bus.consume(
    consumer,
    yielding(
      yieldGate,
      async (deliveries) => {
        for (const delivery of deliveries) await actor.ask(touchesOf(delivery));
      },
      stopping.signal,
      (ms) => metrics?.busYielded.inc({ consumer }, ms / 1_000),
    ),
  );
  onStop(`${consumer} consumer`, () => {
    stopping.abort();
    return subscription.stop();
  });
}
