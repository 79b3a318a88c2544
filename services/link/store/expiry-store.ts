// What expiry writes and reads on the links table (docs/decisions/0007-expiry.md),
// beside LinkStore: extensions, exhausted links, the sweeper's chunks and the
// notice scheduler's claims. Time is always an argument: the stores know no
// clock. Each write that could race is conditional on what was read, so
// two instances never both win it.
import { IsolationLevel, LockMode } from '@mikro-orm/core';
import { MikroORM as MySqlORM } from '@mikro-orm/mysql';
import { inCall } from '../../../lib/db/call-fork.ts';
import { translateDatabaseError as translate } from '../../../lib/db/errors.ts';
import type { Orm } from '../../../lib/db/open.ts';
import type { Link, StoredLink } from '../domain/link.ts';
import { LinkRow } from './entities.ts';
import { toStored } from './link-store.ts';

/** A link as the notice scheduler reads it: what its expiry and its last notice were. */
export interface NoticeCandidate extends StoredLink {
  noticeFor: Date | null;
  noticeEventId: string | null;
  noticeLeaseUntil: Date | null;
}

/** Links whose expiry (as `expiryOf` would compute it) may be at or before `at`, with idle period `idleMs`. */
function expiringBy(at: Date, idleMs: number) {
  const idleSince = new Date(at.getTime() - idleMs);
  return {
    $or: [
      { expiresAt: { $lte: at } },
      { exhaustedAt: { $lte: at } },
      {
        $and: [
          {
            $or: [
              { lastAccessedAt: { $lte: idleSince } },
              { lastAccessedAt: null, createdAt: { $lte: idleSince } },
            ],
          },
          { $or: [{ extendedTo: null }, { extendedTo: { $lte: at } }] },
        ],
      },
    ],
  };
}

/** The sweeper's three ways for a link to have expired, each read along an index of its own (migration 0006). */
export const SWEEP_PASSES = ['dated', 'exhausted', 'idle'] as const;
export type SweepPass = (typeof SWEEP_PASSES)[number];

/**
 * Together the passes find what expiringBy finds. The idle pass also reads
 * the index entries of links idle but extended past `now` (ruled out by
 * `extended_to`, in the same index) each chunk: few, as extending is rare.
 */
function sweepPass(pass: SweepPass, now: Date, idleMs: number) {
  if (pass === 'dated') {
    return {
      where: { deletedAt: null, expiresAt: { $lte: now } },
      orderBy: { expiresAt: 'asc', id: 'asc' } as const,
    };
  }
  if (pass === 'exhausted') {
    return {
      where: { deletedAt: null, exhaustedAt: { $lte: now } },
      orderBy: { exhaustedAt: 'asc', id: 'asc' } as const,
    };
  }
  return {
    where: {
      deletedAt: null,
      idleFrom: { $lte: new Date(now.getTime() - idleMs) },
      $or: [{ extendedTo: null }, { extendedTo: { $lte: now } }],
    },
    // The index's own order: any other would sort every candidate first, and lock them all.
    orderBy: { idleFrom: 'asc', extendedTo: 'asc', id: 'asc' } as const,
  };
}

export class ExpiryStore {
  readonly #orm: Orm;
  readonly #mysql: boolean;

  constructor(orm: Orm) {
    this.#orm = orm;
    this.#mysql = orm instanceof MySqlORM;
  }

  async findById(id: string): Promise<StoredLink | null> {
    try {
      const row = await inCall(this.#orm, (em) => em.findOne(LinkRow, { id }));
      return row ? toStored(row) : null;
    } catch (error) {
      translate(error);
    }
  }

  /** Moves a live link's expiry as `change` says, if it is still as `read`; false if it changed meanwhile. */
  async extend(read: StoredLink, change: Pick<Link, 'expiresAt' | 'extendedTo'>): Promise<boolean> {
    try {
      const changed = await inCall(this.#orm, (em) =>
        em.nativeUpdate(
          LinkRow,
          {
            id: read.id,
            deletedAt: null,
            expiresAt: read.expiresAt,
            extendedTo: read.extendedTo,
          },
          change,
        ),
      );
      return changed > 0;
    } catch (error) {
      translate(error);
    }
  }

  /** Records when a link's visits ran out; the first time counts. */
  async markExhausted(id: string, at: Date): Promise<void> {
    try {
      await inCall(this.#orm, (em) =>
        em.nativeUpdate(LinkRow, { id, exhaustedAt: null }, { exhaustedAt: at }),
      );
    } catch (error) {
      translate(error);
    }
  }

  // --- The sweeper ---

  /**
   * Purges up to `limit` links that `pass` finds expired at `now`, in one
   * transaction: the rows are claimed (on MySQL `FOR UPDATE SKIP LOCKED`, so
   * sweepers running at once take disjoint chunks; SQLite has a single
   * writer, whose transactions run one after another), `beforeCommit` is told
   * which (it publishes their events: if it throws, nothing is purged), then
   * each becomes a tombstone: deleted, its target and URL hash cleared, its
   * code kept so that it is never issued again. A purged link leaves the
   * pass's index range (it starts at `deleted_at`), so the next chunk needs
   * no cursor: it reads only links not yet purged.
   */
  async purgeChunk(
    chunk: { pass: SweepPass; limit: number; now: Date; idleMs: number },
    beforeCommit: (links: StoredLink[]) => Promise<void>,
  ): Promise<StoredLink[]> {
    const { where, orderBy } = sweepPass(chunk.pass, chunk.now, chunk.idleMs);
    try {
      return await this.#orm.em.fork().transactional(
        async (em) => {
          const rows = await em.find(LinkRow, where, {
            orderBy,
            limit: chunk.limit,
            disableIdentityMap: true,
            ...(this.#mysql ? { lockMode: LockMode.PESSIMISTIC_PARTIAL_WRITE } : {}),
          });
          if (rows.length === 0) return [];
          const links = rows.map(toStored);
          await beforeCommit(links);
          await em.nativeUpdate(
            LinkRow,
            { id: { $in: links.map((link) => link.id) }, deletedAt: null },
            { deletedAt: chunk.now, urlHash: null, targetUrl: '' },
          );
          return links;
        },
        // Rows scanned but not expired are not kept locked (REPEATABLE READ would keep them).
        this.#mysql ? { isolationLevel: IsolationLevel.READ_COMMITTED } : {},
      );
    } catch (error) {
      translate(error);
    }
  }

  // --- Expiry notices ---

  /** Members' live links, after `after` in id order, whose expiry may come by `by`. */
  async noticeCandidates(query: {
    after: string | null;
    limit: number;
    by: Date;
    idleMs: number;
  }): Promise<NoticeCandidate[]> {
    try {
      const rows = await inCall(this.#orm, (em) =>
        em.find(
          LinkRow,
          {
            ownerKind: 'member',
            deletedAt: null,
            exhaustedAt: null,
            ...(query.after ? { id: { $gt: query.after } } : {}),
            ...expiringBy(query.by, query.idleMs),
          },
          { orderBy: { id: 'asc' }, limit: query.limit },
        ),
      );
      return rows.map((row) => ({
        ...toStored(row),
        noticeFor: row.noticeFor ?? null,
        noticeEventId: row.noticeEventId ?? null,
        noticeLeaseUntil: row.noticeLeaseUntil ?? null,
      }));
    } catch (error) {
      translate(error);
    }
  }

  /**
   * Claims the notice for the link's expiry `expiry` until `leaseUntil`, if
   * the link and its notice state are still exactly as read: of several
   * schedulers, one wins. False if it changed meanwhile.
   */
  async claimNotice(
    read: NoticeCandidate,
    claim: { expiry: Date; eventId: string; leaseUntil: Date },
  ): Promise<boolean> {
    try {
      const changed = await inCall(this.#orm, (em) =>
        em.nativeUpdate(
          LinkRow,
          {
            id: read.id,
            deletedAt: null,
            expiresAt: read.expiresAt,
            lastAccessedAt: read.lastAccessedAt,
            extendedTo: read.extendedTo,
            noticeFor: read.noticeFor,
            noticeLeaseUntil: read.noticeLeaseUntil,
          },
          {
            noticeFor: claim.expiry,
            noticeEventId: claim.eventId,
            noticeLeaseUntil: claim.leaseUntil,
          },
        ),
      );
      return changed > 0;
    } catch (error) {
      translate(error);
    }
  }

  /** The claimed notice was published: it is never sent again for this expiry. */
  async noticeSent(id: string, eventId: string): Promise<void> {
    try {
      await inCall(this.#orm, (em) =>
        em.nativeUpdate(LinkRow, { id, noticeEventId: eventId }, { noticeLeaseUntil: null }),
      );
    } catch (error) {
      translate(error);
    }
  }
}
