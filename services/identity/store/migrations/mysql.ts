import { Migration } from '../../../../lib/db.ts';

export class CreateGuestsAndTokens extends Migration {
  override name = '0001_create_guests_and_tokens';

  override up(): void {
    this.addSql(`create table \`guests\` (
      \`id\` bigint not null,
      \`created_at\` datetime(3) not null,
      primary key (\`id\`)
    ) default character set utf8mb4 engine = InnoDB`);
    this.addSql(`create table \`access_tokens\` (
      \`token_hash\` char(64) character set ascii collate ascii_bin not null,
      \`principal_id\` bigint not null,
      \`principal_kind\` varchar(16) character set ascii collate ascii_bin not null,
      \`created_at\` datetime(3) not null,
      \`expires_at\` datetime(3) not null,
      \`revoked_at\` datetime(3) null,
      primary key (\`token_hash\`),
      key \`access_tokens_principal_index\` (\`principal_id\`)
    ) default character set utf8mb4 engine = InnoDB`);
  }

  override down(): void {
    this.addSql('drop table `access_tokens`');
    this.addSql('drop table `guests`');
  }
}

export const MYSQL_MIGRATIONS = [CreateGuestsAndTokens];
