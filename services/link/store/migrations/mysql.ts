import { Migration } from '../../../../lib/db.ts';

export class CreateLinks extends Migration {
  override name = '0001_create_links';

  override up(): void {
    // Codes and URL hashes compare byte for byte: MariaDB's default collation
    // ignores case, which would make `aB3` and `Ab3` one code.
    this.addSql(`create table \`links\` (
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
    ) default character set utf8mb4 engine = InnoDB`);
  }

  override down(): void {
    this.addSql('drop table `links`');
  }
}

export const MYSQL_MIGRATIONS = [CreateLinks];
