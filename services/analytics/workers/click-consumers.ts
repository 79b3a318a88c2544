// The two `link.clicked` consumers of analytics, each an actor fed by its own
// queue: the visit recorder (MySQL) and the ranking counter (Redis). A batch
// of deliveries is handled as one call; it is acknowledged only once the
// visits (or counts) are durable, and both are idempotent by event id, so a
// redelivered message counts once. A message that does not decode throws,
// is retried and then parked in the consumer's dead-letter queue.
import { LinkClickedBatch } from '../../../gen/shortener/v1/events.ts';
import type { Supervisor } from '../../../lib/actors/supervisor.ts';
import type { Delivery } from '../../../lib/bus/bus.ts';
import type { CONSUMERS } from '../../../lib/bus/catalog.ts';
import type { ServiceContext } from '../../../lib/service.ts';
import type { Click } from '../domain/click.ts';

/** Deliveries (messages of up to 500 clicks each) handled in one call. */
const BATCH = { batchSize: 8, batchWaitMs: 20 };

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
  { bus, onStop }: Pick<ServiceContext, 'bus' | 'onStop'>,
  supervisor: Supervisor,
): void {
  const actor = supervisor.spawn<readonly Delivery[]>(consumer, () => ({
    async receive(deliveries) {
      await record(clicksOf(deliveries));
    },
  }));
  const subscription = bus.consume(consumer, (deliveries) => actor.ask(deliveries), BATCH);
  onStop(`${consumer} consumer`, () => subscription.stop());
}
