import { Migration } from '../../../../lib/db.ts';

export class CreateGuestsAndTokens extends Migration {
  override name = '0001_create_guests_and_tokens';

  override up(): void {
    this.addSql(
      'create table `guests` (`id` bigint not null primary key, `created_at` datetime not null)',
    );
    this.addSql(`create table \`access_tokens\` (
      \`token_hash\` char(64) not null primary key,
      \`principal_id\` bigint not null,
      \`principal_kind\` varchar(16) not null,
      \`created_at\` datetime not null,
      \`expires_at\` datetime not null,
      \`revoked_at\` datetime null
    )`);
    this.addSql('create index `access_tokens_principal_index` on `access_tokens` (`principal_id`)');
  }

  override down(): void {
    this.addSql('drop table `access_tokens`');
    this.addSql('drop table `guests`');
  }
}

export const SQLITE_MIGRATIONS = [CreateGuestsAndTokens];
