// Delivering one expiry notice: to the owner's address if identity has a
// verified one, and then to the webhook if one is set. A guest's link, an
// unknown or closed account and an unconfirmed address get nothing, and that
// is no failure: the event is done. A notice whose expiry has passed gets
// nothing either (its extend link no longer works).
//
// Each way is recorded by event id once it is out (sent_mails for the mail,
// sent_webhooks for the post), so a redelivery sends neither again, and a
// retry after the webhook failed sends only the post. At least once,
// deduplicated, as for the account mails (deliver-mail.ts).
import type { Logger } from '../../../lib/log.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { MemberContacts } from '../members/member-contacts.ts';
import type { SentMails } from '../store/sent-mails.ts';
import type { Webhook } from '../webhook/webhook.ts';
import { composeExpiryMail, type ExpiryNotice, expiryWebhookText } from './expiry-notice.ts';

export type NoticeOutcome = 'sent' | 'already_sent' | 'expired' | 'no_verified_address';

export interface NoticeDeliveryOptions {
  mailer: Mailer;
  contacts: MemberContacts;
  sentMails: SentMails;
  /** The webhook and its record, when NOTIFIER_WEBHOOK_URL is set. */
  webhook: { hook: Webhook; sent: SentMails } | undefined;
  publicBaseUrl: string;
  log: Logger;
  now?: () => number;
}

const KIND = 'expiry_notice';

export class NoticeDelivery {
  readonly #o: NoticeDeliveryOptions;
  readonly #now: () => number;

  constructor(options: NoticeDeliveryOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  async deliver(notice: ExpiryNotice): Promise<NoticeOutcome> {
    // Never the address or the extend link: the event id finds them if needed.
    const about = { eventId: notice.eventId, kind: KIND, linkId: notice.linkId };
    const { log, webhook } = this.#o;
    if (notice.expiresAt.getTime() <= this.#now()) {
      log.info(about, 'link expired before its notice could be sent; nothing sent');
      return 'expired';
    }
    const mailed = await this.#o.sentMails.wasSent(notice.eventId);
    const posted = webhook ? await webhook.sent.wasSent(notice.eventId) : true;
    if (mailed && posted) {
      log.info(about, 'notice already sent for this event; not sending it again');
      return 'already_sent';
    }
    const contact = await this.#o.contacts.contactOf(notice.ownerId);
    if (!contact?.emailVerified) {
      log.info(
        { ...about, owner: contact ? 'unverified' : 'none' },
        'the owner has no verified address; no notice sent',
      );
      return 'no_verified_address';
    }
    if (!mailed) {
      const mail = composeExpiryMail(notice, contact.email, this.#o.publicBaseUrl);
      const where = await this.#o.mailer.send(mail, `${notice.eventId}-${KIND}`);
      log.info({ ...about, where }, 'expiry notice mailed');
      await this.#record(this.#o.sentMails, notice.eventId, about);
    }
    if (webhook && !posted) {
      await webhook.hook.post(expiryWebhookText(notice, this.#o.publicBaseUrl));
      log.info(about, 'expiry notice posted to the webhook');
      await this.#record(webhook.sent, notice.eventId, about);
    }
    return 'sent';
  }

  async #record(sent: SentMails, eventId: string, about: object): Promise<void> {
    try {
      await sent.record(eventId, KIND, this.#now());
    } catch (error) {
      // It is out: failing now would only send it again. A redelivery may.
      this.#o.log.warn({ ...about, err: error }, 'notice sent but not recorded as sent');
    }
  }
}
