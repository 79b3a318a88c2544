// Composition root of the notifier: its record of sent mails, the mailer
// (SMTP, or the outbox folder when no SMTP server is named), and the mailers
// that consume identity's events. It serves no API of its own: its gRPC server
// answers grpc.health.v1 (SERVING once its consumers run) and reflection. The
// shared wiring is lib/service.ts.
import { Supervisor } from '../../lib/actors/supervisor.ts';
import { dialectOf } from '../../lib/db/migrations.ts';
import { runServiceProcess, type ServiceDefinition } from '../../lib/service.ts';
import { DEFAULT_PUBLIC_BASE_URL, type NotifierConfig, notifierSettings } from './config.ts';
import { MailDelivery } from './domain/deliver-mail.ts';
import type { Mailer } from './mail/mailer.ts';
import { OutboxMailer } from './mail/outbox-mailer.ts';
import { SmtpMailer } from './mail/smtp-mailer.ts';
import { notifierSchema } from './store/schema.ts';
import { SentMails } from './store/sent-mails.ts';
import { startMailers } from './workers/mailers.ts';

export interface NotifierOptions {
  /** The service's clock (tests set one); Date.now otherwise. */
  now?: () => number;
}

export function defineNotifierService(
  options: NotifierOptions = {},
): ServiceDefinition<NotifierConfig> {
  return {
    name: 'notifier',
    settings: notifierSettings,
    schema: notifierSchema,
    async start({ log, orm, bus, onStop }, config) {
      const mailer = openMailer(config);
      onStop('mailer', async () => mailer.close());
      if (mailer instanceof OutboxMailer) {
        log.info(
          { outbox: mailer.dir },
          'no SMTP server configured (NOTIFIER_SMTP_URL): mail is written as .eml files to the outbox',
        );
      }
      const delivery = new MailDelivery({
        mailer,
        sent: new SentMails(orm, dialectOf(config.databaseUrl)),
        publicBaseUrl: config.publicBaseUrl ?? DEFAULT_PUBLIC_BASE_URL,
        log,
        ...(options.now ? { now: options.now } : {}),
      });
      const supervisor = new Supervisor({ log });
      onStop('actors', () => supervisor.stop());
      startMailers(delivery, { bus, onStop }, supervisor);
      return [];
    },
  };
}

export const notifierService = defineNotifierService();

function openMailer(config: NotifierConfig): Mailer {
  if (!config.smtpUrl) return new OutboxMailer(config.outboxDir, config.from);
  return new SmtpMailer({
    url: config.smtpUrl,
    from: config.from,
    timeoutMs: config.smtpTimeoutMs,
  });
}

if (import.meta.main) await runServiceProcess(notifierService);
