// Guests and their tokens through MikroORM.
import { inCall } from '../../../lib/db/call-fork.ts';
import { translateDatabaseError as translate } from '../../../lib/db/errors.ts';
import type { Orm } from '../../../lib/db/open.ts';
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

  /**
   * Every call is given up on when the gRPC call it serves runs out of time
   * (lib/call-scope.ts), and then fails as `unavailable` with its writes rolled back.
   */
  constructor(orm: Orm) {
    this.#orm = orm;
  }

  /** Stores a new guest and its first token together. */
  async insertGuest(
    guest: { id: string; createdAt: Date },
    token: { hash: string; expiresAt: Date },
  ): Promise<void> {
    try {
      await inCall(this.#orm, (fork) =>
        fork.transactional(async (em) => {
          await em.insert(GuestRow, guest);
          await em.insert(AccessTokenRow, {
            tokenHash: token.hash,
            principalId: guest.id,
            principalKind: 'guest',
            createdAt: guest.createdAt,
            expiresAt: token.expiresAt,
            revokedAt: null,
          });
        }),
      );
    } catch (error) {
      translate(error);
    }
  }

  /** When the guest was issued, or null for no such guest. */
  async findGuest(id: string): Promise<{ createdAt: Date } | null> {
    try {
      const row = await inCall(this.#orm, (em) => em.findOne(GuestRow, { id }));
      return row ? { createdAt: row.createdAt } : null;
    } catch (error) {
      translate(error);
    }
  }

  async findToken(hash: string): Promise<StoredToken | null> {
    try {
      const row = await inCall(this.#orm, (em) => em.findOne(AccessTokenRow, { tokenHash: hash }));
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
      await inCall(this.#orm, (em) =>
        em.nativeUpdate(AccessTokenRow, { tokenHash: hash, revokedAt: null }, { revokedAt: at }),
      );
    } catch (error) {
      translate(error);
    }
  }
}
