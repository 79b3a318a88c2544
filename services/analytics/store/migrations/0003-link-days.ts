import type { Dialect, MigrationStep } from '../../../../lib/db/migrations.ts';
import { createVisits } from './0001-create-visits.ts';

// One row per link, UTC day and bot flag holds the day's visits, its distinct
// visitors (a count and a sketch) and its breakdowns, in place of a row per
// dimension and value (`visit_rollups`) and a row per visitor
// (`daily_visitors`): recording a batch now writes its visits and one row
// per link and day, where it wrote up to nine rows per visit.
//
// Days recorded before keep their visits, breakdowns and distinct visitors
// (`visitors`, and `unsketched_visitors`: those no sketch holds), with an
// empty sketch. The visitor hashes and their daily
// salts are dropped: sketches take one salt for every day, so a visitor who
// comes on two days is recognised (docs/decisions/0005-analytics.md).
//
// `facets` is JSON text, {"<dimension>": {"<value>": visits}}.

const totals = (emptySketch: string) => `
  insert into \`link_days\` (\`link_id\`, \`day\`, \`bot\`, \`visits\`, \`visitors\`,
    \`unsketched_visitors\`, \`sketch\`, \`facets\`)
  select \`link_id\`, \`day\`, \`bot\`,
    sum(case when \`dimension\` = 'visits' then \`visits\` else 0 end),
    sum(case when \`dimension\` = 'visitors' then \`visits\` else 0 end),
    sum(case when \`dimension\` = 'visitors' then \`visits\` else 0 end),
    ${emptySketch}, '{}'
  from \`visit_rollups\` group by \`link_id\`, \`day\`, \`bot\``;

export const createLinkDays: MigrationStep = {
  name: '0003_link_days',
  up: {
    mysql: [
      `create table \`link_days\` (
        \`link_id\` bigint not null,
        \`day\` int not null,
        \`bot\` tinyint(1) not null,
        \`visits\` bigint not null,
        \`visitors\` bigint not null,
        \`unsketched_visitors\` bigint not null,
        \`sketch\` blob not null,
        \`facets\` mediumtext character set utf8mb4 collate utf8mb4_bin not null,
        primary key (\`link_id\`, \`day\`, \`bot\`)
      ) default character set utf8mb4 engine = InnoDB`,
      totals("''"),
      `update \`link_days\` as \`d\` join (
        select \`link_id\`, \`day\`, \`bot\`, concat('{', group_concat(\`entry\` separator ','), '}') as \`facets\`
        from (
          select \`link_id\`, \`day\`, \`bot\`, concat(json_quote(\`dimension\`), ':{',
            group_concat(concat(json_quote(\`value\`), ':', \`visits\`) separator ','), '}') as \`entry\`
          from \`visit_rollups\` where \`dimension\` not in ('visits', 'visitors')
          group by \`link_id\`, \`day\`, \`bot\`, \`dimension\`
        ) as \`per_dimension\`
        group by \`link_id\`, \`day\`, \`bot\`
      ) as \`f\` on \`f\`.\`link_id\` = \`d\`.\`link_id\` and \`f\`.\`day\` = \`d\`.\`day\` and \`f\`.\`bot\` = \`d\`.\`bot\`
      set \`d\`.\`facets\` = \`f\`.\`facets\``,
      'drop table `visit_rollups`',
      'drop table `daily_visitors`',
      'drop table `visitor_salts`',
      `create table \`visitor_salt\` (
        \`id\` tinyint not null,
        \`salt\` char(32) character set ascii collate ascii_bin not null,
        primary key (\`id\`)
      ) default character set utf8mb4 engine = InnoDB`,
    ],
    sqlite: [
      `create table \`link_days\` (
        \`link_id\` bigint not null,
        \`day\` integer not null,
        \`bot\` integer not null,
        \`visits\` bigint not null,
        \`visitors\` bigint not null,
        \`unsketched_visitors\` bigint not null,
        \`sketch\` blob not null,
        \`facets\` mediumtext not null,
        primary key (\`link_id\`, \`day\`, \`bot\`)
      )`,
      totals("x''"),
      `update \`link_days\` set \`facets\` = \`f\`.\`facets\` from (
        select \`link_id\`, \`day\`, \`bot\`, '{' || group_concat(\`entry\`, ',') || '}' as \`facets\`
        from (
          select \`link_id\`, \`day\`, \`bot\`, json_quote(\`dimension\`) || ':{' ||
            group_concat(json_quote(\`value\`) || ':' || \`visits\`, ',') || '}' as \`entry\`
          from \`visit_rollups\` where \`dimension\` not in ('visits', 'visitors')
          group by \`link_id\`, \`day\`, \`bot\`, \`dimension\`
        )
        group by \`link_id\`, \`day\`, \`bot\`
      ) as \`f\`
      where \`f\`.\`link_id\` = \`link_days\`.\`link_id\` and \`f\`.\`day\` = \`link_days\`.\`day\`
        and \`f\`.\`bot\` = \`link_days\`.\`bot\``,
      'drop table `visit_rollups`',
      'drop table `daily_visitors`',
      'drop table `visitor_salts`',
      `create table \`visitor_salt\` (
        \`id\` integer not null primary key,
        \`salt\` char(32) not null
      )`,
    ],
  },
  // Back to the tables of 0001, with each day's visits and visitors; the
  // breakdowns and sketches are not carried back.
  down: {
    mysql: [
      'drop table `visitor_salt`',
      ...replacedTables('mysql'),
      ...downTotals(),
      'drop table `link_days`',
    ],
    sqlite: [
      'drop table `visitor_salt`',
      ...replacedTables('sqlite'),
      ...downTotals(),
      'drop table `link_days`',
    ],
  },
};

/** 0001's statements but those of the `visits` table: the tables this migration replaced. */
function replacedTables(dialect: Dialect): readonly string[] {
  const statements = (createVisits.up as Readonly<Record<Dialect, readonly string[]>>)[dialect];
  return statements.filter(
    (sql) => !sql.startsWith('create table `visits`') && !sql.includes(' on `visits`'),
  );
}

function downTotals(): string[] {
  return ['visits', 'visitors'].map(
    (
      column,
    ) => `insert into \`visit_rollups\` (\`link_id\`, \`day\`, \`bot\`, \`dimension\`, \`value\`, \`visits\`)
      select \`link_id\`, \`day\`, \`bot\`, '${column}', '', \`${column}\` from \`link_days\``,
  );
}
