// The identity service's account store on every adapter: an email is one
// account however the sign-ups race, a guest is adopted by one member ever,
// closing an account revokes everything it held in one go, and account
// tokens and API keys are single-purpose and revocable. Ids above 2^53 must
// survive exactly.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Dialect } from '../../lib/db/migrations.ts';
import { tokenHash } from '../../services/identity/domain/tokens.ts';
import { AccountStore, type NewMember } from '../../services/identity/store/account-store.ts';
import { ApiKeyStore } from '../../services/identity/store/api-key-store.ts';
import { IdentityStore } from '../../services/identity/store/identity-store.ts';
import { identitySchema } from '../../services/identity/store/schema.ts';
import { openTestDatabase, type TestDatabase } from '../support/databases.ts';

const DIALECTS: Dialect[] = ['mysql', 'sqlite'];
const HOUR = 3_600_000;

let next = 9_007_199_254_900_001n; // above 2^53
function freshId(): string {
  next += 2n;
  return String(next);
}
let tokens = 0;
function freshToken(): { hash: string; expiresAt: Date } {
  tokens += 1;
  return {
    hash: tokenHash(`token-${process.pid}-${tokens}`),
    expiresAt: new Date(Date.now() + HOUR),
  };
}

function aMember(email: string): NewMember {
  return {
    id: freshId(),
    email,
    passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$x$y',
    createdAt: new Date(),
  };
}

describe.each(DIALECTS)('account store (%s)', (dialect) => {
  let db: TestDatabase;
  let accounts: AccountStore;
  let identity: IdentityStore;
  let apiKeys: ApiKeyStore;

  beforeAll(async () => {
    db = await openTestDatabase(dialect, identitySchema, 'account_store');
    accounts = new AccountStore(db.orm);
    identity = new IdentityStore(db.orm);
    apiKeys = new ApiKeyStore(db.orm);
  });
  afterAll(() => db?.close());

  test('when a member is stored, then their session, email and id read back exactly', async () => {
    const member = aMember(`exact.${dialect}@example.com`);
    const session = freshToken();
    expect(await accounts.insertMember(member, session, freshToken(), null)).toBe('inserted');
    expect(await accounts.findMemberByEmail(member.email)).toMatchObject({
      id: member.id,
      email: member.email,
      passwordHash: member.passwordHash,
      emailVerifiedAt: null,
      closedAt: null,
    });
    expect(await identity.findToken(session.hash)).toMatchObject({
      principalId: member.id,
      principalKind: 'member',
      revokedAt: null,
    });
    // Emails are stored normalised, so they compare byte for byte: no collation folds case.
    expect(await accounts.findMemberByEmail(member.email.toUpperCase())).toBeNull();
  });

  test('when sign-ups for one email race, then exactly one is stored and the others hear email_taken', async () => {
    const email = `race.${dialect}@example.com`;
    const outcomes = await Promise.all(
      Array.from({ length: 5 }, () =>
        accounts.insertMember(aMember(email), freshToken(), freshToken(), null),
      ),
    );
    expect(outcomes.filter((o) => o === 'inserted')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'email_taken')).toHaveLength(4);
  });

  test('when two sign-ups adopt one guest, then one is stored and the other leaves nothing behind', async () => {
    const guest = freshId();
    const first = aMember(`adopt1.${dialect}@example.com`);
    const second = aMember(`adopt2.${dialect}@example.com`);
    const secondSession = freshToken();
    expect(await accounts.insertMember(first, freshToken(), freshToken(), guest)).toBe('inserted');
    expect(await accounts.insertMember(second, secondSession, freshToken(), guest)).toBe(
      'guest_taken',
    );
    expect(await accounts.findMember(second.id)).toBeNull();
    expect(await identity.findToken(secondSession.hash)).toBeNull();
    expect(await accounts.adoptionOf(guest)).toEqual({
      guestId: guest,
      memberId: first.id,
      linksMovedAt: null,
    });
    // Recording it again answers the adoption that stands.
    expect((await accounts.recordAdoption(guest, second.id, new Date())).memberId).toBe(first.id);
    await accounts.markLinksMoved(guest, new Date());
    expect((await accounts.adoptionOf(guest))?.linksMovedAt).toBeInstanceOf(Date);
  });

  test('when adoptions are left unmoved, then only those older than asked are listed, oldest first', async () => {
    const [old, fresh] = [freshId(), freshId()];
    const member = freshId();
    await accounts.recordAdoption(old, member, new Date(Date.now() - 10 * HOUR));
    await accounts.recordAdoption(fresh, member, new Date());
    const left = await accounts.adoptionsLeft(new Date(Date.now() - HOUR), 100);
    expect(left.map((a) => a.guestId)).toContain(old);
    expect(left.map((a) => a.guestId)).not.toContain(fresh);
    await accounts.markLinksMoved(old, new Date());
    expect((await accounts.adoptionsLeft(new Date(), 100)).map((a) => a.guestId)).not.toContain(
      old,
    );
  });

  test('when an account is closed, then its sessions, keys and tokens are revoked, its email is free, and it is listed until its links are gone', async () => {
    const email = `close.${dialect}@example.com`;
    const member = aMember(email);
    const session = freshToken();
    const verification = freshToken();
    await accounts.insertMember(member, session, verification, null);
    const second = freshToken();
    await accounts.insertSession(member.id, second, new Date());
    const keyId = freshId();
    await apiKeys.insertApiKey(
      { id: keyId, memberId: member.id, name: 'ci', createdAt: new Date() },
      tokenHash(`key-${dialect}`),
    );
    const at = new Date();
    expect(await accounts.closeMember(member.id, at)).toBe(true);
    expect(await accounts.closeMember(member.id, at)).toBe(false);
    for (const token of [session, second]) {
      expect((await identity.findToken(token.hash))?.revokedAt).toBeInstanceOf(Date);
    }
    expect((await apiKeys.findApiKey(tokenHash(`key-${dialect}`)))?.revokedAt).toBeInstanceOf(Date);
    expect((await accounts.findAccountToken(verification.hash))?.usedAt).toBeInstanceOf(Date);
    expect(await accounts.findMemberByEmail(email)).toBeNull();
    expect(await accounts.findMember(member.id)).toMatchObject({ email: null, passwordHash: null });

    const later = new Date(Date.now() + 1_000);
    expect(await accounts.closedWithLinksLeft(later, 100)).toContain(member.id);
    await accounts.markLinksDeleted(member.id, new Date());
    expect(await accounts.closedWithLinksLeft(later, 100)).not.toContain(member.id);
    // The email is free for a new account.
    expect(await accounts.insertMember(aMember(email), freshToken(), freshToken(), null)).toBe(
      'inserted',
    );
  });

  test('when a reset token is used, then the password changes, sessions are revoked, and it never works twice', async () => {
    const member = aMember(`reset.${dialect}@example.com`);
    const session = freshToken();
    await accounts.insertMember(member, session, freshToken(), null);
    const reset = freshToken();
    const other = freshToken();
    await accounts.insertAccountToken(member.id, 'password_reset', reset, new Date());
    await accounts.insertAccountToken(member.id, 'password_reset', other, new Date());

    const results = await Promise.all([
      accounts.resetPassword(reset.hash, member.id, 'new-hash', new Date()),
      accounts.resetPassword(reset.hash, member.id, 'rival-hash', new Date()),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(['new-hash', 'rival-hash']).toContain(
      (await accounts.findMember(member.id))?.passwordHash,
    );
    expect((await identity.findToken(session.hash))?.revokedAt).toBeInstanceOf(Date);
    // The member's other reset token is burnt too; a verification token is no reset token.
    expect(await accounts.resetPassword(other.hash, member.id, 'x', new Date())).toBe(false);
    const verification = freshToken();
    await accounts.insertAccountToken(member.id, 'email_verification', verification, new Date());
    expect(await accounts.resetPassword(verification.hash, member.id, 'x', new Date())).toBe(false);
    expect(await accounts.verifyEmail(verification.hash, member.id, new Date())).toBe(true);
    expect(await accounts.verifyEmail(verification.hash, member.id, new Date())).toBe(false);
    expect((await accounts.findMember(member.id))?.emailVerifiedAt).toBeInstanceOf(Date);
  });

  test("when API keys are listed, revoked and used, then only the owner's live keys show, newest first", async () => {
    const owner = freshId();
    const stranger = freshId();
    const ids = [freshId(), freshId(), freshId()];
    for (const [i, id] of ids.entries()) {
      await apiKeys.insertApiKey(
        { id, memberId: owner, name: `key ${i} ✓`, createdAt: new Date() },
        tokenHash(`list-${dialect}-${id}`),
      );
    }
    expect((await apiKeys.liveApiKeys(owner)).map((k) => k.id)).toEqual([...ids].reverse());
    expect((await apiKeys.liveApiKeys(owner))[0]?.name).toBe('key 2 ✓');
    expect(await apiKeys.revokeApiKey(ids[0] ?? '', stranger, new Date())).toBe(false);
    expect(await apiKeys.revokeApiKey(ids[0] ?? '', owner, new Date())).toBe(true);
    expect(await apiKeys.revokeApiKey(ids[0] ?? '', owner, new Date())).toBe(false);
    expect((await apiKeys.liveApiKeys(owner)).map((k) => k.id)).toEqual([ids[2], ids[1]]);

    const used = new Date(Date.now() - 5_000);
    await apiKeys.touchApiKey(ids[1] ?? '', used, new Date(Date.now() - 60_000));
    const touched = (await apiKeys.liveApiKeys(owner)).find((k) => k.id === ids[1]);
    expect(touched?.lastUsedAt?.getTime()).toBe(used.getTime());
    // A use within the interval writes nothing.
    await apiKeys.touchApiKey(ids[1] ?? '', new Date(), new Date(Date.now() - 60_000));
    const again = (await apiKeys.liveApiKeys(owner)).find((k) => k.id === ids[1]);
    expect(again?.lastUsedAt?.getTime()).toBe(used.getTime());
  });
});
