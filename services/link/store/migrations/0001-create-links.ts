import type { MigrationStep } from '../../../../lib/db/migrations.ts';

export const createLinks: MigrationStep = {
  name: '0001_create_links',
  up: {
    // Codes and URL hashes compare byte for byte: MariaDB's default collation
    // ignores case, which would make `aB3` and `Ab3` one code. SQLite compares
    // text byte for byte by default.
    mysql: [
      `create table \`links\` (
        \`id\` bigint not null,
        \`code\` varchar(32) character set ascii collate ascii_bin not null,
        \`target_url\` text character set utf8mb4 collate utf8mb4_bin not null,
        \`url_hash\` char(64) character set ascii collate ascii_bin null,
        \`owner_id\` bigint not null,
        \`created_at\` datetime(3) not null,
        \`expires_at\` datetime(3) null,
        \`deleted_at\` datetime(3) null,
        primary key (\`id\`),
        unique key \`links_code_unique\` (\`code\`),
        unique key \`links_owner_url_unique\` (\`owner_id\`, \`url_hash\`),
        key \`links_owner_id_index\` (\`owner_id\`, \`id\`)
      ) default character set utf8mb4 engine = InnoDB`,
    ],
    sqlite: [
      `create table \`links\` (
        \`id\` bigint not null primary key,
        \`code\` varchar(32) not null,
        \`target_url\` text not null,
        \`url_hash\` char(64) null,
        \`owner_id\` bigint not null,
        \`created_at\` datetime not null,
        \`expires_at\` datetime null,
        \`deleted_at\` datetime null
      )`,
      'create unique index `links_code_unique` on `links` (`code`)',
      'create unique index `links_owner_url_unique` on `links` (`owner_id`, `url_hash`)',
      'create index `links_owner_id_index` on `links` (`owner_id`, `id`)',
    ],
  },
  down: ['drop table `links`'],
};
