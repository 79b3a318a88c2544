// Visits, their rollups and the day's salts, in plain SQL through MikroORM's
// connection (a batch is a few multi-row statements, not an entity each).
//
// Recording a batch is one transaction, idempotent by event id: the visits
// are inserted ignoring ids already there, and only the visits this
// transaction inserted move the rollups. Which ones those are is told by a
// random token the transaction writes into its rows (`recorded_by`): a row
// another delivery of the same event inserted carries another token, and a
// row another transaction is inserting at the same moment blocks ours until
// it commits, after which ours is ignored. So a redelivered batch, even one
// recorded concurrently by two consumers, changes nothing.
import { randomBytes } from 'node:crypto';
import { DeadlockException, LockWaitTimeoutException, type QueryResult } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { inCall } from '../../../lib/db/call-fork.ts';
import { translateDatabaseError as translate } from '../../../lib/db/errors.ts';
import type { Dialect } from '../../../lib/db/migrations.ts';
import type { Orm } from '../../../lib/db/open.ts';
import type { RecordedVisit, Visit } from '../domain/click.ts';

/** Rows per statement: well inside every dialect's limit on bound parameters. */
const CHUNK = 500;
/** A transaction that lost a deadlock is run again this many times. */
const ATTEMPTS = 4;

export type Dimension =
  | 'visits'
  | 'visitors'
  | 'referrer'
  | 'browser'
  | 'os'
  | 'device'
  | 'language';

/** The dimensions a visit is broken down by (every visit adds one to each). */
export const BREAKDOWNS = ['referrer', 'browser', 'os', 'device', 'language'] as const;
export type Breakdown = (typeof BREAKDOWNS)[number];

export interface DayCounts {
  day: number;
  visits: number;
  visitors: number;
}

export interface BreakdownCount {
  dimension: Breakdown;
  value: string;
  visits: number;
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

export class VisitStore {
  readonly #orm: Orm;
  readonly #dialect: Dialect;

  /**
   * Every query honours the running call's deadline (lib/db/call-fork.ts);
   * work outside a call, such as recording a batch from the bus, gets the
   * runtime's bound for work without one.
   */
  constructor(orm: Orm, dialect: Dialect) {
    this.#orm = orm;
    this.#dialect = dialect;
  }

  get #insertIgnore(): string {
    return this.#dialect === 'mysql' ? 'insert ignore into' : 'insert or ignore into';
  }

  async #run<T>(work: (em: SqlEntityManager) => Promise<T>): Promise<T> {
    try {
      return await inCall(this.#orm, (em) => work(em as SqlEntityManager));
    } catch (error) {
      translate(error);
    }
  }

  /** The salt of each day, made (randomly, once for every replica) where there is none yet. */
  async salts(days: readonly number[]): Promise<Map<number, string>> {
    if (days.length === 0) return new Map();
    return this.#run(async (em) => {
      const values = days.flatMap((day) => [day, randomBytes(16).toString('hex')]);
      await em.execute(
        `${this.#insertIgnore} \`visitor_salts\` (\`day\`, \`salt\`) values ${placeholders(2, days.length)}`,
        values,
      );
      const rows = await em.execute<Row[]>(
        `select \`day\`, \`salt\` from \`visitor_salts\` where \`day\` in (${days.map(() => '?').join(', ')})`,
        [...days],
      );
      return new Map(rows.map((row) => [Number(row.day), String(row.salt)]));
    });
  }

  /**
   * Forgets the salts and visitor hashes of days before `day`: once a day's
   * unique count is final, nothing must be left from which its visitors'
   * addresses could be guessed back (a salt and a hash of an IPv4 address
   * can be searched exhaustively).
   */
  async forgetVisitorsBefore(day: number): Promise<void> {
    await this.#run(async (em) => {
      await em.execute('delete from `daily_visitors` where `day` < ?', [day]);
      await em.execute('delete from `visitor_salts` where `day` < ?', [day]);
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
        `${this.#insertIgnore} \`visits\` (\`id\`, \`link_id\`, \`code\`, \`visited_at\`, \`ip\`,
          \`user_agent\`, \`referer\`, \`accept_language\`, \`browser\`, \`os\`, \`device\`, \`bot\`,
          \`recorded_by\`) values ${placeholders(13, chunk.length)}`,
        chunk.flatMap((v) => [
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
          mine,
        ]),
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
    const newVisitors = await this.#addVisitors(em, recorded, mine);
    await this.#addToRollups(em, recorded, newVisitors);
    return recorded;
  }

  /** The day's visitors not seen before among these visits, by `link:day:visitor`. */
  async #addVisitors(
    em: SqlEntityManager,
    visits: RecordedVisit[],
    mine: string,
  ): Promise<Map<string, RecordedVisit>> {
    const candidates = new Map<string, RecordedVisit>();
    for (const visit of visits) {
      if (visit.visitor === '') continue;
      const key = `${visit.linkId}:${visit.day}:${visit.visitor}`;
      if (!candidates.has(key)) candidates.set(key, visit);
    }
    const added = new Map<string, RecordedVisit>();
    for (const chunk of chunks([...candidates.values()])) {
      const { affectedRows } = await em.execute<QueryResult>(
        `${this.#insertIgnore} \`daily_visitors\` (\`link_id\`, \`day\`, \`visitor\`, \`bot\`, \`recorded_by\`)
          values ${placeholders(5, chunk.length)}`,
        chunk.flatMap((v) => [v.linkId, v.day, v.visitor, v.bot ? 1 : 0, mine]),
        'run',
      );
      const keyOf = (v: { linkId: string; day: number; visitor: string }) =>
        `${v.linkId}:${v.day}:${v.visitor}`;
      if (affectedRows === chunk.length) {
        for (const visit of chunk) added.set(keyOf(visit), visit);
        continue;
      }
      // Which were new: looked up by link (the primary key's prefix), not by
      // a list of (link, day, visitor) tuples, which MariaDB scans for.
      const linkIds = [...new Set(chunk.map((v) => v.linkId))];
      const rows = await em.execute<Row[]>(
        `select \`link_id\`, \`day\`, \`visitor\` from \`daily_visitors\`
          where \`link_id\` in (${linkIds.map(() => '?').join(', ')}) and \`recorded_by\` = ?`,
        [...linkIds, mine],
      );
      for (const row of rows) {
        const key = keyOf({
          linkId: String(row.link_id),
          day: Number(row.day),
          visitor: String(row.visitor),
        });
        const visit = candidates.get(key);
        if (visit) added.set(key, visit);
      }
    }
    return added;
  }

  async #addToRollups(
    em: SqlEntityManager,
    visits: RecordedVisit[],
    newVisitors: Map<string, RecordedVisit>,
  ): Promise<void> {
    const increments = new Map<
      string,
      { key: [string, number, number, Dimension, string]; n: number }
    >();
    const add = (visit: RecordedVisit, dimension: Dimension, value: string) => {
      const bot = visit.bot ? 1 : 0;
      const id = JSON.stringify([visit.linkId, visit.day, bot, dimension, value]);
      const entry = increments.get(id);
      if (entry) entry.n++;
      else increments.set(id, { key: [visit.linkId, visit.day, bot, dimension, value], n: 1 });
    };
    for (const visit of visits) {
      add(visit, 'visits', '');
      for (const dimension of BREAKDOWNS) add(visit, dimension, facetOf(visit, dimension));
    }
    for (const visit of newVisitors.values()) add(visit, 'visitors', '');
    // Rows in one order for every transaction, so concurrent batches lock them
    // in the same order and rarely deadlock (and are retried when they do).
    const rows = [...increments.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, e]) => e);
    const onConflict =
      this.#dialect === 'mysql'
        ? 'on duplicate key update `visits` = `visits` + values(`visits`)'
        : 'on conflict (`link_id`, `day`, `bot`, `dimension`, `value`) do update set `visits` = `visits` + excluded.`visits`';
    for (const chunk of chunks(rows)) {
      await em.execute(
        `insert into \`visit_rollups\` (\`link_id\`, \`day\`, \`bot\`, \`dimension\`, \`value\`, \`visits\`)
          values ${placeholders(6, chunk.length)} ${onConflict}`,
        chunk.flatMap((row) => [...row.key, row.n]),
      );
    }
  }

  /** A link's visits, newest first, below `before` if given. */
  async listVisits(linkId: string, before: VisitCursor | null, limit: number): Promise<Visit[]> {
    const below = before ? 'and (`visited_at` < ? or (`visited_at` = ? and `id` < ?))' : '';
    const params = before ? [before.visitedAt, before.visitedAt, before.id] : [];
    const rows = await this.#run((em) =>
      em.execute<Row[]>(
        `select \`id\`, \`link_id\`, \`code\`, \`visited_at\`, \`ip\`, \`user_agent\`, \`referer\`,
          \`accept_language\`, \`browser\`, \`os\`, \`device\`, \`bot\`
          from \`visits\` where \`link_id\` = ? ${below}
          order by \`visited_at\` desc, \`id\` desc limit ?`,
        [linkId, ...params, limit],
      ),
    );
    return rows.map(toVisit);
  }

  /** Visits and distinct visitors per day of the range, from the rollups (days without any left out). */
  async dailyCounts(
    linkId: string,
    range: { from: number; to: number },
    includeBots: boolean,
  ): Promise<DayCounts[]> {
    const rows = await this.#run((em) =>
      em.execute<Row[]>(
        `select \`day\`, \`dimension\`, sum(\`visits\`) as \`visits\` from \`visit_rollups\`
          where \`link_id\` = ? and \`day\` between ? and ? ${includeBots ? '' : 'and `bot` = 0'}
          and \`dimension\` in ('visits', 'visitors') and \`value\` = ''
          group by \`day\`, \`dimension\``,
        [linkId, range.from, range.to],
      ),
    );
    const days = new Map<number, DayCounts>();
    for (const row of rows) {
      const day = Number(row.day);
      const counts = days.get(day) ?? { day, visits: 0, visitors: 0 };
      if (row.dimension === 'visits') counts.visits = Number(row.visits);
      else counts.visitors = Number(row.visits);
      days.set(day, counts);
    }
    return [...days.values()].sort((a, b) => a.day - b.day);
  }

  /** Every breakdown's values over the range with their visits, from the rollups. */
  async breakdowns(
    linkId: string,
    range: { from: number; to: number },
    includeBots: boolean,
  ): Promise<BreakdownCount[]> {
    const rows = await this.#run((em) =>
      em.execute<Row[]>(
        `select \`dimension\`, \`value\`, sum(\`visits\`) as \`visits\` from \`visit_rollups\`
          where \`link_id\` = ? and \`day\` between ? and ? ${includeBots ? '' : 'and `bot` = 0'}
          and \`dimension\` in (${BREAKDOWNS.map(() => '?').join(', ')})
          group by \`dimension\`, \`value\``,
        [linkId, range.from, range.to, ...BREAKDOWNS],
      ),
    );
    return rows.map((row) => ({
      dimension: row.dimension as Breakdown,
      value: String(row.value),
      visits: Number(row.visits),
    }));
  }
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
