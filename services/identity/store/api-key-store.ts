// Members' API keys through MikroORM, stored as hashes only. Every call
// honours the calling request's deadline (lib/db/call-fork.ts).
import { inCall } from '../../../lib/db/call-fork.ts';
import { translateDatabaseError as translate } from '../../../lib/db/errors.ts';
import type { Orm } from '../../../lib/db/open.ts';
import { ApiKeyRow } from './entities.ts';

export interface StoredApiKey {
  id: string;
  memberId: string;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

function toApiKey(row: ApiKeyRow): StoredApiKey {
  return {
    id: row.id,
    memberId: row.memberId,
    name: row.name,
    createdAt: row.createdAt,
    lastUsedAt: row.lastUsedAt ?? null,
    revokedAt: row.revokedAt ?? null,
  };
}

export class ApiKeyStore {
  readonly #orm: Orm;

  constructor(orm: Orm) {
    this.#orm = orm;
  }

  async insertApiKey(key: Omit<StoredApiKey, 'lastUsedAt' | 'revokedAt'>, hash: string) {
    try {
      await inCall(this.#orm, (em) =>
        em.insert(ApiKeyRow, { ...key, keyHash: hash, lastUsedAt: null, revokedAt: null }),
      );
    } catch (error) {
      translate(error);
    }
  }

  /** The member's live keys, newest first. */
  async liveApiKeys(memberId: string): Promise<StoredApiKey[]> {
    try {
      const rows = await inCall(this.#orm, (em) =>
        em.find(ApiKeyRow, { memberId, revokedAt: null }, { orderBy: { id: 'desc' } }),
      );
      return rows.map(toApiKey);
    } catch (error) {
      translate(error);
    }
  }

  async findApiKey(hash: string): Promise<StoredApiKey | null> {
    try {
      const row = await inCall(this.#orm, (em) => em.findOne(ApiKeyRow, { keyHash: hash }));
      return row ? toApiKey(row) : null;
    } catch (error) {
      translate(error);
    }
  }

  /** Revokes the member's live key; false if it is not live or not theirs. */
  async revokeApiKey(id: string, memberId: string, at: Date): Promise<boolean> {
    try {
      const revoked = await inCall(this.#orm, (em) =>
        em.nativeUpdate(ApiKeyRow, { id, memberId, revokedAt: null }, { revokedAt: at }),
      );
      return revoked > 0;
    } catch (error) {
      translate(error);
    }
  }

  /** Moves a key's last use to `at` unless it was written after `staleBefore`. */
  async touchApiKey(id: string, at: Date, staleBefore: Date): Promise<void> {
    try {
      await inCall(this.#orm, (em) =>
        em.nativeUpdate(
          ApiKeyRow,
          { id, $or: [{ lastUsedAt: null }, { lastUsedAt: { $lt: staleBefore } }] },
          { lastUsedAt: at },
        ),
      );
    } catch (error) {
      translate(error);
    }
  }
}
