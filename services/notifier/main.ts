// Composition root of the notifier: its records of sent mails and posts, the
// mailer (SMTP, or the outbox folder when no SMTP server is named), the
// webhook (when one is named), the identity client that finds link owners'
// addresses, the mailers that consume identity's events and the actor that
// sends link's expiry notices. It serves no API of its own: its gRPC server
// answers grpc.health.v1 (SERVING once its consumers run) and reflection. The
// shared wiring is lib/service.ts.
import { Supervisor } from '../../lib/actors/supervisor.ts';
import { dialectOf } from '../../lib/db/migrations.ts';
import { runServiceProcess, type ServiceDefinition } from '../../lib/service.ts';
import { DEFAULT_PUBLIC_BASE_URL, type NotifierConfig, notifierSettings } from './config.ts';
import { AlertDelivery } from './domain/deliver-alert.ts';
import { MailDelivery } from './domain/deliver-mail.ts';
import { NoticeDelivery } from './domain/deliver-notice.ts';
import type { Mailer } from './mail/mailer.ts';
import { OutboxMailer } from './mail/outbox-mailer.ts';
import { SmtpMailer } from './mail/smtp-mailer.ts';
import { IdentityMemberContacts } from './members/member-contacts.ts';
import { notifierSchema } from './store/schema.ts';
import { SentMails } from './store/sent-mails.ts';
import { HttpWebhook } from './webhook/webhook.ts';
import { startExpiryNotices } from './workers/expiry-notices.ts';
import { startMailers } from './workers/mailers.ts';
import { startOpsAlerts } from './workers/ops-alerts.ts';

/** How long a webhook may take to answer a post. */
const WEBHOOK_TIMEOUT_MS = 10_000;

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
    async start({ runtime, log, orm, bus, onStop, shared, metrics, now }, config) {
      const mailer = openMailer(config);
      onStop('mailer', async () => mailer.close());
      if (mailer instanceof OutboxMailer) {
        log.info(
          { outbox: mailer.dir },
          'no SMTP server configured (NOTIFIER_SMTP_URL): mail is written as .eml files to the outbox',
        );
      }
      const dialect = dialectOf(config.databaseUrl);
      const sentMails = new SentMails(orm, dialect);
      const publicBaseUrl = config.publicBaseUrl ?? DEFAULT_PUBLIC_BASE_URL;
      const clock = options.now ? { now: options.now } : {};
      const delivery = new MailDelivery({ mailer, sent: sentMails, publicBaseUrl, log, ...clock });
      const contacts = new IdentityMemberContacts(config.identityTarget, runtime.grpcDeadlineMs);
      onStop('identity client', async () => contacts.close());
      const notices = new NoticeDelivery({
        mailer,
        contacts,
        sentMails,
        webhook: config.webhookUrl
          ? {
              hook: new HttpWebhook(config.webhookUrl, WEBHOOK_TIMEOUT_MS),
              sent: new SentMails(orm, dialect, 'sent_webhooks'),
            }
          : undefined,
        publicBaseUrl,
        log,
        ...clock,
      });
      const supervisor = new Supervisor({ log });
      onStop('actors', () => supervisor.stop());
      startMailers(delivery, { bus, onStop }, supervisor);
      startExpiryNotices(notices, { bus, onStop }, supervisor);
      const alerts = new AlertDelivery({
        hook: config.alerts.webhookUrl
          ? new HttpWebhook(config.alerts.webhookUrl, WEBHOOK_TIMEOUT_MS)
          : undefined,
        ledger: shared.alerts,
        limiter: shared.limiter,
        rate: config.alerts.rate,
        windowMs: config.alerts.windowMs,
        log,
        metrics,
        now: options.now ?? now,
      });
      startOpsAlerts(alerts, { bus, onStop }, supervisor);
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
