// The notifier's consumers: one queue per kind of mail, each feeding an actor
// that delivers one mail at a time. A message that does not decode, or lacks
// what a mail needs, throws before it reaches the actor: the bus retries it and
// parks it in the consumer's dead-letter queue, and the messages behind it flow.
// A mail server that is away or refuses fails the delivery the same way, so
// a mail is retried with the bus's backoff (BUS_RETRY_*) and, after the last
// attempt, parked, never retried forever and never dropped.
//
// The notifier's own database being away is not the message's fault (no mail
// was sent): the delivery is asked again with backoff until the database is
// back, as analytics does, and only on stop handed back to the bus.
import {
  EmailVerificationRequested,
  PasswordResetRequested,
} from '../../../gen/shortener/v1/events.ts';
import type { Supervisor } from '../../../lib/actors/supervisor.ts';
import { type BackoffPolicy, backoffDelay, pause } from '../../../lib/backoff.ts';
import type { Delivery } from '../../../lib/bus/bus.ts';
import { CONSUMERS } from '../../../lib/bus/catalog.ts';
import { isDomainError } from '../../../lib/errors.ts';
import { runtimeErrors } from '../../../lib/runtime-errors.ts';
import type { ServiceContext } from '../../../lib/service.ts';
import type { MailDelivery } from '../domain/deliver-mail.ts';
import { checkedRequest, type MailKind, type MailRequest } from '../domain/mail-request.ts';
import { notifierErrors } from '../errors.ts';

/** Waits between asks while the notifier's database is away. */
const OUTAGE_BACKOFF: BackoffPolicy = { initialMs: 100, maxMs: 2_000, jitter: 0.2 };

const DATABASE_AWAY: ReadonlySet<string> = new Set([
  runtimeErrors.database_unavailable.code,
  runtimeErrors.database_unwritable.code,
  runtimeErrors.database_timeout.code,
]);

function databaseAway(error: unknown): boolean {
  return isDomainError(error) && DATABASE_AWAY.has(error.code);
}

/**
 * Asks the actor, again with backoff while the notifier's database is away
 * (not the message's fault); any other failure, or a stop, goes to the bus.
 */
export async function askThroughOutages<M>(
  actor: { ask(message: M): Promise<unknown> },
  message: M,
  stopping: AbortSignal,
): Promise<void> {
  for (let failures = 0; ; failures++) {
    try {
      await actor.ask(message);
      return;
    } catch (error) {
      if (!databaseAway(error) || stopping.aborted) throw error;
      await pause(backoffDelay(failures, OUTAGE_BACKOFF), stopping);
    }
  }
}

type Decoder = typeof PasswordResetRequested | typeof EmailVerificationRequested;

/** Each mailer: its queue, the event it reads and the kind of mail it sends. */
export const MAILERS: readonly { consumer: string; event: Decoder; kind: MailKind }[] = [
  {
    consumer: CONSUMERS.passwordResetMailer.name,
    event: PasswordResetRequested,
    kind: 'password_reset',
  },
  {
    consumer: CONSUMERS.emailVerificationMailer.name,
    event: EmailVerificationRequested,
    kind: 'email_verification',
  },
];

export function requestOf(delivery: Delivery, event: Decoder, kind: MailKind): MailRequest {
  let decoded: PasswordResetRequested;
  try {
    decoded = event.decode(delivery.body);
  } catch (error) {
    throw notifierErrors.malformed_event(
      { routingKey: delivery.routingKey, why: 'not a protobuf message of this event' },
      { cause: error },
    );
  }
  return checkedRequest(delivery.routingKey, {
    kind,
    eventId: decoded.eventId,
    userId: decoded.userId,
    email: decoded.email,
    token: decoded.token,
    expiresAt: decoded.expiresAt,
    occurredAt: decoded.occurredAt,
  });
}

/** Starts every mailer: an actor per queue under the supervisor, stopped with the service. */
export function startMailers(
  delivery: MailDelivery,
  { bus, onStop }: Pick<ServiceContext, 'bus' | 'onStop'>,
  supervisor: Supervisor,
): void {
  for (const { consumer, event, kind } of MAILERS) {
    const actor = supervisor.spawn<MailRequest>(consumer, () => ({
      async receive(request) {
        await delivery.deliver(request);
      },
    }));
    const stopping = new AbortController();
    const handle = async ([message]: readonly Delivery[]) => {
      if (!message) return;
      await askThroughOutages(actor, requestOf(message, event, kind), stopping.signal);
    };
    const subscription = bus.consume(consumer, handle);
    onStop(`${consumer} consumer`, () => {
      stopping.abort();
      return subscription.stop();
    });
  }
}
