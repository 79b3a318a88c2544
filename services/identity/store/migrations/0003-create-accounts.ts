import type { MigrationStep } from '../../../../lib/db/migrations.ts';

/**
 * Members and what belongs to them: guests they adopted, API keys, and
 * single-use account tokens. Hashes and kinds compare byte for byte; emails
 * too (they are normalised before they are stored), so uniqueness never
 * depends on a collation's idea of equal.
 */
export const createAccounts: MigrationStep = {
  name: '0003_create_accounts',
  up: {
    mysql: [
      `create table \`members\` (
        \`id\` bigint not null,
        \`email\` varchar(254) character set utf8mb4 collate utf8mb4_bin null,
        \`password_hash\` varchar(255) character set ascii collate ascii_bin null,
        \`email_verified_at\` datetime(3) null,
        \`created_at\` datetime(3) not null,
        \`closed_at\` datetime(3) null,
        \`links_deleted_at\` datetime(3) null,
        primary key (\`id\`),
        unique key \`members_email_unique\` (\`email\`),
        key \`members_links_left_index\` (\`links_deleted_at\`, \`closed_at\`)
      ) default character set utf8mb4 engine = InnoDB`,
      `create table \`guest_adoptions\` (
        \`guest_id\` bigint not null,
        \`member_id\` bigint not null,
        \`adopted_at\` datetime(3) not null,
        \`links_moved_at\` datetime(3) null,
        primary key (\`guest_id\`),
        key \`guest_adoptions_member_index\` (\`member_id\`),
        key \`guest_adoptions_links_left_index\` (\`links_moved_at\`, \`adopted_at\`)
      ) default character set utf8mb4 engine = InnoDB`,
      `create table \`api_keys\` (
        \`id\` bigint not null,
        \`member_id\` bigint not null,
        \`name\` varchar(100) character set utf8mb4 collate utf8mb4_bin not null,
        \`key_hash\` char(64) character set ascii collate ascii_bin not null,
        \`created_at\` datetime(3) not null,
        \`last_used_at\` datetime(3) null,
        \`revoked_at\` datetime(3) null,
        primary key (\`id\`),
        unique key \`api_keys_key_hash_unique\` (\`key_hash\`),
        key \`api_keys_member_index\` (\`member_id\`, \`id\`)
      ) default character set utf8mb4 engine = InnoDB`,
      `create table \`account_tokens\` (
        \`token_hash\` char(64) character set ascii collate ascii_bin not null,
        \`member_id\` bigint not null,
        \`purpose\` varchar(32) character set ascii collate ascii_bin not null,
        \`created_at\` datetime(3) not null,
        \`expires_at\` datetime(3) not null,
        \`used_at\` datetime(3) null,
        primary key (\`token_hash\`),
        key \`account_tokens_member_index\` (\`member_id\`)
      ) default character set utf8mb4 engine = InnoDB`,
    ],
    sqlite: [
      `create table \`members\` (
        \`id\` bigint not null primary key,
        \`email\` varchar(254) null,
        \`password_hash\` varchar(255) null,
        \`email_verified_at\` datetime null,
        \`created_at\` datetime not null,
        \`closed_at\` datetime null,
        \`links_deleted_at\` datetime null
      )`,
      'create unique index `members_email_unique` on `members` (`email`)',
      'create index `members_links_left_index` on `members` (`links_deleted_at`, `closed_at`)',
      `create table \`guest_adoptions\` (
        \`guest_id\` bigint not null primary key,
        \`member_id\` bigint not null,
        \`adopted_at\` datetime not null,
        \`links_moved_at\` datetime null
      )`,
      'create index `guest_adoptions_member_index` on `guest_adoptions` (`member_id`)',
      'create index `guest_adoptions_links_left_index` on `guest_adoptions` (`links_moved_at`, `adopted_at`)',
      `create table \`api_keys\` (
        \`id\` bigint not null primary key,
        \`member_id\` bigint not null,
        \`name\` varchar(100) not null,
        \`key_hash\` char(64) not null,
        \`created_at\` datetime not null,
        \`last_used_at\` datetime null,
        \`revoked_at\` datetime null
      )`,
      'create unique index `api_keys_key_hash_unique` on `api_keys` (`key_hash`)',
      'create index `api_keys_member_index` on `api_keys` (`member_id`, `id`)',
      `create table \`account_tokens\` (
        \`token_hash\` char(64) not null primary key,
        \`member_id\` bigint not null,
        \`purpose\` varchar(32) not null,
        \`created_at\` datetime not null,
        \`expires_at\` datetime not null,
        \`used_at\` datetime null
      )`,
      'create index `account_tokens_member_index` on `account_tokens` (`member_id`)',
    ],
  },
  down: [
    'drop table `account_tokens`',
    'drop table `api_keys`',
    'drop table `guest_adoptions`',
    'drop table `members`',
  ],
};
