// The two `link.clicked` consumers of analytics, each an actor fed by its own
// queue: the visit recorder (MySQL) and the ranking counter (Redis). A batch
// of deliveries is handled as one call; it is acknowledged only once the
// visits (or counts) are durable, and both are idempotent by event id, so a
// redelivered message counts once. A message that does not decode throws
// (before it reaches the actor), is retried and then parked in the
// consumer's dead-letter queue.
//
// A store that is unreachable (the database, Redis) is not the message's
// fault: the batch stays unacknowledged and is asked again, with backoff,
// until the store is back (the supervisor restarts the actor after each
// failure and logs it), so an outage longer than the bus's retry budget
// parks nothing and the clicks wait in the queue. Only on stop is such a
// batch handed back to the bus as failed, to be retried from there.
import { LinkClickedBatch } from '../../../gen/shortener/v1/events.ts';
import type { Supervisor } from '../../../lib/actors/supervisor.ts';
import { type BackoffPolicy, backoffDelay, pause } from '../../../lib/backoff.ts';
import type { Delivery } from '../../../lib/bus/bus.ts';
import type { CONSUMERS } from '../../../lib/bus/catalog.ts';
import { yielding } from '../../../lib/bus/yielding.ts';
import { isDomainError } from '../../../lib/errors.ts';
import type { ConsumerContext } from '../../../lib/service.ts';
import type { Click } from '../domain/click.ts';

/**
 * Deliveries (messages of up to 500 clicks each) handled in one call: up to
 * 64,000 clicks when a backlog has formed, fewer when it has not (a partial
 * batch waits 20 ms at most). The visit recorder's cost per click is mostly
 * its rollup rows (one per link and day in the batch), so the larger the
 * batch, the more clicks share each. Recording 256,000 clicks over 10,000
 * links (the recorder in one process against MariaDB, paired runs on the
 * 2-core bench machine, 2026-12-02) in batches of 16,000 cost 49-56 µs of
 * analytics CPU and 33-37 µs of MariaDB CPU per visit; in batches of 64,000,
 * 33-40 and 22-25 µs. The broker holds two batches per consumer
 * unacknowledged (one running, one gathering).
 */
const BATCH = { batchSize: 128, batchWaitMs: 20 };

/** Waits between asks while the store is unreachable (on top of the supervisor's restart backoff). */
const OUTAGE_BACKOFF: BackoffPolicy = { initialMs: 100, maxMs: 2_000, jitter: 0.2 };

/** The store is away (unreachable, or cannot write): waiting helps, parking would lose clicks. */
function storeUnavailable(error: unknown): boolean {
  return isDomainError(error) && error.kind === 'unavailable';
}

export function clicksOf(deliveries: readonly Delivery[]): Click[] {
  const clicks: Click[] = [];
  for (const delivery of deliveries) {
    for (const click of LinkClickedBatch.decode(delivery.body).clicks) {
      clicks.push({
        eventId: click.eventId,
        linkId: click.linkId,
        code: click.code,
        ownerId: click.ownerId,
        at: click.clickedAt ?? new Date(),
        ip: click.client?.ip ?? '',
        userAgent: click.client?.userAgent ?? '',
        referer: click.client?.referer ?? '',
        acceptLanguage: click.client?.acceptLanguage ?? '',
      });
    }
  }
  return clicks;
}

/** Consumes one queue into one actor that hands each batch's clicks to `record`. */
export function consumeClicks(
  consumer: (typeof CONSUMERS)[keyof typeof CONSUMERS]['name'],
  record: (clicks: readonly Click[]) => Promise<unknown>,
  { bus, onStop, yieldGate, metrics }: ConsumerContext,
  supervisor: Supervisor,
): void {
  const actor = supervisor.spawn<readonly Click[]>(consumer, () => ({
    async receive(clicks) {
      await record(clicks);
    },
  }));
  const stopping = new AbortController();
  const handle = async (deliveries: readonly Delivery[]) => {
    // Decoded before the actor: a malformed message goes back to the bus
    // (retried, then parked) without failing the actor, whose restart
    // backoff would otherwise slow every good batch behind it.
    const clicks = clicksOf(deliveries);
    for (let failures = 0; ; failures++) {
      try {
        return await actor.ask(clicks);
      } catch (error) {
        if (!storeUnavailable(error) || stopping.signal.aborted) throw error;
        await pause(backoffDelay(failures, OUTAGE_BACKOFF), stopping.signal);
      }
    }
  };
  // Decoding waits its turn too: it is a good part of a batch's cost.
  const subscription = bus.consume(
    consumer,
    yielding(yieldGate, handle, stopping.signal, (ms) =>
      metrics?.busYielded.inc({ consumer }, ms / 1_000),
    ),
    BATCH,
  );
  onStop(`${consumer} consumer`, () => {
    stopping.abort();
    return subscription.stop();
  });
}
