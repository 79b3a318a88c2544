import type { MigrationStep } from '../../../../lib/db/migrations.ts';

/**
 * When a link was last followed, as far as the last-access toucher has
 * written it (workers/last-access-toucher.ts); null until its first click is
 * written. The idle expiry counts from here.
 */
export const addLastAccessedAt: MigrationStep = {
  name: '0003_add_last_accessed_at',
  up: {
    mysql: ['alter table `links` add column `last_accessed_at` datetime(3) null'],
    sqlite: ['alter table `links` add column `last_accessed_at` datetime null'],
  },
  down: ['alter table `links` drop column `last_accessed_at`'],
};
