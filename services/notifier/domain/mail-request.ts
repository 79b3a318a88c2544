// What the notifier is asked to mail, whichever event asked: a member, an
// address, a single-use token and when it stops working. Built from the bus's
// events (workers/mail-requests.ts) and checked here, so a malformed event is
// refused before anything is sent.
import { notifierErrors } from '../errors.ts';

export type MailKind = 'password_reset' | 'email_verification';

export interface MailRequest {
  readonly kind: MailKind;
  /** The event's Snowflake id, as a decimal string: what a mail is deduplicated by. */
  readonly eventId: string;
  readonly userId: string;
  readonly email: string;
  /** The raw token: goes into the link, never into a log. */
  readonly token: string;
  readonly expiresAt: Date;
  readonly occurredAt: Date | undefined;
}

/** One address, no display name, nothing that could end a header line. */
const EMAIL = /^[^\s@<>,;:"()[\]\\]+@[^\s@<>,;:"()[\]\\]+$/;
/** Printable ASCII without spaces: it is percent-encoded into the link anyway. */
const TOKEN = /^[\x21-\x7e]{1,1024}$/;

/** The request if every field a mail needs is there and well-formed; malformed_event otherwise. */
export function checkedRequest(
  routingKey: string,
  fields: {
    kind: MailKind;
    eventId: string;
    userId: string;
    email: string;
    token: string;
    expiresAt: Date | undefined;
    occurredAt: Date | undefined;
  },
): MailRequest {
  const fault = (why: string) => notifierErrors.malformed_event({ routingKey, why });
  if (!/^[1-9]\d{0,18}$/.test(fields.eventId)) throw fault('event_id is missing');
  if (fields.email.length > 254 || !EMAIL.test(fields.email))
    throw fault('email is not an address');
  if (!TOKEN.test(fields.token)) throw fault('token is missing or not printable ASCII');
  const { expiresAt } = fields;
  if (!expiresAt || Number.isNaN(expiresAt.getTime())) throw fault('expires_at is missing');
  return { ...fields, expiresAt };
}
