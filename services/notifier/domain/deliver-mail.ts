// Delivering one requested mail, the notifier's whole story: a token that has
// already expired gets no mail (its link would not work); an event whose mail
// was sent before gets none again; otherwise the mail is composed, handed to
// the mailer and recorded as sent. A mailer failure is thrown back, for the
// bus to retry and at last park the event.
//
// What this guarantees: at least once, deduplicated by event id. A mail is
// recorded only after the mailer took it, so a crash (or a lost database)
// between the two means a redelivery sends it again: never none, seldom two.
import type { Logger } from '../../../lib/log.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { SentMails } from '../store/sent-mails.ts';
import type { MailRequest } from './mail-request.ts';
import { composeMail } from './templates.ts';

export type Outcome = 'sent' | 'already_sent' | 'expired';

export interface MailDeliveryOptions {
  mailer: Mailer;
  sent: SentMails;
  publicBaseUrl: string;
  log: Logger;
  now?: () => number;
}

export class MailDelivery {
  readonly #mailer: Mailer;
  readonly #sent: SentMails;
  readonly #publicBaseUrl: string;
  readonly #log: Logger;
  readonly #now: () => number;

  constructor(options: MailDeliveryOptions) {
    this.#mailer = options.mailer;
    this.#sent = options.sent;
    this.#publicBaseUrl = options.publicBaseUrl;
    this.#log = options.log;
    this.#now = options.now ?? Date.now;
  }

  async deliver(request: MailRequest): Promise<Outcome> {
    // Never the token or the address: the event id finds them on the bus if needed.
    const about = { eventId: request.eventId, kind: request.kind, userId: request.userId };
    if (request.expiresAt.getTime() <= this.#now()) {
      this.#log.info(about, 'token expired before its mail could be sent; nothing sent');
      return 'expired';
    }
    if (await this.#sent.wasSent(request.eventId)) {
      this.#log.info(about, 'mail already sent for this event; not sending it again');
      return 'already_sent';
    }
    const mail = composeMail(request, this.#publicBaseUrl);
    const where = await this.#mailer.send(mail, `${request.eventId}-${request.kind}`);
    this.#log.info({ ...about, where }, 'mail sent');
    try {
      await this.#sent.record(request.eventId, request.kind, this.#now());
    } catch (error) {
      // The mail is out: failing now would only send it again. A redelivery
      // of this event, should one come, is what may send a second one.
      this.#log.warn({ ...about, err: error }, 'mail sent but not recorded as sent');
    }
    return 'sent';
  }
}
