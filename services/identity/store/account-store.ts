// Members and what belongs to them, through MikroORM: their accounts, the
// guests they adopted, their sessions and single-use account tokens (API
// keys: api-key-store.ts). What
// must happen together (an account and its first session; closing and every
// revocation) is one transaction; unique indexes decide races (an email taken,
// a guest adopted twice), and the loser hears which as an answer. Every call
// honours the calling request's deadline (lib/db/call-fork.ts).
import { inCall } from '../../../lib/db/call-fork.ts';
import { translateDatabaseError as translate, violatedUnique } from '../../../lib/db/errors.ts';
import type { Orm } from '../../../lib/db/open.ts';
import {
  AccessTokenRow,
  AccountTokenRow,
  ApiKeyRow,
  GuestAdoptionRow,
  MemberRow,
} from './entities.ts';

export interface StoredMember {
  id: string;
  email: string | null;
  passwordHash: string | null;
  emailVerifiedAt: Date | null;
  createdAt: Date;
  closedAt: Date | null;
}

export interface NewMember {
  id: string;
  email: string;
  passwordHash: string;
  createdAt: Date;
}

export interface NewToken {
  hash: string;
  expiresAt: Date;
}

export type AccountTokenPurpose = 'password_reset' | 'email_verification';

export interface StoredAccountToken {
  memberId: string;
  purpose: AccountTokenPurpose;
  expiresAt: Date;
  usedAt: Date | null;
}

export interface Adoption {
  guestId: string;
  memberId: string;
  linksMovedAt: Date | null;
}

/** How a sign-up's insert ended: stored, or refused by the email's or the guest's unique index. */
export type SignUpOutcome = 'inserted' | 'email_taken' | 'guest_taken';

const UNIQUE_INDEXES = {
  members_email_unique: ['email'],
  guest_adoptions_primary: ['guest_id'],
} as const;

function toMember(row: MemberRow): StoredMember {
  return {
    id: row.id,
    email: row.email ?? null,
    passwordHash: row.passwordHash ?? null,
    emailVerifiedAt: row.emailVerifiedAt ?? null,
    createdAt: row.createdAt,
    closedAt: row.closedAt ?? null,
  };
}

/** A unique violation of the adoption's primary key: named `PRIMARY` on MySQL, by column on SQLite. */
function guestTaken(error: unknown): boolean {
  const index = violatedUnique(error, UNIQUE_INDEXES);
  if (index === 'guest_adoptions_primary') return true;
  return index === 'unknown' && /guest_adoptions|PRIMARY/.test((error as Error).message);
}

export class AccountStore {
  readonly #orm: Orm;

  constructor(orm: Orm) {
    this.#orm = orm;
  }

  /**
   * A new member with their first session and email-verification token, and
   * the guest they adopt if any: all or nothing.
   */
  async insertMember(
    member: NewMember,
    session: NewToken,
    verification: NewToken,
    adoptedGuestId: string | null,
  ): Promise<SignUpOutcome> {
    try {
      await inCall(this.#orm, (fork) =>
        fork.transactional(async (em) => {
          await em.insert(MemberRow, { ...member, emailVerifiedAt: null, closedAt: null });
          await em.insert(AccessTokenRow, {
            tokenHash: session.hash,
            principalId: member.id,
            principalKind: 'member',
            createdAt: member.createdAt,
            expiresAt: session.expiresAt,
            revokedAt: null,
          });
          await em.insert(AccountTokenRow, {
            tokenHash: verification.hash,
            memberId: member.id,
            purpose: 'email_verification',
            createdAt: member.createdAt,
            expiresAt: verification.expiresAt,
            usedAt: null,
          });
          if (adoptedGuestId !== null) {
            await em.insert(GuestAdoptionRow, {
              guestId: adoptedGuestId,
              memberId: member.id,
              adoptedAt: member.createdAt,
              linksMovedAt: null,
            });
          }
        }),
      );
      return 'inserted';
    } catch (error) {
      if (violatedUnique(error, UNIQUE_INDEXES) === 'members_email_unique') return 'email_taken';
      if (guestTaken(error)) return 'guest_taken';
      translate(error);
    }
  }

  async findMember(id: string): Promise<StoredMember | null> {
    try {
      const row = await inCall(this.#orm, (em) => em.findOne(MemberRow, { id }));
      return row ? toMember(row) : null;
    } catch (error) {
      translate(error);
    }
  }

  /** The open account with this (normalised) email. */
  async findMemberByEmail(email: string): Promise<StoredMember | null> {
    try {
      const row = await inCall(this.#orm, (em) => em.findOne(MemberRow, { email, closedAt: null }));
      return row ? toMember(row) : null;
    } catch (error) {
      translate(error);
    }
  }

  /**
   * Closes the account: frees its email, forgets its password, and revokes
   * its sessions, API keys and account tokens, together. False if it was not open.
   */
  async closeMember(id: string, at: Date): Promise<boolean> {
    try {
      return await inCall(this.#orm, (fork) =>
        fork.transactional(async (em) => {
          const closed = await em.nativeUpdate(
            MemberRow,
            { id, closedAt: null },
            { closedAt: at, email: null, passwordHash: null },
          );
          if (closed === 0) return false;
          await em.nativeUpdate(
            AccessTokenRow,
            { principalId: id, revokedAt: null },
            { revokedAt: at },
          );
          await em.nativeUpdate(ApiKeyRow, { memberId: id, revokedAt: null }, { revokedAt: at });
          await em.nativeUpdate(AccountTokenRow, { memberId: id, usedAt: null }, { usedAt: at });
          return true;
        }),
      );
    } catch (error) {
      translate(error);
    }
  }

  /** Link confirmed that the closed account's links are deleted. */
  async markLinksDeleted(id: string, at: Date): Promise<void> {
    try {
      await inCall(this.#orm, (em) =>
        em.nativeUpdate(MemberRow, { id, linksDeletedAt: null }, { linksDeletedAt: at }),
      );
    } catch (error) {
      translate(error);
    }
  }

  /** Accounts closed before `before` whose links link has not yet confirmed deleted, oldest first. */
  async closedWithLinksLeft(before: Date, limit: number): Promise<string[]> {
    try {
      const rows = await inCall(this.#orm, (em) =>
        em.find(
          MemberRow,
          { closedAt: { $ne: null, $lt: before }, linksDeletedAt: null },
          { orderBy: { closedAt: 'asc' }, limit, fields: ['id'] },
        ),
      );
      return rows.map((row) => row.id);
    } catch (error) {
      translate(error);
    }
  }

  // Guests adopted by members.

  async adoptionOf(guestId: string): Promise<Adoption | null> {
    try {
      const row = await inCall(this.#orm, (em) => em.findOne(GuestAdoptionRow, { guestId }));
      return row
        ? { guestId: row.guestId, memberId: row.memberId, linksMovedAt: row.linksMovedAt ?? null }
        : null;
    } catch (error) {
      translate(error);
    }
  }

  /**
   * Records that the member adopts the guest, unless a member already has:
   * then the adoption that stands (the member's own, or another's).
   */
  async recordAdoption(guestId: string, memberId: string, at: Date): Promise<Adoption> {
    try {
      await inCall(this.#orm, (em) =>
        em.insert(GuestAdoptionRow, { guestId, memberId, adoptedAt: at, linksMovedAt: null }),
      );
      return { guestId, memberId, linksMovedAt: null };
    } catch (error) {
      if (!guestTaken(error)) translate(error);
    }
    const standing = await this.adoptionOf(guestId);
    if (!standing) throw new Error(`guest ${guestId} refused as adopted but has no adoption`);
    return standing;
  }

  async markLinksMoved(guestId: string, at: Date): Promise<void> {
    try {
      await inCall(this.#orm, (em) =>
        em.nativeUpdate(GuestAdoptionRow, { guestId, linksMovedAt: null }, { linksMovedAt: at }),
      );
    } catch (error) {
      translate(error);
    }
  }

  /** Adoptions recorded before `before` whose links link has not yet confirmed moved, oldest first. */
  async adoptionsLeft(before: Date, limit: number): Promise<Adoption[]> {
    try {
      const rows = await inCall(this.#orm, (em) =>
        em.find(
          GuestAdoptionRow,
          { linksMovedAt: null, adoptedAt: { $lt: before } },
          { orderBy: { adoptedAt: 'asc' }, limit },
        ),
      );
      return rows.map((row) => ({
        guestId: row.guestId,
        memberId: row.memberId,
        linksMovedAt: null,
      }));
    } catch (error) {
      translate(error);
    }
  }

  // Sessions.

  async insertSession(memberId: string, token: NewToken, at: Date): Promise<void> {
    try {
      await inCall(this.#orm, (em) =>
        em.insert(AccessTokenRow, {
          tokenHash: token.hash,
          principalId: memberId,
          principalKind: 'member',
          createdAt: at,
          expiresAt: token.expiresAt,
          revokedAt: null,
        }),
      );
    } catch (error) {
      translate(error);
    }
  }

  // Account tokens: password resets and email verification.

  async insertAccountToken(
    memberId: string,
    purpose: AccountTokenPurpose,
    token: NewToken,
    at: Date,
  ): Promise<void> {
    try {
      await inCall(this.#orm, (em) =>
        em.insert(AccountTokenRow, {
          tokenHash: token.hash,
          memberId,
          purpose,
          createdAt: at,
          expiresAt: token.expiresAt,
          usedAt: null,
        }),
      );
    } catch (error) {
      translate(error);
    }
  }

  async findAccountToken(hash: string): Promise<StoredAccountToken | null> {
    try {
      const row = await inCall(this.#orm, (em) => em.findOne(AccountTokenRow, { tokenHash: hash }));
      if (!row) return null;
      return {
        memberId: row.memberId,
        purpose: row.purpose === 'password_reset' ? 'password_reset' : 'email_verification',
        expiresAt: row.expiresAt,
        usedAt: row.usedAt ?? null,
      };
    } catch (error) {
      translate(error);
    }
  }

  /**
   * Uses up a reset token and sets the member's new password, burning their
   * other reset tokens and revoking their sessions: together, and only if the
   * token was still unused (false otherwise: a second use, or a race lost).
   */
  async resetPassword(
    tokenHash: string,
    memberId: string,
    passwordHash: string,
    at: Date,
  ): Promise<boolean> {
    try {
      return await inCall(this.#orm, (fork) =>
        fork.transactional(async (em) => {
          const used = await em.nativeUpdate(
            AccountTokenRow,
            { tokenHash, memberId, purpose: 'password_reset', usedAt: null },
            { usedAt: at },
          );
          if (used === 0) return false;
          const changed = await em.nativeUpdate(
            MemberRow,
            { id: memberId, closedAt: null },
            { passwordHash },
          );
          if (changed === 0) return false;
          await em.nativeUpdate(
            AccountTokenRow,
            { memberId, purpose: 'password_reset', usedAt: null },
            { usedAt: at },
          );
          await em.nativeUpdate(
            AccessTokenRow,
            { principalId: memberId, principalKind: 'member', revokedAt: null },
            { revokedAt: at },
          );
          return true;
        }),
      );
    } catch (error) {
      translate(error);
    }
  }

  /** Uses up a verification token and marks the email verified; false if it was used already. */
  async verifyEmail(tokenHash: string, memberId: string, at: Date): Promise<boolean> {
    try {
      return await inCall(this.#orm, (fork) =>
        fork.transactional(async (em) => {
          const used = await em.nativeUpdate(
            AccountTokenRow,
            { tokenHash, memberId, purpose: 'email_verification', usedAt: null },
            { usedAt: at },
          );
          if (used === 0) return false;
          const verified = await em.nativeUpdate(
            MemberRow,
            { id: memberId, closedAt: null },
            { emailVerifiedAt: at },
          );
          return verified > 0;
        }),
      );
    } catch (error) {
      translate(error);
    }
  }
}
