// Guests and their tokens through MikroORM.
import { translateDatabaseError as translate } from '../../../lib/db/errors.ts';
import type { Orm } from '../../../lib/db/open.ts';
import { withinTime } from '../../../lib/db/time-limit.ts';
import type { PrincipalKind } from '../domain/principal.ts';
import { AccessTokenRow, GuestRow } from './entities.ts';

export interface StoredToken {
  principalId: string;
  principalKind: PrincipalKind;
  expiresAt: Date;
  revokedAt: Date | null;
}

export class IdentityStore {
  readonly #orm: Orm;
  readonly #timeoutMs: number;

  /** Every call answers within `timeoutMs`, or fails as `unavailable`. */
  constructor(orm: Orm, timeoutMs = 1_000) {
    this.#orm = orm;
    this.#timeoutMs = timeoutMs;
  }

  /** Stores a new guest and its first token together. */
  async insertGuest(
    guest: { id: string; createdAt: Date },
    token: { hash: string; expiresAt: Date },
  ): Promise<void> {
    try {
      const insert = this.#orm.em.fork().transactional(async (em) => {
        await em.insert(GuestRow, guest);
        await em.insert(AccessTokenRow, {
          tokenHash: token.hash,
          principalId: guest.id,
          principalKind: 'guest',
          createdAt: guest.createdAt,
          expiresAt: token.expiresAt,
          revokedAt: null,
        });
      });
      await withinTime(insert, this.#timeoutMs);
    } catch (error) {
      translate(error);
    }
  }

  async findToken(hash: string): Promise<StoredToken | null> {
    try {
      const row = await withinTime(
        this.#orm.em.fork().findOne(AccessTokenRow, { tokenHash: hash }),
        this.#timeoutMs,
      );
      if (!row) return null;
      return {
        principalId: row.principalId,
        principalKind: row.principalKind === 'member' ? 'member' : 'guest',
        expiresAt: row.expiresAt,
        revokedAt: row.revokedAt ?? null,
      };
    } catch (error) {
      translate(error);
    }
  }

  async revokeToken(hash: string, at: Date): Promise<void> {
    try {
      await withinTime(
        this.#orm.em
          .fork()
          .nativeUpdate(AccessTokenRow, { tokenHash: hash, revokedAt: null }, { revokedAt: at }),
        this.#timeoutMs,
      );
    } catch (error) {
      translate(error);
    }
  }
}
