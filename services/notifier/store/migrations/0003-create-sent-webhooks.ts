import type { MigrationStep } from '../../../../lib/db/migrations.ts';

/** The webhook's own record: a notice may be mailed and not yet posted (or the reverse). */
export const createSentWebhooks: MigrationStep = {
  name: '0003_create_sent_webhooks',
  up: {
    mysql: [
      `create table \`sent_webhooks\` (
        \`event_id\` bigint not null,
        \`kind\` varchar(32) character set ascii collate ascii_bin not null,
        \`sent_at\` bigint not null,
        primary key (\`event_id\`)
      ) default character set utf8mb4 engine = InnoDB`,
    ],
    sqlite: [
      `create table \`sent_webhooks\` (
        \`event_id\` bigint not null primary key,
        \`kind\` varchar(32) not null,
        \`sent_at\` bigint not null
      )`,
    ],
  },
  down: ['drop table if exists `sent_webhooks`'],
};
