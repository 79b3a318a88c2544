// Every error the notifier raises, beside the shared runtime's
// (lib/runtime-errors.ts). It answers no calls of its own: these are what a
// consumer's handler throws back to the bus, which retries the message and, after
// the last attempt, parks it in the consumer's dead-letter queue with the
// message below.
import { defineErrors } from '../../lib/errors.ts';

export const notifierErrors = defineErrors({
  /** The body does not decode, or lacks what a mail needs: retrying will not help. */
  malformed_event: {
    kind: 'invalid',
    message: (fault: { routingKey: string; why: string }) =>
      `${fault.routingKey} event is malformed: ${fault.why}`,
  },
  /** The SMTP server could not be reached, or refused the message. */
  mail_not_sent: {
    kind: 'unavailable',
    message: (failure: { why: string }) => `the mail server did not take the mail: ${failure.why}`,
  },
  /** The webhook could not be reached, or answered anything but 2xx. */
  webhook_not_sent: {
    kind: 'unavailable',
    message: (failure: { why: string }) => `the webhook did not take the notice: ${failure.why}`,
  },
  /** The outbox folder cannot be written (missing rights, a full or read-only disk). */
  outbox_unwritable: {
    kind: 'unavailable',
    message: (failure: { why: string }) => `the outbox cannot be written: ${failure.why}`,
  },
});
