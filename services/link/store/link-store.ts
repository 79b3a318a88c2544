// Reads and writes links through MikroORM. Every method is one statement; the
// unique indexes decide races (code taken, same owner + URL), and an insert
// that loses one says which as its answer, not as an exception. Every query
// honours the calling request's deadline (lib/db/call-fork.ts).
import { inCall } from '../../../lib/db/call-fork.ts';
import { translateDatabaseError as translate, violatedUnique } from '../../../lib/db/errors.ts';
import type { Orm } from '../../../lib/db/open.ts';
import type { Link, StoredLink } from '../domain/link.ts';
import { LinkRow } from './entities.ts';

/** How an insert ended: stored, or refused by the unique index on code or on (owner, URL). */
export type InsertOutcome = 'inserted' | 'code_taken' | 'url_taken';

/** The unique indexes of the links table (see the migrations) and their columns. */
const UNIQUE_INDEXES = {
  links_code_unique: ['code'],
  links_owner_url_unique: ['owner_id', 'url_hash'],
} as const;

const OUTCOME_BY_INDEX: Readonly<Record<string, InsertOutcome>> = {
  links_code_unique: 'code_taken',
  links_owner_url_unique: 'url_taken',
};

function toStored(row: LinkRow): StoredLink {
  return {
    id: row.id,
    code: row.code,
    targetUrl: row.targetUrl,
    ownerId: row.ownerId,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt ?? null,
    deletedAt: row.deletedAt ?? null,
  };
}

export class LinkStore {
  readonly #orm: Orm;

  /**
   * Every call is given up on when the gRPC call it serves runs out of time
   * (lib/call-scope.ts), and then fails as `unavailable` with its writes rolled back.
   */
  constructor(orm: Orm) {
    this.#orm = orm;
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

  /** Inserts a new link, unless its code or the owner's (owner, URL) slot is taken. */
  async insert(link: Link, urlHash: string): Promise<InsertOutcome> {
    try {
      await inCall(this.#orm, (em) => em.insert(LinkRow, { ...link, urlHash, deletedAt: null }));
      return 'inserted';
    } catch (error) {
      const index = violatedUnique(error, UNIQUE_INDEXES);
      const outcome = index === undefined ? undefined : OUTCOME_BY_INDEX[index];
      if (outcome) return outcome;
      translate(error);
    }
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
}
