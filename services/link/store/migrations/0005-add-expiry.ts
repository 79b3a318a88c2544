import type { MigrationStep } from '../../../../lib/db/migrations.ts';

/**
 * What expiry by use, visit limits and expiry notices need on a link
 * (docs/decisions/0007-expiry.md):
 * - `owner_kind`: `guest` or `member`, so notices go to members only (links
 *   made before this migration count as guests': they get no notice);
 * - `max_visits` and `exhausted_at`: the visit limit, and when the visit
 *   counter first refused a visit (the link answers 410 for good, even if
 *   the counter in Redis is lost);
 * - `extended_to`: the idle expiry never comes before it (ExtendLink);
 * - `notice_for`, `notice_event_id`, `notice_lease_until`: the expiry the
 *   last notice was claimed for, its event id (the same for every publish of
 *   it), and until when the claimer holds it (null once it is published).
 */
export const addExpiry: MigrationStep = {
  name: '0005_add_expiry',
  up: {
    mysql: [
      `alter table \`links\`
        add column \`owner_kind\` varchar(8) character set ascii not null default 'guest',
        add column \`max_visits\` int null,
        add column \`exhausted_at\` datetime(3) null,
        add column \`extended_to\` datetime(3) null,
        add column \`notice_for\` datetime(3) null,
        add column \`notice_event_id\` bigint null,
        add column \`notice_lease_until\` datetime(3) null`,
    ],
    sqlite: [
      "alter table `links` add column `owner_kind` varchar(8) not null default 'guest'",
      'alter table `links` add column `max_visits` integer null',
      'alter table `links` add column `exhausted_at` datetime null',
      'alter table `links` add column `extended_to` datetime null',
      'alter table `links` add column `notice_for` datetime null',
      'alter table `links` add column `notice_event_id` bigint null',
      'alter table `links` add column `notice_lease_until` datetime null',
    ],
  },
  down: [
    'alter table `links` drop column `owner_kind`',
    'alter table `links` drop column `max_visits`',
    'alter table `links` drop column `exhausted_at`',
    'alter table `links` drop column `extended_to`',
    'alter table `links` drop column `notice_for`',
    'alter table `links` drop column `notice_event_id`',
    'alter table `links` drop column `notice_lease_until`',
  ],
};
