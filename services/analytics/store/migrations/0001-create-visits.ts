import type { MigrationStep } from '../../../../lib/db/migrations.ts';

export const createVisits: MigrationStep = {
  name: '0001_create_visits',
  up: {
    // Codes, rollup keys and hashes compare byte for byte: MariaDB's default
    // collation ignores case. SQLite compares text byte for byte by default.
    mysql: [
      `create table \`visits\` (
        \`id\` bigint not null,
        \`link_id\` bigint not null,
        \`code\` varchar(32) character set ascii collate ascii_bin not null,
        \`visited_at\` bigint not null,
        \`ip\` varchar(45) character set ascii collate ascii_bin not null,
        \`user_agent\` varchar(512) character set utf8mb4 collate utf8mb4_bin not null,
        \`referer\` varchar(2048) character set utf8mb4 collate utf8mb4_bin not null,
        \`accept_language\` varchar(255) character set utf8mb4 collate utf8mb4_bin not null,
        \`browser\` varchar(64) character set ascii collate ascii_bin not null,
        \`os\` varchar(64) character set ascii collate ascii_bin not null,
        \`device\` varchar(16) character set ascii collate ascii_bin not null,
        \`bot\` tinyint(1) not null,
        \`recorded_by\` bigint not null,
        primary key (\`id\`),
        key \`visits_link_time_index\` (\`link_id\`, \`visited_at\`, \`id\`)
      ) default character set utf8mb4 engine = InnoDB`,
      `create table \`visit_rollups\` (
        \`link_id\` bigint not null,
        \`day\` int not null,
        \`bot\` tinyint(1) not null,
        \`dimension\` varchar(16) character set ascii collate ascii_bin not null,
        \`value\` varchar(255) character set ascii collate ascii_bin not null,
        \`visits\` bigint not null,
        primary key (\`link_id\`, \`day\`, \`bot\`, \`dimension\`, \`value\`)
      ) default character set utf8mb4 engine = InnoDB`,
      `create table \`daily_visitors\` (
        \`link_id\` bigint not null,
        \`day\` int not null,
        \`visitor\` char(16) character set ascii collate ascii_bin not null,
        \`bot\` tinyint(1) not null,
        \`recorded_by\` bigint not null,
        primary key (\`link_id\`, \`day\`, \`visitor\`),
        key \`daily_visitors_day_index\` (\`day\`)
      ) default character set utf8mb4 engine = InnoDB`,
      `create table \`visitor_salts\` (
        \`day\` int not null,
        \`salt\` char(32) character set ascii collate ascii_bin not null,
        primary key (\`day\`)
      ) default character set utf8mb4 engine = InnoDB`,
    ],
    sqlite: [
      `create table \`visits\` (
        \`id\` bigint not null primary key,
        \`link_id\` bigint not null,
        \`code\` varchar(32) not null,
        \`visited_at\` bigint not null,
        \`ip\` varchar(45) not null,
        \`user_agent\` varchar(512) not null,
        \`referer\` varchar(2048) not null,
        \`accept_language\` varchar(255) not null,
        \`browser\` varchar(64) not null,
        \`os\` varchar(64) not null,
        \`device\` varchar(16) not null,
        \`bot\` integer not null,
        \`recorded_by\` bigint not null
      )`,
      'create index `visits_link_time_index` on `visits` (`link_id`, `visited_at`, `id`)',
      `create table \`visit_rollups\` (
        \`link_id\` bigint not null,
        \`day\` integer not null,
        \`bot\` integer not null,
        \`dimension\` varchar(16) not null,
        \`value\` varchar(255) not null,
        \`visits\` bigint not null,
        primary key (\`link_id\`, \`day\`, \`bot\`, \`dimension\`, \`value\`)
      )`,
      `create table \`daily_visitors\` (
        \`link_id\` bigint not null,
        \`day\` integer not null,
        \`visitor\` char(16) not null,
        \`bot\` integer not null,
        \`recorded_by\` bigint not null,
        primary key (\`link_id\`, \`day\`, \`visitor\`)
      )`,
      'create index `daily_visitors_day_index` on `daily_visitors` (`day`)',
      `create table \`visitor_salts\` (
        \`day\` integer not null primary key,
        \`salt\` char(32) not null
      )`,
    ],
  },
  down: [
    'drop table `visitor_salts`',
    'drop table `daily_visitors`',
    'drop table `visit_rollups`',
    'drop table `visits`',
  ],
};
