// The account mails as events on the bus, for the notifier to send: each
// publish waits for the broker's confirm, under an event id of its own (a
// Snowflake id), so a redelivered event is mailed once. The raw token leaves
// identity only here, bound for the notifier's mailers (lib/bus/catalog.ts,
// TOKEN_EVENTS).
import {
  EmailVerificationRequested,
  PasswordResetRequested,
} from '../../../gen/shortener/v1/events.ts';
import type { Bus } from '../../../lib/bus/bus.ts';
import { EVENTS } from '../../../lib/bus/catalog.ts';
import type { AccountMail, AccountMailMessage } from '../domain/account-mail.ts';

export interface BusAccountMailDeps {
  bus: Pick<Bus, 'publish'>;
  nextEventId: () => string;
  now: () => number;
}

export class BusAccountMail implements AccountMail {
  readonly #deps: BusAccountMailDeps;

  constructor(deps: BusAccountMailDeps) {
    this.#deps = deps;
  }

  async verificationRequested(mail: AccountMailMessage): Promise<void> {
    const event = EmailVerificationRequested.encode(this.#event(mail)).finish();
    await this.#deps.bus.publish(EVENTS.emailVerificationRequested, event);
  }

  async passwordResetRequested(mail: AccountMailMessage): Promise<void> {
    const event = PasswordResetRequested.encode(this.#event(mail)).finish();
    await this.#deps.bus.publish(EVENTS.passwordResetRequested, event);
  }

  #event(mail: AccountMailMessage) {
    return {
      eventId: this.#deps.nextEventId(),
      userId: mail.memberId,
      email: mail.email,
      token: mail.token,
      expiresAt: mail.expiresAt,
      occurredAt: new Date(this.#deps.now()),
    };
  }
}
