// The link table as MikroORM sees it. The schema itself comes from the
// migrations beside this file (one per dialect); keep both in step.
import { defineEntity, type InferEntity, p } from '@mikro-orm/core';

export const LinkRow = defineEntity({
  name: 'LinkRow',
  tableName: 'links',
  properties: {
    id: p.bigint('string').primary().autoincrement(false).unsigned(false),
    /** Case-sensitive: a binary collation on MySQL (see the migration). */
    code: p.string().length(32).ignoreSchemaChanges('collation'),
    targetUrl: p.text().ignoreSchemaChanges('collation'),
    /**
     * SHA-256 (hex) of the target URL while the link is live; cleared when it
     * is deleted or retired, so (owner, URL) is unique among live links only.
     */
    // MariaDB reports a nullable column's default as the text NULL, which
    // MikroORM reads back as the string 'NULL' for string columns: ignore it.
    urlHash: p
      .string()
      .columnType('char(64)')
      .nullable()
      .ignoreSchemaChanges('collation', 'default'),
    ownerId: p.bigint('string'),
    createdAt: p.datetime().length(3),
    expiresAt: p.datetime().length(3).nullable(),
    /** Deleted links stay as tombstones so their code is never issued again. */
    deletedAt: p.datetime().length(3).nullable(),
    /** The newest click written by the last-access toucher; it only ever moves forward. */
    lastAccessedAt: p.datetime().length(3).nullable(),
    // --- Expiry (migration 0005) ---
    ownerKind: p.string().length(8).default('guest').ignoreSchemaChanges('collation', 'default'),
    maxVisits: p.integer().nullable(),
    exhaustedAt: p.datetime().length(3).nullable(),
    extendedTo: p.datetime().length(3).nullable(),
    noticeFor: p.datetime().length(3).nullable(),
    noticeEventId: p.bigint('string').nullable().unsigned(false),
    noticeLeaseUntil: p.datetime().length(3).nullable(),
    // --- The sweeper's indexes (migration 0006) ---
    /** The last use, or the creation if never used: the idle expiry counts from here. Computed by the database. */
    idleFrom: p
      .datetime()
      .length(3)
      .nullable()
      .generated('(coalesce(`last_accessed_at`, `created_at`)) virtual'),
  },
  uniques: [
    { name: 'links_code_unique', properties: ['code'] },
    { name: 'links_owner_url_unique', properties: ['ownerId', 'urlHash'] },
  ],
  indexes: [
    { name: 'links_owner_id_index', properties: ['ownerId', 'id'] },
    { name: 'links_sweep_dated_index', properties: ['deletedAt', 'expiresAt'] },
    { name: 'links_sweep_exhausted_index', properties: ['deletedAt', 'exhaustedAt'] },
    { name: 'links_sweep_idle_index', properties: ['deletedAt', 'idleFrom', 'extendedTo'] },
  ],
});

export type LinkRow = InferEntity<typeof LinkRow>;

/** Guests whose links a member adopted: the guest creates no more links. */
export const GuestAdoptionRow = defineEntity({
  name: 'GuestAdoptionRow',
  tableName: 'guest_adoptions',
  properties: {
    guestId: p.bigint('string').primary().autoincrement(false).unsigned(false),
    memberId: p.bigint('string'),
    adoptedAt: p.datetime().length(3),
  },
});

export type GuestAdoptionRow = InferEntity<typeof GuestAdoptionRow>;
