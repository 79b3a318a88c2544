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

/**
 * Members: signed-up accounts. A closed account keeps its row (its id is never
 * reused) but loses its email, which is then free again, and its password.
 */
export const MemberRow = defineEntity({
  name: 'MemberRow',
  tableName: 'members',
  properties: {
    id: p.bigint('string').primary().autoincrement(false).unsigned(false),
    /** Normalised (trimmed, NFC, lower-cased); unique among open accounts, null once closed. */
    email: p.string().length(254).nullable().ignoreSchemaChanges('collation', 'default'),
    /** argon2id in PHC string form; null once closed. */
    passwordHash: p.string().length(255).nullable().ignoreSchemaChanges('collation', 'default'),
    emailVerifiedAt: p.datetime().length(3).nullable(),
    createdAt: p.datetime().length(3),
    closedAt: p.datetime().length(3).nullable(),
    /** When link confirmed that a closed account's links are deleted; null until then. */
    linksDeletedAt: p.datetime().length(3).nullable(),
  },
  uniques: [{ name: 'members_email_unique', properties: ['email'] }],
  /** What the handover actor looks for: closed accounts whose links are not yet deleted. */
  indexes: [{ name: 'members_links_left_index', properties: ['linksDeletedAt', 'closedAt'] }],
});
export type MemberRow = InferEntity<typeof MemberRow>;

/** Which member adopted which guest: one member per guest, ever. */
export const GuestAdoptionRow = defineEntity({
  name: 'GuestAdoptionRow',
  tableName: 'guest_adoptions',
  properties: {
    guestId: p.bigint('string').primary().autoincrement(false).unsigned(false),
    memberId: p.bigint('string'),
    adoptedAt: p.datetime().length(3),
    /** When link confirmed the guest's links moved; null while that is still to do. */
    linksMovedAt: p.datetime().length(3).nullable(),
  },
  indexes: [
    { name: 'guest_adoptions_member_index', properties: ['memberId'] },
    /** What the handover actor looks for: adoptions whose links are not yet moved. */
    { name: 'guest_adoptions_links_left_index', properties: ['linksMovedAt', 'adoptedAt'] },
  ],
});
export type GuestAdoptionRow = InferEntity<typeof GuestAdoptionRow>;

/** Members' API keys, stored as SHA-256 hashes only: the key itself is shown once. */
export const ApiKeyRow = defineEntity({
  name: 'ApiKeyRow',
  tableName: 'api_keys',
  properties: {
    id: p.bigint('string').primary().autoincrement(false).unsigned(false),
    memberId: p.bigint('string'),
    name: p.string().length(100).ignoreSchemaChanges('collation'),
    keyHash: p.string().columnType('char(64)').ignoreSchemaChanges('collation'),
    createdAt: p.datetime().length(3),
    lastUsedAt: p.datetime().length(3).nullable(),
    revokedAt: p.datetime().length(3).nullable(),
  },
  uniques: [{ name: 'api_keys_key_hash_unique', properties: ['keyHash'] }],
  indexes: [{ name: 'api_keys_member_index', properties: ['memberId', 'id'] }],
});
export type ApiKeyRow = InferEntity<typeof ApiKeyRow>;

/** Single-use account tokens (password reset, email verification), stored as SHA-256 hashes. */
export const AccountTokenRow = defineEntity({
  name: 'AccountTokenRow',
  tableName: 'account_tokens',
  properties: {
    tokenHash: p.string().columnType('char(64)').primary().ignoreSchemaChanges('collation'),
    memberId: p.bigint('string'),
    /** `password_reset` or `email_verification`. */
    purpose: p.string().length(32).ignoreSchemaChanges('collation'),
    createdAt: p.datetime().length(3),
    expiresAt: p.datetime().length(3),
    usedAt: p.datetime().length(3).nullable(),
  },
  indexes: [{ name: 'account_tokens_member_index', properties: ['memberId'] }],
});
export type AccountTokenRow = InferEntity<typeof AccountTokenRow>;
