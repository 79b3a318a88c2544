// What analytics does when the link service purges an expired link
// (`link.expired`, docs/decisions/0007-expiry.md): with
// ANALYTICS_EXPIRED_VISITS=drop, the link's visits and daily rollups are
// deleted; with `keep` (the default) they stay, and the event is only
// acknowledged. An actor fed by its own queue; deleting again what is gone
// changes nothing, so a redelivered event is harmless.
import { LinkExpired } from '../../../gen/shortener/v1/events.ts';
import type { Supervisor } from '../../../lib/actors/supervisor.ts';
import type { Delivery } from '../../../lib/bus/bus.ts';
import { CONSUMERS } from '../../../lib/bus/catalog.ts';
import type { ServiceContext } from '../../../lib/service.ts';
import type { VisitStore } from '../store/visit-store.ts';

/** The purged links a batch of `link.expired` deliveries names; throws if one does not decode. */
export function expiredLinksOf(deliveries: readonly Delivery[]): string[] {
  return deliveries.map((delivery) => LinkExpired.decode(delivery.body).linkId);
}

export function consumeExpiredLinks(
  mode: 'keep' | 'drop',
  store: Pick<VisitStore, 'dropLink'>,
  { bus, onStop }: Pick<ServiceContext, 'bus' | 'onStop'>,
  supervisor: Supervisor,
): void {
  const consumer = CONSUMERS.expiredLinks.name;
  const actor = supervisor.spawn<readonly string[]>(consumer, () => ({
    async receive(linkIds) {
      if (mode === 'keep') return;
      for (const linkId of linkIds) await store.dropLink(linkId);
    },
  }));
  const subscription = bus.consume(
    consumer,
    async (deliveries) => actor.ask(expiredLinksOf(deliveries)),
    { batchSize: 50, batchWaitMs: 20 },
  );
  onStop(`${consumer} consumer`, () => subscription.stop());
}
