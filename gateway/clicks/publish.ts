// A batch of clicks as the bus carries it: one LinkClickedBatch message on
// `link.clicked` (events.proto), confirmed by the broker before it counts as
// published.
import { LinkClickedBatch } from '../../gen/shortener/v1/events.ts';
import type { Bus } from '../../lib/bus/bus.ts';
import { EVENTS } from '../../lib/bus/catalog.ts';
import type { Click, PublishClicks } from './click-buffer.ts';

export function encodeClicks(clicks: readonly Click[]): Uint8Array {
  return LinkClickedBatch.encode({
    clicks: clicks.map((click) => ({
      eventId: click.eventId,
      linkId: click.linkId,
      code: click.code,
      ownerId: click.ownerId,
      clickedAt: new Date(click.at),
      client: click.client,
    })),
  }).finish();
}

export function publishClicksOn(bus: Bus): PublishClicks {
  return (clicks) => bus.publish(EVENTS.linkClicked, encodeClicks(clicks));
}
