// The notifier's alert worker: OpsAlert events from their queue, each handed
// to an actor that posts one alert at a time (domain/deliver-alert.ts). An
// event that does not decode is parked after the bus's retries; a webhook
// that is away fails the post, which the bus retries with backoff and at last
// parks; a dead letter of this queue raises no alert (lib/bus/watch.ts).
import { OpsAlert } from '../../../gen/shortener/v1/events.ts';
import type { Supervisor } from '../../../lib/actors/supervisor.ts';
import type { Delivery } from '../../../lib/bus/bus.ts';
import { CONSUMERS } from '../../../lib/bus/catalog.ts';
import type { ServiceContext } from '../../../lib/service.ts';
import type { AlertDelivery } from '../domain/deliver-alert.ts';
import { notifierErrors } from '../errors.ts';

export function alertOf(delivery: Delivery): OpsAlert {
  let alert: OpsAlert;
  try {
    alert = OpsAlert.decode(delivery.body);
  } catch (error) {
    throw notifierErrors.malformed_event(
      { routingKey: delivery.routingKey, why: 'not a protobuf message of this event' },
      { cause: error },
    );
  }
  if (!alert.kind || !alert.subject) {
    throw notifierErrors.malformed_event({
      routingKey: delivery.routingKey,
      why: 'an alert needs a kind and a subject',
    });
  }
  return alert;
}

/** Starts the alert actor and its consumer, stopped with the service. */
export function startOpsAlerts(
  delivery: AlertDelivery,
  { bus, onStop }: Pick<ServiceContext, 'bus' | 'onStop'>,
  supervisor: Supervisor,
): void {
  const consumer = CONSUMERS.opsAlerts.name;
  const actor = supervisor.spawn<OpsAlert>(consumer, () => ({
    async receive(alert) {
      await delivery.deliver(alert);
    },
  }));
  const subscription = bus.consume(consumer, async ([message]) => {
    if (message) await actor.ask(alertOf(message));
  });
  onStop(`${consumer} consumer`, () => subscription.stop());
}
