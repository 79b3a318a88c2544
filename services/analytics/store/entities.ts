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
 * Per link, UTC day and bot flag: how many visits had each value of each
 * dimension (`visits` and `visitors` with an empty value are the day's
 * totals). Updated in the transaction that records the visits.
 */
export const VisitRollupRow = defineEntity({
  name: 'VisitRollupRow',
  tableName: 'visit_rollups',
  properties: {
    linkId: p.bigint('string').primary().autoincrement(false).unsigned(false),
    /** Days since 1970-01-01 (UTC). */
    day: p.integer().primary().autoincrement(false).unsigned(false),
    bot: p.boolean().primary(),
    dimension: p.string().length(16).primary().ignoreSchemaChanges('collation'),
    value: p.string().length(255).primary().ignoreSchemaChanges('collation'),
    visits: p.bigint('number'),
  },
});
export type VisitRollupRow = InferEntity<typeof VisitRollupRow>;

/**
 * Each day's distinct visitors of a link, as salted hashes: what makes
 * `visitors` exact per day. Kept only while the day's count can still change.
 */
export const DailyVisitorRow = defineEntity({
  name: 'DailyVisitorRow',
  tableName: 'daily_visitors',
  properties: {
    linkId: p.bigint('string').primary().autoincrement(false).unsigned(false),
    day: p.integer().primary().autoincrement(false).unsigned(false),
    visitor: p.string().columnType('char(16)').primary().ignoreSchemaChanges('collation'),
    bot: p.boolean(),
    recordedBy: p.bigint('string'),
  },
  indexes: [{ name: 'daily_visitors_day_index', properties: ['day'] }],
});
export type DailyVisitorRow = InferEntity<typeof DailyVisitorRow>;

/** The random salt of each day's visitor hashes, shared by every replica; forgotten with the hashes. */
export const VisitorSaltRow = defineEntity({
  name: 'VisitorSaltRow',
  tableName: 'visitor_salts',
  properties: {
    day: p.integer().primary().autoincrement(false).unsigned(false),
    salt: p.string().columnType('char(32)').ignoreSchemaChanges('collation'),
  },
});
export type VisitorSaltRow = InferEntity<typeof VisitorSaltRow>;
