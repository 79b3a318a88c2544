// The notifier's one table as MikroORM sees it; the schema comes from the
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
