import { Migration } from '../../../../lib/db.ts';

export class CreateLinks extends Migration {
  override name = '0001_create_links';

  override up(): void {
    // SQLite compares text byte for byte by default: codes are case-sensitive.
    this.addSql(`create table \`links\` (
      \`id\` bigint not null primary key,
      \`code\` varchar(32) not null,
      \`target_url\` text not null,
      \`url_hash\` char(64) null,
      \`owner_id\` bigint not null,
      \`created_at\` datetime not null,
      \`expires_at\` datetime null,
      \`deleted_at\` datetime null
    )`);
    this.addSql('create unique index `links_code_unique` on `links` (`code`)');
    this.addSql('create unique index `links_owner_url_unique` on `links` (`owner_id`, `url_hash`)');
    this.addSql('create index `links_owner_id_index` on `links` (`owner_id`, `id`)');
  }

  override down(): void {
    this.addSql('drop table `links`');
  }
}

export const SQLITE_MIGRATIONS = [CreateLinks];
