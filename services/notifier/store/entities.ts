// The notifier's tables as MikroORM sees them; the schema comes from the
// migrations beside this file. Read and written with plain SQL (sent-mails.ts).
import { defineEntity, type InferEntity, p } from '@mikro-orm/core';

/** A mail handed over, by the id of the event that asked for it: what makes a redelivery send nothing. */
export const SentMailRow = defineEntity({
  name: 'SentMailRow',
  tableName: 'sent_mails',
  properties: {
    eventId: p.bigint('string').primary().autoincrement(false).unsigned(false),
    kind: p.string().length(32).ignoreSchemaChanges('collation'),
    /** Milliseconds since the epoch (UTC). */
    sentAt: p.bigint('number'),
  },
});
export type SentMailRow = InferEntity<typeof SentMailRow>;

/** A notice posted to the webhook, by the id of the event: the webhook's own record of sent_mails. */
export const SentWebhookRow = defineEntity({
  name: 'SentWebhookRow',
  tableName: 'sent_webhooks',
  properties: {
    eventId: p.bigint('string').primary().autoincrement(false).unsigned(false),
    kind: p.string().length(32).ignoreSchemaChanges('collation'),
    /** Milliseconds since the epoch (UTC). */
    sentAt: p.bigint('number'),
  },
});
export type SentWebhookRow = InferEntity<typeof SentWebhookRow>;
