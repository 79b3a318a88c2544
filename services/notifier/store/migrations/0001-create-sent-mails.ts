import type { MigrationStep } from '../../../../lib/db/migrations.ts';

export const createSentMails: MigrationStep = {
  name: '0001_create_sent_mails',
  up: {
    mysql: [
      `create table \`sent_mails\` (
        \`event_id\` bigint not null,
        \`kind\` varchar(32) character set ascii collate ascii_bin not null,
        \`sent_at\` bigint not null,
        primary key (\`event_id\`)
      ) default character set utf8mb4 engine = InnoDB`,
    ],
    sqlite: [
      `create table \`sent_mails\` (
        \`event_id\` bigint not null primary key,
        \`kind\` varchar(32) not null,
        \`sent_at\` bigint not null
      )`,
    ],
  },
  down: ['drop table if exists `sent_mails`'],
};
