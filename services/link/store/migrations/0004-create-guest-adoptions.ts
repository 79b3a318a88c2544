import type { MigrationStep } from '../../../../lib/db/migrations.ts';

/**
 * Guests whose links a member adopted (AdoptGuestLinks): one member per
 * guest, ever. Such a guest creates no more links, so none can be left
 * behind with it.
 */
export const createGuestAdoptions: MigrationStep = {
  name: '0004_create_guest_adoptions',
  up: {
    mysql: [
      `create table \`guest_adoptions\` (
        \`guest_id\` bigint not null,
        \`member_id\` bigint not null,
        \`adopted_at\` datetime(3) not null,
        primary key (\`guest_id\`)
      ) default character set utf8mb4 engine = InnoDB`,
    ],
    sqlite: [
      `create table \`guest_adoptions\` (
        \`guest_id\` bigint not null primary key,
        \`member_id\` bigint not null,
        \`adopted_at\` datetime not null
      )`,
    ],
  },
  down: ['drop table `guest_adoptions`'],
};
