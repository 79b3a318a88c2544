// Visits and their per-day rollups, in plain SQL through MikroORM's
// connection (a batch is a few multi-row statements, not an entity each).
//
// Recording a batch is one transaction, idempotent by event id: the visits
// are inserted ignoring ids already there, and only the visits this
// transaction inserted move the rollups. Which ones those are is told by the
// insert's count of rows stored and, when some were not, by a random token
// the transaction writes into its rows (`recorded_by`): a row another
// delivery of the same event inserted carries another token, and a row
// another transaction is inserting at the same moment blocks ours until it
// commits, after which ours is ignored. So a redelivered batch, even one
// recorded concurrently by two consumers, changes nothing.
//
// Each link's day (humans and bots apart) is one `link_days` row: visits,
// distinct visitors (a count and its sketch) and breakdowns. The batch reads
// the rows it touches under lock, adds to them and writes them back whole.
import { randomBytes } from 'node:crypto';
import { DeadlockException, LockWaitTimeoutException, type QueryResult } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { LRUCache } from 'lru-cache';
import { inCall } from '../../../lib/db/call-fork.ts';
import { translateDatabaseError as translate } from '../../../lib/db/errors.ts';
import type { Dialect } from '../../../lib/db/migrations.ts';
import type { Orm } from '../../../lib/db/open.ts';
import type { RecordedVisit, Visit } from '../domain/click.ts';
import { VisitorSketch } from '../domain/visitor-sketch.ts';
import { LinkDayRow, VisitRow } from './entities.ts';

/** Rows per statement: well inside every dialect's limit on bound parameters. */
const CHUNK = 500;
/** A transaction that lost a deadlock is run again this many times. */
const ATTEMPTS = 4;

/** The dimensions a visit is broken down by (every visit adds one to each). */
export const BREAKDOWNS = ['referrer', 'browser', 'os', 'device', 'language'] as const;
export type Breakdown = (typeof BREAKDOWNS)[number];

/**
 * Distinct values a day keeps per dimension; the visits of any further
 * value count under OTHER_VALUE, so a day's row stays small however many
 * referrers a link collects.
 */
export const MAX_VALUES_PER_DAY = 200;
export const OTHER_VALUE = '(other)';

/**
 * Visits per value of each dimension, as stored (parsed JSON: own properties
 * only; values are visitor-supplied text, `__proto__` included, so read them
 * with Object.entries, never by indexing with a value).
 */
export type Facets = Partial<Record<Breakdown, Readonly<Record<string, number>>>>;

/** Facets being added to: Maps, which take any value as a key. */
type FacetCounts = Partial<Record<Breakdown, Map<string, number>>>;

/** One link's day, humans or bots, as the rollup row holds it. */
export interface LinkDay {
  day: number;
  bot: boolean;
  visits: number;
  /** Distinct visitors of the day. */
  visitors: number;
  /** Of those, the ones counted before sketches were kept (migration 0003), which the sketch lacks. */
  unsketchedVisitors: number;
  /**
   * The day's visitors as a stored VisitorSketch, mergeable with other days'
   * (VisitorSketch.union); empty for days recorded before sketches.
   */
  sketch: Uint8Array;
  facets: Facets;
}

/** The columns of a visit row, in the order visitRow gives their values. */
export const VISIT_COLUMNS = [
  'id',
  'link_id',
  'code',
  'visited_at',
  'ip',
  'user_agent',
  'referer',
  'accept_language',
  'browser',
  'os',
  'device',
  'bot',
  'recorded_by',
] as const;

/** A visit as the values of its row (VISIT_COLUMNS), written by the transaction `recordedBy`. */
export function visitRow(v: Visit, recordedBy: string): unknown[] {
  return [
    v.id,
    v.linkId,
    v.code,
    v.visitedAt.getTime(),
    v.ip,
    v.userAgent,
    v.referer,
    v.acceptLanguage,
    v.browser,
    v.os,
    v.device,
    v.bot ? 1 : 0,
    recordedBy,
  ];
}

/** Where a page of visits ends: the next page starts below it. */
export interface VisitCursor {
  visitedAt: number;
  id: string;
}

type Row = Record<string, unknown>;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

const placeholders = (columns: number, rows: number) =>
  Array.from({ length: rows }, () => `(${Array(columns).fill('?').join(', ')})`).join(', ');

/** A positive 63-bit random integer, as a decimal string. */
function token(): string {
  return (randomBytes(8).readBigUInt64BE() >> 1n).toString();
}

function retriable(error: unknown): boolean {
  return error instanceof DeadlockException || error instanceof LockWaitTimeoutException;
}

/** Memory the decoded days of owners' stats may hold, per process (VisitStore.linkDays). */
const DAY_CACHE_BYTES = 64 * 1024 * 1024;

export class VisitStore {
  readonly #orm: Orm;
  readonly #days = new LRUCache<string, LinkDay>({ maxSize: DAY_CACHE_BYTES });
  readonly #dialect: Dialect;
  /** Where owners' reads go: a read replica, a little behind the recorder's writes, or the database. */
  readonly #reader: Orm;

  /**
   * Every query honours the running call's deadline (lib/db/call-fork.ts);
   * work outside a call, such as recording a batch from the bus, gets the
   * runtime's bound for work without one.
   */
  constructor(orm: Orm, dialect: Dialect, replica?: Orm) {
    this.#orm = orm;
    this.#dialect = dialect;
    this.#reader = replica ?? orm;
  }

  get #insertIgnore(): string {
    return this.#dialect === 'mysql' ? 'insert ignore into' : 'insert or ignore into';
  }

  async #run<T>(work: (em: SqlEntityManager) => Promise<T>, orm = this.#orm): Promise<T> {
    try {
      return await inCall(orm, (em) => work(em as SqlEntityManager));
    } catch (error) {
      translate(error);
    }
  }

  // --- Expiry (docs/decisions/0007-expiry.md) ---

  /** Deletes every visit and daily rollup of a purged link; a second call finds nothing. Returns the visits deleted. */
  async dropLink(linkId: string): Promise<number> {
    // One transaction: nobody sees the visits gone and the rollups still there.
    return this.#run((em) =>
      em.transactional(async (trx) => {
        const visits = await trx.nativeDelete(VisitRow, { linkId });
        await trx.nativeDelete(LinkDayRow, { linkId });
        return visits;
      }),
    );
  }

  /** The salt of visitor hashes, made (randomly, once for every replica) where there is none yet. */
  async visitorSalt(): Promise<string> {
    return this.#run(async (em) => {
      await em.execute(`${this.#insertIgnore} \`visitor_salt\` (\`id\`, \`salt\`) values (1, ?)`, [
        randomBytes(16).toString('hex'),
      ]);
      const rows = await em.execute<Row[]>('select `salt` from `visitor_salt` where `id` = 1');
      return String(rows[0]?.salt);
    });
  }

  /** Records the visits not recorded yet, with their rollups, in one transaction; returns those it recorded. */
  async record(visits: readonly RecordedVisit[]): Promise<RecordedVisit[]> {
    const unique = [...new Map(visits.map((visit) => [visit.id, visit])).values()];
    if (unique.length === 0) return [];
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#run((em) => em.transactional((trx) => this.#recordIn(trx, unique)));
      } catch (error) {
        const cause = (error as { cause?: unknown }).cause ?? error;
        if (attempt >= ATTEMPTS || !(retriable(error) || retriable(cause))) throw error;
      }
    }
  }

  async #recordIn(em: SqlEntityManager, visits: RecordedVisit[]): Promise<RecordedVisit[]> {
    const mine = token();
    const inserted = new Set<string>();
    for (const chunk of chunks(visits)) {
      const { affectedRows } = await em.execute<QueryResult>(
        `${this.#insertIgnore} \`visits\` (${VISIT_COLUMNS.map((c) => `\`${c}\``).join(', ')})
          values ${placeholders(VISIT_COLUMNS.length, chunk.length)}`,
        chunk.flatMap((v) => visitRow(v, mine)),
        'run',
      );
      // Every row new (the usual case): no need to ask which.
      if (affectedRows === chunk.length) {
        for (const visit of chunk) inserted.add(visit.id);
        continue;
      }
      const rows = await em.execute<Row[]>(
        `select \`id\` from \`visits\` where \`recorded_by\` = ? and \`id\` in (${chunk.map(() => '?').join(', ')})`,
        [mine, ...chunk.map((v) => v.id)],
      );
      for (const row of rows) inserted.add(String(row.id));
    }
    const recorded = visits.filter((visit) => inserted.has(visit.id));
    await this.#addToLinkDays(em, recorded);
    return recorded;
  }

  /** Adds the visits to their link days: each row touched read under lock, added to, written back. */
  async #addToLinkDays(em: SqlEntityManager, visits: RecordedVisit[]): Promise<void> {
    const touched = new Map<
      string,
      { linkId: string; day: number; bot: boolean; visits: RecordedVisit[] }
    >();
    for (const visit of visits) {
      const key = `${visit.linkId}:${visit.day}:${visit.bot ? 1 : 0}`;
      const entry = touched.get(key);
      if (entry) entry.visits.push(visit);
      else
        touched.set(key, { linkId: visit.linkId, day: visit.day, bot: visit.bot, visits: [visit] });
    }
    // Rows in one order for every transaction, so concurrent batches lock them
    // in the same order and rarely deadlock (and are retried when they do).
    const keys = [...touched.keys()].sort();
    const lock = this.#dialect === 'mysql' ? 'for update' : '';
    for (const chunk of chunks(keys)) {
      const entries = chunk.map(
        (key) => touched.get(key) as NonNullable<ReturnType<typeof touched.get>>,
      );
      const linkIds = [...new Set(entries.map((e) => e.linkId))];
      const days = [...new Set(entries.map((e) => e.day))];
      // By link and day lists (the primary key's prefix), not by tuples,
      // which MariaDB answers by scanning.
      const rows = await em.execute<Row[]>(
        `select \`link_id\`, \`day\`, \`bot\`, \`visits\`, \`visitors\`, \`unsketched_visitors\`, \`sketch\`, \`facets\` from \`link_days\`
          where \`link_id\` in (${linkIds.map(() => '?').join(', ')})
          and \`day\` in (${days.map(() => '?').join(', ')}) ${lock}`,
        [...linkIds, ...days],
      );
      const stored = new Map(
        rows.map((row) => [
          `${String(row.link_id)}:${Number(row.day)}:${Number(row.bot)}`,
          toLinkDay(row),
        ]),
      );
      const values: unknown[] = [];
      for (const [i, entry] of entries.entries()) {
        const day = stored.get(chunk[i] as string) ?? emptyDay(entry.day, entry.bot);
        const sketch = VisitorSketch.decode(day.sketch);
        const facets = countsOf(day.facets);
        for (const visit of entry.visits) {
          day.visits++;
          if (visit.visitor !== '') sketch.add(visit.visitor);
          for (const dimension of BREAKDOWNS)
            countFacet(facets, dimension, facetOf(visit, dimension));
        }
        day.visitors = day.unsketchedVisitors + sketch.estimate();
        values.push(
          entry.linkId,
          entry.day,
          entry.bot ? 1 : 0,
          day.visits,
          day.visitors,
          day.unsketchedVisitors,
          Buffer.from(sketch.encode()),
          encodeFacets(facets),
        );
      }
      const onConflict =
        this.#dialect === 'mysql'
          ? 'on duplicate key update `visits` = values(`visits`), `visitors` = values(`visitors`), `sketch` = values(`sketch`), `facets` = values(`facets`)'
          : 'on conflict (`link_id`, `day`, `bot`) do update set `visits` = excluded.`visits`, `visitors` = excluded.`visitors`, `sketch` = excluded.`sketch`, `facets` = excluded.`facets`';
      await em.execute(
        `insert into \`link_days\` (\`link_id\`, \`day\`, \`bot\`, \`visits\`, \`visitors\`,
          \`unsketched_visitors\`, \`sketch\`, \`facets\`)
          values ${placeholders(8, entries.length)} ${onConflict}`,
        values,
      );
    }
  }

  /** A link's visits, newest first, below `before` if given. */
  async listVisits(linkId: string, before: VisitCursor | null, limit: number): Promise<Visit[]> {
    const below = before ? 'and (`visited_at` < ? or (`visited_at` = ? and `id` < ?))' : '';
    const params = before ? [before.visitedAt, before.visitedAt, before.id] : [];
    const rows = await this.#run(
      (em) =>
        em.execute<Row[]>(
          `select \`id\`, \`link_id\`, \`code\`, \`visited_at\`, \`ip\`, \`user_agent\`, \`referer\`,
          \`accept_language\`, \`browser\`, \`os\`, \`device\`, \`bot\`
          from \`visits\` where \`link_id\` = ? ${below}
          order by \`visited_at\` desc, \`id\` desc limit ?`,
          [linkId, ...params, limit],
        ),
      this.#reader,
    );
    return rows.map(toVisit);
  }

  /**
   * The link's days within the range that had visits, humans and bots apart
   * (humans only unless `includeBots`), oldest first. Shared with the cache:
   * callers read them and never change them.
   *
   * A year of a busy link is hundreds of rows of a few kilobytes (a dense
   * sketch is 4 KiB), so rows are kept decoded (#days) and asked for again
   * only when they changed: a row changes only when the recorder adds visits
   * to it, which moves its visit count, so the range's counts are read first
   * (a few bytes a row) and the rest only of rows whose counts moved. That
   * holds across replicas, which each keep their own: the counts come from
   * the database every time.
   */
  async linkDays(
    linkId: string,
    range: { from: number; to: number },
    includeBots = true,
  ): Promise<LinkDay[]> {
    const bots = includeBots ? '' : 'and `bot` = 0';
    const counts = await this.#run(
      (em) =>
        em.execute<Row[]>(
          `select \`day\`, \`bot\`, \`visits\`, \`visitors\` from \`link_days\`
          where \`link_id\` = ? and \`day\` between ? and ? ${bots}
          order by \`day\`, \`bot\``,
          [linkId, range.from, range.to],
        ),
      this.#reader,
    );
    const days = new Map<string, LinkDay>();
    const stale = new Set<number>();
    for (const row of counts) {
      const key = dayKey(linkId, Number(row.day), Number(row.bot) === 1);
      const kept = this.#days.get(key);
      if (kept && kept.visits === Number(row.visits) && kept.visitors === Number(row.visitors))
        days.set(key, kept);
      else stale.add(Number(row.day));
    }
    if (stale.size > 0) {
      const rows = await this.#run(
        (em) =>
          em.execute<Row[]>(
            `select \`day\`, \`bot\`, \`visits\`, \`visitors\`, \`unsketched_visitors\`, \`sketch\`, \`facets\` from \`link_days\`
            where \`link_id\` = ? and \`day\` in (${[...stale].map(() => '?').join(', ')}) ${bots}`,
            [linkId, ...stale],
          ),
        this.#reader,
      );
      for (const row of rows) {
        const day = toLinkDay(row);
        // Its own bytes: the driver's may be a view of a whole packet.
        day.sketch = new Uint8Array(day.sketch);
        const key = dayKey(linkId, day.day, day.bot);
        this.#days.set(key, day, { size: sizeOf(day, String(row.facets)) });
        days.set(key, day);
      }
    }
    const ordered: LinkDay[] = [];
    for (const row of counts) {
      const day = days.get(dayKey(linkId, Number(row.day), Number(row.bot) === 1));
      if (day) ordered.push(day);
    }
    return ordered;
  }
}

/** How the day cache names a link's day. */
function dayKey(linkId: string, day: number, bot: boolean): string {
  return `${linkId}:${day}:${bot ? 1 : 0}`;
}

/** Roughly what a kept day holds in memory: its sketch, and its facets at two bytes a character. */
function sizeOf(day: LinkDay, facetsJson: string): number {
  return 64 + day.sketch.length + 2 * facetsJson.length;
}

function emptyDay(day: number, bot: boolean): LinkDay {
  return {
    day,
    bot,
    visits: 0,
    visitors: 0,
    unsketchedVisitors: 0,
    sketch: new Uint8Array(),
    facets: {},
  };
}

function toLinkDay(row: Row): LinkDay {
  return {
    day: Number(row.day),
    bot: Number(row.bot) === 1,
    visits: Number(row.visits),
    visitors: Number(row.visitors),
    unsketchedVisitors: Number(row.unsketched_visitors),
    sketch: row.sketch as Uint8Array,
    facets: JSON.parse(String(row.facets)) as Facets,
  };
}

function countFacet(facets: FacetCounts, dimension: Breakdown, value: string): void {
  let counts = facets[dimension];
  if (counts === undefined) {
    counts = new Map();
    facets[dimension] = counts;
  }
  const seen = counts.get(value);
  if (seen !== undefined) counts.set(value, seen + 1);
  else if (counts.size < MAX_VALUES_PER_DAY) counts.set(value, 1);
  else counts.set(OTHER_VALUE, (counts.get(OTHER_VALUE) ?? 0) + 1);
}

function encodeFacets(facets: FacetCounts): string {
  return JSON.stringify(
    Object.fromEntries(
      Object.entries(facets).map(([dimension, counts]) => [dimension, Object.fromEntries(counts)]),
    ),
  );
}

function countsOf(stored: Facets): FacetCounts {
  const facets: FacetCounts = {};
  for (const dimension of BREAKDOWNS) {
    const counts = stored[dimension];
    if (counts) facets[dimension] = new Map(Object.entries(counts));
  }
  return facets;
}

function facetOf(visit: RecordedVisit, dimension: Breakdown): string {
  return dimension === 'referrer'
    ? visit.referrer
    : dimension === 'language'
      ? visit.language
      : visit[dimension];
}

function toVisit(row: Row): Visit {
  return {
    id: String(row.id),
    linkId: String(row.link_id),
    code: String(row.code),
    visitedAt: new Date(Number(row.visited_at)),
    ip: String(row.ip),
    userAgent: String(row.user_agent),
    referer: String(row.referer),
    acceptLanguage: String(row.accept_language),
    browser: String(row.browser),
    os: String(row.os),
    device: String(row.device) as Visit['device'],
    bot: Number(row.bot) === 1,
  };
}
