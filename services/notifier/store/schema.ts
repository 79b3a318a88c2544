// The notifier store's schema: what openDatabase needs, for the service and
// its tests alike. Migrations run in this order; append, never edit.
import type { Schema } from '../../../lib/db/migrations.ts';
import { HealthProbeRow } from '../../../lib/db/probe.ts';
import { SentMailRow, SentWebhookRow } from './entities.ts';
import { createSentMails } from './migrations/0001-create-sent-mails.ts';
import { createNotifierHealthProbes } from './migrations/0002-create-health-probes.ts';
import { createSentWebhooks } from './migrations/0003-create-sent-webhooks.ts';

export const notifierSchema: Schema = {
  entities: [SentMailRow, SentWebhookRow, HealthProbeRow],
  migrations: [createSentMails, createNotifierHealthProbes, createSentWebhooks],
};
