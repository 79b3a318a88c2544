// A batch of clicks as the bus carries it: one LinkClickedBatch message on
// `link.clicked` (events.proto), confirmed by the broker before it counts as
// published. Its publish is linked to each sampled click's redirect.
import type { SpanContext } from '@opentelemetry/api';
import { LinkClickedBatch } from '../../gen/shortener/v1/events.ts';
import type { Bus } from '../../lib/bus/bus.ts';
import { EVENTS } from '../../lib/bus/catalog.ts';
import { telemetry } from '../../lib/telemetry/tracing.ts';
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

/** The sampled redirects a batch's message is published on behalf of (lib/bus/tracing.ts). */
function tracesOf(clicks: readonly Click[]): SpanContext[] {
  const traces: SpanContext[] = [];
  for (const click of clicks) if (click.trace) traces.push(click.trace);
  return traces;
}

export function publishClicksOn(bus: Bus): PublishClicks {
  return (clicks) =>
    bus.publish(
      EVENTS.linkClicked,
      encodeClicks(clicks),
      telemetry.tracing ? { onBehalfOf: tracesOf(clicks) } : undefined,
    );
}
