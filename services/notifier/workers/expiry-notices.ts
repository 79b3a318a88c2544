// The notifier's expiry notices: LinkExpiring events from their queue, each
// handed to an actor that delivers one notice at a time (the owner's address
// from identity, then the mail and the webhook). As for the mailers
// (mailers.ts): a message that does not decode, or lacks what a notice needs,
// throws before it reaches the actor and is parked after the bus's retries; a
// mail server, a webhook or identity that is away fails the delivery the same
// way, so it is retried with the bus's backoff and at last parked; the
// notifier's own database being away is waited out.
import { LinkExpiring } from '../../../gen/shortener/v1/events.ts';
import type { Supervisor } from '../../../lib/actors/supervisor.ts';
import type { Delivery } from '../../../lib/bus/bus.ts';
import { CONSUMERS } from '../../../lib/bus/catalog.ts';
import type { ServiceContext } from '../../../lib/service.ts';
import type { NoticeDelivery } from '../domain/deliver-notice.ts';
import { checkedNotice, type ExpiryNotice } from '../domain/expiry-notice.ts';
import { notifierErrors } from '../errors.ts';
import { askThroughOutages } from './mailers.ts';

export function noticeOf(delivery: Delivery): ExpiryNotice {
  let event: LinkExpiring;
  try {
    event = LinkExpiring.decode(delivery.body);
  } catch (error) {
    throw notifierErrors.malformed_event(
      { routingKey: delivery.routingKey, why: 'not a protobuf message of this event' },
      { cause: error },
    );
  }
  return checkedNotice(delivery.routingKey, {
    eventId: event.eventId,
    linkId: event.linkId,
    code: event.code,
    ownerId: event.ownerId,
    expiresAt: event.expiresAt,
    lastAccessedAt: event.lastAccessedAt,
    extendUrl: event.extendUrl,
    targetUrl: event.targetUrl,
  });
}

/** Starts the expiry-notice actor and its consumer, stopped with the service. */
export function startExpiryNotices(
  delivery: NoticeDelivery,
  { bus, onStop }: Pick<ServiceContext, 'bus' | 'onStop'>,
  supervisor: Supervisor,
): void {
  const consumer = CONSUMERS.expiryNotices.name;
  const actor = supervisor.spawn<ExpiryNotice>(consumer, () => ({
    async receive(notice) {
      await delivery.deliver(notice);
    },
  }));
  const stopping = new AbortController();
  const subscription = bus.consume(consumer, async ([message]) => {
    if (message) await askThroughOutages(actor, noticeOf(message), stopping.signal);
  });
  onStop(`${consumer} consumer`, () => {
    stopping.abort();
    return subscription.stop();
  });
}
