// The analytics tables as MikroORM sees them. The schema itself comes from the
// migrations beside this file (one per dialect where they differ); keep both
// in step. The store reads and writes them with plain SQL (visit-store.ts):
// recording is a few multi-row statements, not one entity per visit.
import { defineEntity, type InferEntity, p } from '@mikro-orm/core';

/** One visit, keyed by the id of the click event it was recorded from. */
export const VisitRow = defineEntity({
  name: 'VisitRow',
  tableName: 'visits',
  properties: {
    id: p.bigint('string').primary().autoincrement(false).unsigned(false),
    linkId: p.bigint('string'),
    /** Case-sensitive: a binary collation on MySQL. */
    code: p.string().length(32).ignoreSchemaChanges('collation'),
    /** Milliseconds since the epoch (UTC): the same number on both dialects. */
    visitedAt: p.bigint('number'),
    ip: p.string().length(45).ignoreSchemaChanges('collation'),
    userAgent: p.string().length(512).ignoreSchemaChanges('collation'),
    referer: p.string().length(2048).ignoreSchemaChanges('collation'),
    acceptLanguage: p.string().length(255).ignoreSchemaChanges('collation'),
    browser: p.string().length(64).ignoreSchemaChanges('collation'),
    os: p.string().length(64).ignoreSchemaChanges('collation'),
    device: p.string().length(16).ignoreSchemaChanges('collation'),
    bot: p.boolean(),
    /** Random per recording transaction: tells which rows of a batch this transaction inserted. */
    recordedBy: p.bigint('string'),
  },
  indexes: [{ name: 'visits_link_time_index', properties: ['linkId', 'visitedAt', 'id'] }],
});
export type VisitRow = InferEntity<typeof VisitRow>;

/**
 * Per link, UTC day and bot flag: the day's visits, distinct visitors (a
 * count and a HyperLogLog sketch) and breakdowns (JSON: visits per value of
 * each dimension). Updated in the transaction that records the visits.
 */
export const LinkDayRow = defineEntity({
  name: 'LinkDayRow',
  tableName: 'link_days',
  properties: {
    linkId: p.bigint('string').primary().autoincrement(false).unsigned(false),
    /** Days since 1970-01-01 (UTC). */
    day: p.integer().primary().autoincrement(false).unsigned(false),
    bot: p.boolean().primary(),
    visits: p.bigint('number'),
    visitors: p.bigint('number'),
    /** Visitors counted before sketches were kept (migration 0003): in `visitors`, in no sketch. */
    unsketchedVisitors: p.bigint('number'),
    sketch: p.blob(),
    facets: p.text().columnType('mediumtext').ignoreSchemaChanges('collation'),
  },
});
export type LinkDayRow = InferEntity<typeof LinkDayRow>;

/** The random salt of visitor hashes, one row, shared by every replica. */
export const VisitorSaltRow = defineEntity({
  name: 'VisitorSaltRow',
  tableName: 'visitor_salt',
  properties: {
    id: p.integer().primary().autoincrement(false).unsigned(false).columnType('tinyint'),
    salt: p.string().columnType('char(32)').ignoreSchemaChanges('collation'),
  },
});
export type VisitorSaltRow = InferEntity<typeof VisitorSaltRow>;
