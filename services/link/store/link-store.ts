// Reads and writes links through MikroORM. Every method is one statement; the
// unique indexes decide races (code taken, same owner + URL), and an insert
// that loses one says which as its answer, not as an exception.
import { translateDatabaseError as translate, violatedUnique } from '../../../lib/db/errors.ts';
import type { Orm } from '../../../lib/db/open.ts';
import { withinTime } from '../../../lib/db/time-limit.ts';
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
  readonly #timeoutMs: number;

  /** Every call answers within `timeoutMs`, or fails as `unavailable`. */
  constructor(orm: Orm, timeoutMs = 1_000) {
    this.#orm = orm;
    this.#timeoutMs = timeoutMs;
  }

  #em() {
    return this.#orm.em.fork();
  }

  /** The owner's live (not deleted, not retired) link for a URL hash. */
  async findByOwnerAndUrl(ownerId: string, urlHash: string): Promise<StoredLink | null> {
    try {
      const row = await withinTime(
        this.#em().findOne(LinkRow, { ownerId, urlHash }),
        this.#timeoutMs,
      );
      return row ? toStored(row) : null;
    } catch (error) {
      translate(error);
    }
  }

  /** Inserts a new link, unless its code or the owner's (owner, URL) slot is taken. */
  async insert(link: Link, urlHash: string): Promise<InsertOutcome> {
    try {
      await withinTime(
        this.#em().insert(LinkRow, { ...link, urlHash, deletedAt: null }),
        this.#timeoutMs,
      );
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
      const rows = await withinTime(
        this.#em().find(LinkRow, { code: { $in: [...codes] } }),
        this.#timeoutMs,
      );
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
      const rows = await withinTime(
        this.#em().find(
          LinkRow,
          { ownerId, deletedAt: null, ...(beforeId ? { id: { $lt: beforeId } } : {}) },
          { orderBy: { id: 'desc' }, limit },
        ),
        this.#timeoutMs,
      );
      return rows.map(toStored);
    } catch (error) {
      translate(error);
    }
  }

  /** Frees the (owner, URL) slot of a link that stays as it is (e.g. an expired one). */
  async retireUrl(id: string): Promise<void> {
    try {
      await withinTime(
        this.#em().nativeUpdate(LinkRow, { id }, { urlHash: null }),
        this.#timeoutMs,
      );
    } catch (error) {
      translate(error);
    }
  }

  /** Tombstones the owner's live link; false if it was not live (or not theirs). */
  async markDeleted(id: string, ownerId: string, at: Date): Promise<boolean> {
    try {
      const changed = await withinTime(
        this.#em().nativeUpdate(
          LinkRow,
          { id, ownerId, deletedAt: null },
          { deletedAt: at, urlHash: null },
        ),
        this.#timeoutMs,
      );
      return changed > 0;
    } catch (error) {
      translate(error);
    }
  }
}
