import type { MigrationStep } from '../../../../lib/db/migrations.ts';

export const createGuestsAndTokens: MigrationStep = {
  name: '0001_create_guests_and_tokens',
  up: {
    mysql: [
      `create table \`guests\` (
        \`id\` bigint not null,
        \`created_at\` datetime(3) not null,
        primary key (\`id\`)
      ) default character set utf8mb4 engine = InnoDB`,
      `create table \`access_tokens\` (
        \`token_hash\` char(64) character set ascii collate ascii_bin not null,
        \`principal_id\` bigint not null,
        \`principal_kind\` varchar(16) character set ascii collate ascii_bin not null,
        \`created_at\` datetime(3) not null,
        \`expires_at\` datetime(3) not null,
        \`revoked_at\` datetime(3) null,
        primary key (\`token_hash\`),
        key \`access_tokens_principal_index\` (\`principal_id\`)
      ) default character set utf8mb4 engine = InnoDB`,
    ],
    sqlite: [
      'create table `guests` (`id` bigint not null primary key, `created_at` datetime not null)',
      `create table \`access_tokens\` (
        \`token_hash\` char(64) not null primary key,
        \`principal_id\` bigint not null,
        \`principal_kind\` varchar(16) not null,
        \`created_at\` datetime not null,
        \`expires_at\` datetime not null,
        \`revoked_at\` datetime null
      )`,
      'create index `access_tokens_principal_index` on `access_tokens` (`principal_id`)',
    ],
  },
  down: ['drop table `access_tokens`', 'drop table `guests`'],
};
