// Reads and writes links through MikroORM. Every method is one statement (one
// per chunk for many links; on MySQL the inserts of one turn of the event
// loop share one, see insert); the unique indexes decide races (code taken,
// same owner + URL), and an insert that loses one says which as its answer,
// not as an exception. Every query honours the calling request's deadline
// (lib/db/call-fork.ts), but a shared insert, which serves many.
import { DeadlockException, LockMode } from '@mikro-orm/core';
import { MikroORM as MySqlORM } from '@mikro-orm/mysql';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { type Context, context, trace } from '@opentelemetry/api';
import { callSignal, outsideCall, unlessAborted, withCallSignal } from '../../../lib/call-scope.ts';
import { inCall } from '../../../lib/db/call-fork.ts';
import { translateDatabaseError as translate, violatedUnique } from '../../../lib/db/errors.ts';
import type { Dialect } from '../../../lib/db/migrations.ts';
import type { Orm } from '../../../lib/db/open.ts';
import { type Logger, ThrottledLog } from '../../../lib/log.ts';
import type { InsertTally } from '../../../lib/metrics/metrics.ts';
import { onBehalfOf, tracer } from '../../../lib/telemetry/tracing.ts';
import type { Link, StoredLink } from '../domain/link.ts';
import { GuestAdoptionRow, LinkRow } from './entities.ts';

/**
 * How an insert ended: stored, refused by the unique index on code or on
 * (owner, URL), or not made because a member adopted the guest creating it.
 */
export type InsertOutcome = 'inserted' | 'code_taken' | 'url_taken' | 'adopted';

/** The unique indexes of the links table (see the migrations) and their columns. */
const UNIQUE_INDEXES = {
  links_code_unique: ['code'],
  links_owner_url_unique: ['owner_id', 'url_hash'],
  PRIMARY: ['id'],
} as const;

/** The primary key is not here: a row under a new link's id is told apart in insert. */
const OUTCOME_BY_INDEX: Readonly<Record<string, InsertOutcome>> = {
  links_code_unique: 'code_taken',
  links_owner_url_unique: 'url_taken',
};

/** Links per shared insert statement: bounded statements, however many gateways send at once. */
const SHARED_INSERT_ROWS = 256;

const storeTracer = tracer('shortener.link');

/** A link followed at `at`: what the last-access toucher writes. */
export interface LastAccess {
  id: string;
  at: Date;
}

/** Links per statement when moving last access: 2 parameters each, inside every dialect's limits. */
export const LAST_ACCESS_CHUNK = 500;

/**
 * One statement moving each listed link's last access to its time, only where
 * that is later than what is stored: a late, older click never moves it back.
 * Ids are cast on MySQL so the join compares BIGINT with BIGINT whatever the
 * driver binds (a BIGINT against a string may be compared as doubles, which
 * confuse ids above 2^53); SQLite gives the parameters the column's integer
 * affinity itself. Dates are bound as Date
 * objects, so MikroORM writes them as it writes every datetime.
 */
function moveLastAccessSql(dialect: Dialect, rows: number): string {
  if (dialect === 'mysql') {
    const first = 'select cast(? as signed) as `id`, cast(? as datetime(3)) as `at`';
    const touched = [
      first,
      ...Array(rows - 1).fill('select cast(? as signed), cast(? as datetime(3))'),
    ];
    return `update \`links\` as \`l\` join (${touched.join(' union all ')}) as \`t\` on \`l\`.\`id\` = \`t\`.\`id\`
      set \`l\`.\`last_accessed_at\` = \`t\`.\`at\`
      where \`l\`.\`last_accessed_at\` is null or \`l\`.\`last_accessed_at\` < \`t\`.\`at\``;
  }
  // A VALUES list is not held to SQLite's limit of 500 terms in a compound select.
  return `update \`links\` set \`last_accessed_at\` = \`t\`.\`column2\`
    from (values ${Array(rows).fill('(?, ?)').join(', ')}) as \`t\`
    where \`links\`.\`id\` = \`t\`.\`column1\`
      and (\`links\`.\`last_accessed_at\` is null or \`links\`.\`last_accessed_at\` < \`t\`.\`column2\`)`;
}

/**
 * Clears the URL claim of each of the guest's links whose URL the member
 * already claims: the member's own link keeps answering for the URL, and the
 * adopted one keeps its code. Ids are cast on MySQL, as in moveLastAccess.
 */
function yieldClaimsSql(dialect: Dialect): string {
  if (dialect === 'mysql') {
    return `update \`links\` as \`g\` join \`links\` as \`m\`
        on \`m\`.\`owner_id\` = cast(? as signed) and \`m\`.\`url_hash\` = \`g\`.\`url_hash\`
      set \`g\`.\`url_hash\` = null
      where \`g\`.\`owner_id\` = cast(? as signed)`;
  }
  return `update \`links\` set \`url_hash\` = null
    where \`owner_id\` = ? and \`url_hash\` in
      (select \`url_hash\` from \`links\` where \`owner_id\` = ? and \`url_hash\` is not null)`;
}

/** The columns a new link is written with; the others start NULL (or at their default). */
const INSERTED_COLUMNS = [
  'id',
  'code',
  'target_url',
  'url_hash',
  'owner_id',
  'created_at',
  'expires_at',
  'owner_kind',
  'max_visits',
] as const;

/** A new link's values, in the order of INSERTED_COLUMNS. */
function insertedValues(link: Link, urlHash: string | null): unknown[] {
  return [
    link.id,
    link.code,
    link.targetUrl,
    urlHash,
    link.ownerId,
    link.createdAt,
    link.expiresAt,
    link.ownerKind,
    link.maxVisits,
  ];
}

/**
 * One statement inserting a link, for a guest only while no member has
 * adopted the guest: the check and the write cannot be told apart by a
 * concurrent adoption. On MySQL the check is a locking read (INSERT ...
 * SELECT under REPEATABLE READ, the link service's isolation) that holds the
 * adoption's place until the statement commits, so an adoption recorded
 * meanwhile waits and its move then finds the new link; SQLite runs one
 * writer at a time. Ids are cast on MySQL, as in moveLastAccess.
 */
function insertLinkSql(dialect: Dialect, guest: boolean): string {
  const columns = INSERTED_COLUMNS.map((column) => `\`${column}\``).join(', ');
  const id = dialect === 'mysql' ? 'cast(? as signed)' : '?';
  const values = [id, ...Array(INSERTED_COLUMNS.length - 1).fill('?')].join(', ');
  if (!guest) return `insert into \`links\` (${columns}) values (${values})`;
  return `insert into \`links\` (${columns})
    select ${values} from (select 1) as \`one\`
    where not exists (select 1 from \`guest_adoptions\` where \`guest_id\` = ${id})`;
}

/**
 * One statement inserting many links, each as insertLinkSql would (a
 * guest's only while no member has adopted the guest), skipping those a
 * unique index refuses (IGNORE: every value was checked before, so nothing
 * else is downgraded). MySQL only; ids cast as in moveLastAccess.
 */
function insertLinksSql(rows: number): string {
  const columns = INSERTED_COLUMNS.map((column) => `\`${column}\``).join(', ');
  const first = INSERTED_COLUMNS.map((column) =>
    column === 'id' || column === 'owner_id'
      ? `cast(? as signed) as \`${column}\``
      : `? as \`${column}\``,
  ).join(', ');
  const next = INSERTED_COLUMNS.map((column) =>
    column === 'id' || column === 'owner_id' ? 'cast(? as signed)' : '?',
  ).join(', ');
  const values = [`select ${first}`, ...Array(rows - 1).fill(`select ${next}`)].join(' union all ');
  return `insert ignore into \`links\` (${columns})
    select \`t\`.* from (${values}) as \`t\`
    where \`t\`.\`owner_kind\` <> 'guest'
      or not exists (select 1 from \`guest_adoptions\` where \`guest_id\` = \`t\`.\`owner_id\`)`;
}

/** An insert waiting for the others of its turn of the event loop (LinkStore.insert). */
interface PendingInsert {
  link: Link;
  urlHash: string | null;
  /** The signal of the call it serves. */
  signal: AbortSignal;
  /** The trace context of the call it serves. */
  trace: Context;
  settle: (outcome: InsertOutcome | Promise<InsertOutcome>) => void;
}

/** Tries of a move that keeps losing deadlocks to other writers. */
const MOVE_ATTEMPTS = 5;

/** Links per chunk when deleting all of an owner's: one statement and one cache round each. */
export const OWNER_DELETE_CHUNK = 500;

export function toStored(row: LinkRow): StoredLink {
  return {
    id: row.id,
    code: row.code,
    targetUrl: row.targetUrl,
    ownerId: row.ownerId,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt ?? null,
    deletedAt: row.deletedAt ?? null,
    ownerKind: row.ownerKind === 'member' ? 'member' : 'guest',
    maxVisits: row.maxVisits ?? null,
    lastAccessedAt: row.lastAccessedAt ?? null,
    extendedTo: row.extendedTo ?? null,
    exhaustedAt: row.exhaustedAt ?? null,
  };
}

export class LinkStore {
  readonly #orm: Orm;
  readonly #dialect: Dialect;
  #inserts: PendingInsert[] = [];
  #insertsScheduled = false;
  readonly #tally: InsertTally;
  /** Where failed shared inserts are told (none in stores built without a log). */
  readonly #failures: ThrottledLog | undefined;

  /**
   * Every call is given up on when the gRPC call it serves runs out of time
   * (lib/call-scope.ts), and then fails as `unavailable` with its writes
   * rolled back; except a link written by a shared statement (insert), which
   * is written even if its call gave up meanwhile.
   */
  constructor(orm: Orm, options: { tally?: InsertTally; log?: Logger } = {}) {
    this.#orm = orm;
    this.#tally = options.tally ?? { shared: 0, single: 0 };
    this.#failures = options.log ? new ThrottledLog(options.log) : undefined;
    this.#dialect = orm instanceof MySqlORM ? 'mysql' : 'sqlite';
  }

  /** The owner's live (not deleted, not retired) link for a URL hash. */
  async findByOwnerAndUrl(ownerId: string, urlHash: string): Promise<StoredLink | null> {
    try {
      const row = await inCall(this.#orm, (em) => em.findOne(LinkRow, { ownerId, urlHash }));
      return row ? toStored(row) : null;
    } catch (error) {
      translate(error);
    }
  }

  /**
   * Inserts a new link, unless its code or the owner's (owner, URL) slot is
   * taken, or (for a guest's link) a member has adopted the guest. A null
   * hash claims no slot: every dialect lets NULLs repeat in a unique index.
   *
   * On MySQL the inserts asked for during one turn of the event loop are
   * written together, by one statement (the creates of a CreateLinks call,
   * or of concurrent calls): it stores every link no unique index or
   * adoption refuses, and each of the others is then tried alone, by the
   * one-row statement, whose outcome says why. A link written with others
   * is written even if the call it serves gave up meanwhile (that call hears
   * `database_timeout`, as for any statement it stopped waiting for).
   */
  async insert(link: Link, urlHash: string | null): Promise<InsertOutcome> {
    if (this.#dialect !== 'mysql') return this.#insertOne(link, urlHash);
    const signal = callSignal();
    const queued = new Promise<InsertOutcome>((settle) => {
      this.#inserts.push({ link, urlHash, signal, trace: context.active(), settle });
      if (!this.#insertsScheduled) {
        this.#insertsScheduled = true;
        setImmediate(this.#flushInserts);
      }
    });
    try {
      return await unlessAborted(queued, signal);
    } catch (error) {
      translate(error);
    }
  }

  /**
   * Writes the inserts of the turn: alone if only one, else together (in
   * chunks of SHARED_INSERT_ROWS) and those a shared statement skipped
   * alone. An insert whose call gave up before its turn came is not written.
   */
  readonly #flushInserts = () => {
    this.#insertsScheduled = false;
    const waiting = this.#inserts;
    this.#inserts = [];
    const batch: PendingInsert[] = [];
    for (const pending of waiting) {
      // Its caller has heard why already (insert); nothing is written for it.
      if (pending.signal.aborted) pending.settle(Promise.reject(pending.signal.reason));
      else batch.push(pending);
    }
    if (batch.length === 1) {
      const [only] = batch as [PendingInsert];
      only.settle(this.#alone(only, false));
      return;
    }
    for (let i = 0; i < batch.length; i += SHARED_INSERT_ROWS) {
      this.#insertTogether(batch.slice(i, i + SHARED_INSERT_ROWS));
    }
  };

  /** The one-row insert, in the call and trace of the create it serves. */
  #alone(pending: PendingInsert, afterShared: boolean): Promise<InsertOutcome> {
    return context.with(pending.trace, () =>
      withCallSignal(pending.signal, () =>
        this.#insertOne(pending.link, pending.urlHash, afterShared),
      ),
    );
  }

  #insertTogether(batch: PendingInsert[]): void {
    // Bounded by the runtime's limit for work outside a call, not by any one
    // of the calls; traced on behalf of them all, a child of the first sampled.
    const { parent, links } = onBehalfOf(
      batch.map((p) => trace.getSpanContext(p.trace)).filter((c) => c !== undefined),
    );
    const written = context
      .with(parent, () =>
        storeTracer.startActiveSpan(
          'insert links',
          { links, attributes: { 'shortener.links': batch.length } },
          (span) => outsideCall(() => this.#insertMany(batch)).finally(() => span.end()),
        ),
      )
      .catch((error: unknown) => {
        // A failed statement (a deadlock, a lost connection) stored nothing,
        // or nothing it could confirm: each is tried alone (insertOne tells
        // a link already stored), and the failure is told.
        this.#failures?.warn(
          'shared-insert',
          { err: error, links: batch.length },
          'a shared insert of links failed; each is inserted alone',
        );
        return new Set<PendingInsert>();
      });
    for (const pending of batch) {
      pending.settle(
        written.then((stored) => (stored.has(pending) ? 'inserted' : this.#alone(pending, true))),
      );
    }
  }

  /** Writes the batch in one statement; the inserts it stored. */
  async #insertMany(batch: readonly PendingInsert[]): Promise<Set<PendingInsert>> {
    const values = batch.flatMap(({ link, urlHash }) => insertedValues(link, urlHash));
    return inCall(this.#orm, async (em) => {
      const sql = em as SqlEntityManager;
      const result = await sql.execute<{ affectedRows: number }>(
        insertLinksSql(batch.length),
        values,
        'run',
      );
      this.#tally.shared += result.affectedRows;
      if (result.affectedRows === batch.length) return new Set(batch);
      return this.#stored(sql, batch);
    });
  }

  /** The links of the batch that have their rows: under their ids, with their codes and owners. */
  async #stored(
    em: SqlEntityManager,
    batch: readonly PendingInsert[],
  ): Promise<Set<PendingInsert>> {
    const rows = await em.execute<{ id: string; code: string; owner_id: string }[]>(
      `select cast(\`id\` as char) as \`id\`, \`code\`, cast(\`owner_id\` as char) as \`owner_id\`
        from \`links\` where \`id\` in (${batch.map(() => 'cast(? as signed)').join(', ')})`,
      batch.map(({ link }) => link.id),
    );
    const byId = new Map(rows.map((row) => [String(row.id), row]));
    const stored = new Set<PendingInsert>();
    for (const pending of batch) {
      const row = byId.get(pending.link.id);
      if (row && row.code === pending.link.code && String(row.owner_id) === pending.link.ownerId) {
        stored.add(pending);
      }
    }
    return stored;
  }

  /**
   * The one-row insert, its outcome told by the index that refused it.
   * `afterShared`: a shared statement may have written this very link and
   * its answer been lost; a row already under the link's own id, with its
   * code, is then the link, stored.
   */
  async #insertOne(
    link: Link,
    urlHash: string | null,
    afterShared = false,
  ): Promise<InsertOutcome> {
    const guest = link.ownerKind === 'guest';
    const values = insertedValues(link, urlHash);
    try {
      const result = await inCall(this.#orm, (em) =>
        (em as SqlEntityManager).execute<{ affectedRows: number }>(
          insertLinkSql(this.#dialect, guest),
          guest ? [...values, link.ownerId] : values,
          'run',
        ),
      );
      if (result.affectedRows !== 1) return 'adopted';
      this.#tally.single++;
      return 'inserted';
    } catch (error) {
      const index = violatedUnique(error, UNIQUE_INDEXES);
      if (index === 'PRIMARY' && afterShared && (await this.#holds(link))) return 'inserted';
      const outcome = index === undefined ? undefined : OUTCOME_BY_INDEX[index];
      if (outcome) return outcome;
      translate(error);
    }
  }

  /** Whether the row under the link's id is this link (its code and owner). */
  async #holds(link: Link): Promise<boolean> {
    const [row] = await this.findByCodes([link.code]);
    return row?.id === link.id && row.ownerId === link.ownerId;
  }

  /** Rows for these codes, tombstones included: one indexed lookup. */
  async findByCodes(codes: readonly string[]): Promise<StoredLink[]> {
    if (codes.length === 0) return [];
    try {
      const rows = await inCall(this.#orm, (em) => em.find(LinkRow, { code: { $in: [...codes] } }));
      return rows.map(toStored);
    } catch (error) {
      translate(error);
    }
  }

  async findByCode(code: string): Promise<StoredLink | null> {
    return (await this.findByCodes([code]))[0] ?? null;
  }

  /** The owner's links, tombstones excluded, newest first, below `beforeId` if given. */
  async listByOwner(
    ownerId: string,
    beforeId: string | null,
    limit: number,
  ): Promise<StoredLink[]> {
    try {
      const rows = await inCall(this.#orm, (em) =>
        em.find(
          LinkRow,
          { ownerId, deletedAt: null, ...(beforeId ? { id: { $lt: beforeId } } : {}) },
          { orderBy: { id: 'desc' }, limit },
        ),
      );
      return rows.map(toStored);
    } catch (error) {
      translate(error);
    }
  }

  /** Frees the (owner, URL) slot of a link that stays as it is (e.g. an expired one). */
  async retireUrl(id: string): Promise<void> {
    try {
      await inCall(this.#orm, (em) => em.nativeUpdate(LinkRow, { id }, { urlHash: null }));
    } catch (error) {
      translate(error);
    }
  }

  /** Tombstones the owner's live link; false if it was not live (or not theirs). */
  async markDeleted(id: string, ownerId: string, at: Date): Promise<boolean> {
    try {
      const changed = await inCall(this.#orm, (em) =>
        em.nativeUpdate(
          LinkRow,
          { id, ownerId, deletedAt: null },
          { deletedAt: at, urlHash: null },
        ),
      );
      return changed > 0;
    } catch (error) {
      translate(error);
    }
  }

  /**
   * Moves each link's last access forward to its time, never back: one
   * statement per LAST_ACCESS_CHUNK links, each chunk durable on its own
   * (autocommit), so a failure part-way leaves earlier chunks written and the
   * caller's retry rewrites nothing wrong. Unknown ids are ignored; one id
   * given twice counts with its latest time. Returns the links moved.
   */
  async moveLastAccess(touches: readonly LastAccess[]): Promise<number> {
    const latest = new Map<string, Date>();
    for (const { id, at } of touches) {
      const known = latest.get(id);
      if (!known || known < at) latest.set(id, at);
    }
    // Rows in one order for every writer, so two instances' statements lock them alike.
    const rows = [...latest].sort(([a], [b]) => (BigInt(a) < BigInt(b) ? -1 : 1));
    let moved = 0;
    for (let i = 0; i < rows.length; i += LAST_ACCESS_CHUNK) {
      const chunk = rows.slice(i, i + LAST_ACCESS_CHUNK);
      try {
        const result = await inCall(this.#orm, (em) =>
          (em as SqlEntityManager).execute<{ affectedRows: number }>(
            moveLastAccessSql(this.#dialect, chunk.length),
            chunk.flat(),
            'run',
          ),
        );
        moved += result.affectedRows;
      } catch (error) {
        translate(error);
      }
    }
    return moved;
  }

  /** The member who adopted the guest, or null if none did. */
  async adopterOf(guestId: string): Promise<string | null> {
    try {
      const row = await inCall(this.#orm, (em) => em.findOne(GuestAdoptionRow, { guestId }));
      return row?.memberId ?? null;
    } catch (error) {
      translate(error);
    }
  }

  /** Records that the member adopts the guest unless a member did; the adopter that stands. */
  async recordAdoption(guestId: string, memberId: string, at: Date): Promise<string> {
    try {
      await inCall(this.#orm, (em) =>
        em.insert(GuestAdoptionRow, { guestId, memberId, adoptedAt: at }),
      );
      return memberId;
    } catch (error) {
      if (violatedUnique(error, { guest_adoptions_primary: ['guest_id'] }) === undefined) {
        translate(error);
      }
    }
    const standing = await this.adopterOf(guestId);
    if (standing === null) throw new Error(`guest ${guestId} refused as adopted but not recorded`);
    return standing;
  }

  /**
   * Moves every link of the guest, tombstones included, to the member, in one
   * transaction. On MySQL the guest's adoption row is locked first, so moves
   * of one guest take turns (two at once would each hold shared locks on the
   * member's index range the other must insert into), then the guest's rows,
   * so a link the guest creates meanwhile waits and is moved too; SQLite runs
   * one writer at a time. Where both claim a URL, the guest's link gives up
   * its claim. A deadlock with some other writer is retried. Returns the live
   * links moved.
   */
  async moveOwner(guestId: string, memberId: string): Promise<StoredLink[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await inCall(this.#orm, (fork) =>
          fork.transactional((em) => this.#moveOwnerIn(em as SqlEntityManager, guestId, memberId)),
        );
      } catch (error) {
        if (error instanceof DeadlockException && attempt < MOVE_ATTEMPTS) continue;
        translate(error);
      }
    }
  }

  async #moveOwnerIn(
    em: SqlEntityManager,
    guestId: string,
    memberId: string,
  ): Promise<StoredLink[]> {
    const mysql = this.#dialect === 'mysql';
    if (mysql) {
      await em.findOne(GuestAdoptionRow, { guestId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    }
    const rows = mysql
      ? await em.find(LinkRow, { ownerId: guestId }, { lockMode: LockMode.PESSIMISTIC_WRITE })
      : await em.find(LinkRow, { ownerId: guestId });
    if (rows.length === 0) return [];
    await em.execute(
      yieldClaimsSql(this.#dialect),
      mysql ? [memberId, guestId] : [guestId, memberId],
      'run',
    );
    // A member's links are told before they expire (docs/decisions/0007-expiry.md).
    await em.nativeUpdate(
      LinkRow,
      { ownerId: guestId },
      { ownerId: memberId, ownerKind: 'member' },
    );
    return rows
      .filter((row) => !row.deletedAt)
      .map((row) => ({ ...toStored(row), ownerId: memberId, ownerKind: 'member' as const }));
  }

  /** Up to `limit` of the owner's live links, oldest first. */
  async liveLinksOf(ownerId: string, limit: number): Promise<StoredLink[]> {
    try {
      const rows = await inCall(this.#orm, (em) =>
        em.find(LinkRow, { ownerId, deletedAt: null }, { orderBy: { id: 'asc' }, limit }),
      );
      return rows.map(toStored);
    } catch (error) {
      translate(error);
    }
  }

  /** Tombstones the owner's listed links that are still live; how many it did. */
  async markManyDeleted(ids: readonly string[], ownerId: string, at: Date): Promise<number> {
    if (ids.length === 0) return 0;
    try {
      return await inCall(this.#orm, (em) =>
        em.nativeUpdate(
          LinkRow,
          { id: { $in: [...ids] }, ownerId, deletedAt: null },
          { deletedAt: at, urlHash: null },
        ),
      );
    } catch (error) {
      translate(error);
    }
  }
}
