// Reads and writes links through MikroORM. Every method is one statement; the
// unique indexes decide races (code taken, same owner + URL), and callers learn
// which by asking again rather than by parsing driver messages.
import { inCall } from '../../../lib/db/call-fork.ts';
import { DuplicateKey, translateDatabaseError as translate } from '../../../lib/db/errors.ts';
import type { Orm } from '../../../lib/db/open.ts';
import type { Link, StoredLink } from '../domain/link.ts';
import { LinkRow } from './entities.ts';

export { DuplicateKey };

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

  /** Inserts a new link; throws DuplicateKey if its code or (owner, URL) is taken. */
  async insert(link: Link, urlHash: string): Promise<void> {
    try {
      await inCall(this.#orm, (em) => em.insert(LinkRow, { ...link, urlHash, deletedAt: null }));
    } catch (error) {
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
