// Identity's tables as MikroORM sees them; the schema comes from the migrations.
import { defineEntity, type InferEntity, p } from '@mikro-orm/core';

export const GuestRow = defineEntity({
  name: 'GuestRow',
  tableName: 'guests',
  properties: {
    id: p.bigint('string').primary().autoincrement(false).unsigned(false),
    createdAt: p.datetime().length(3),
  },
});
export type GuestRow = InferEntity<typeof GuestRow>;

/** Bearer tokens, stored as SHA-256 hashes only: the token itself is shown once. */
export const AccessTokenRow = defineEntity({
  name: 'AccessTokenRow',
  tableName: 'access_tokens',
  properties: {
    tokenHash: p.string().columnType('char(64)').primary().ignoreSchemaChanges('collation'),
    principalId: p.bigint('string'),
    principalKind: p.string().length(16).ignoreSchemaChanges('collation'),
    createdAt: p.datetime().length(3),
    expiresAt: p.datetime().length(3),
    revokedAt: p.datetime().length(3).nullable(),
  },
  indexes: [{ name: 'access_tokens_principal_index', properties: ['principalId'] }],
});
export type AccessTokenRow = InferEntity<typeof AccessTokenRow>;
