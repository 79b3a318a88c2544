import type { MigrationStep } from '../../../../lib/db/migrations.ts';

/**
 * What the sweeper looks for, indexed: links past their explicit expiry,
 * links whose visits ran out, and links idle since `idle_from` (the last use,
 * or the creation if never used; a virtual column, computed on read and kept
 * in its index). Each index starts at `deleted_at`, so a sweep reads only
 * live links that may have expired, not the whole table, and never the
 * tombstones it left (docs/decisions/0007-expiry.md).
 */
export const indexSweep: MigrationStep = {
  name: '0006_index_sweep',
  up: {
    mysql: [
      `alter table \`links\`
        add column \`idle_from\` datetime(3) as (coalesce(\`last_accessed_at\`, \`created_at\`)) virtual,
        add index \`links_sweep_dated_index\` (\`deleted_at\`, \`expires_at\`),
        add index \`links_sweep_exhausted_index\` (\`deleted_at\`, \`exhausted_at\`),
        add index \`links_sweep_idle_index\` (\`deleted_at\`, \`idle_from\`, \`extended_to\`)`,
    ],
    sqlite: [
      'alter table `links` add column `idle_from` datetime as (coalesce(`last_accessed_at`, `created_at`)) virtual',
      'create index `links_sweep_dated_index` on `links` (`deleted_at`, `expires_at`)',
      'create index `links_sweep_exhausted_index` on `links` (`deleted_at`, `exhausted_at`)',
      'create index `links_sweep_idle_index` on `links` (`deleted_at`, `idle_from`, `extended_to`)',
    ],
  },
  down: {
    mysql: [
      `alter table \`links\`
        drop index \`links_sweep_idle_index\`,
        drop index \`links_sweep_exhausted_index\`,
        drop index \`links_sweep_dated_index\`,
        drop column \`idle_from\``,
    ],
    sqlite: [
      'drop index `links_sweep_idle_index`',
      'drop index `links_sweep_exhausted_index`',
      'drop index `links_sweep_dated_index`',
      'alter table `links` drop column `idle_from`',
    ],
  },
};
