// Reads and writes links through MikroORM. Every method is one statement; the
// unique indexes decide races (code taken, same owner + URL), and callers learn
// which by asking again rather than by parsing driver messages.
import { DuplicateKey, translateDatabaseError as translate } from '../../../lib/db/errors.ts';
import type { Orm } from '../../../lib/db/open.ts';
import { withinTime } from '../../../lib/db/time-limit.ts';
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

  /** Inserts a new link; throws DuplicateKey if its code or (owner, URL) is taken. */
  async insert(link: Link, urlHash: string): Promise<void> {
    try {
      await withinTime(
        this.#em().insert(LinkRow, { ...link, urlHash, deletedAt: null }),
        this.#timeoutMs,
      );
    } catch (error) {
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
