// Members: signing up with an email and a password, logging in, seeing
// oneself, closing the account. A login never tells an unknown email from a
// wrong password: the same answer, after the same work (a dummy hash is
// verified for an unknown email). Failed logins are limited per email and per
// client IP: each attempt spends a unit of both budgets before the password
// is checked (atomically, so a burst of parallel guesses gets no more than
// the budget), and a success gives its units back and forgets the email's
// failures, so only failures count.
import type { Caller } from '../../../lib/callers.ts';
import type { RateRule } from '../../../lib/config/parsers.ts';
import { isSnowflake, type SnowflakeGenerator } from '../../../lib/ids/snowflake.ts';
import type { RateLimiter } from '../../../lib/limiter/limiter.ts';
import { runtimeErrors } from '../../../lib/runtime-errors.ts';
import { identityErrors } from '../errors.ts';
import type { StoredMember } from '../store/account-store.ts';
import { type AccountMail, handOver } from './account-mail.ts';
import {
  type AdoptionDeps,
  adopt,
  moveAdoptedLinks,
  presentedGuest,
  refuseAdopted,
} from './adoption.ts';
import { normaliseEmail } from './emails.ts';
import { checkNewPassword, type PasswordHasher } from './passwords.ts';
import type { Principal } from './principal.ts';
import { newToken, tokenHash } from './tokens.ts';

export interface AccountRules {
  sessionTtlMs: number;
  passwordResetTtlMs: number;
  emailVerificationTtlMs: number;
  signUpsPerIp: RateRule;
  loginFailuresPerEmail: RateRule;
  loginFailuresPerIp: RateRule;
  passwordResetsPerIp: RateRule;
  passwordResetsPerEmail: RateRule;
}

export interface MemberDeps extends AdoptionDeps {
  limiter: RateLimiter;
  ids: SnowflakeGenerator;
  passwords: PasswordHasher;
  mail: AccountMail;
  rules: AccountRules;
}

export interface Credentials {
  email: string;
  password: string;
  /** A guest's token, whose links the member adopts; empty for none. */
  guestToken: string;
  clientIp: string;
}

export interface MemberSession {
  member: Principal;
  email: string;
  token: string;
  tokenExpiresAt: Date;
}

export interface User {
  principal: Principal;
  email: string | null;
  emailVerified: boolean;
  createdAt: Date;
}

const ip = (clientIp: string) => clientIp || 'unknown';

async function spend(deps: MemberDeps, name: string, rule: RateRule, key: string, what: string) {
  const budget = await deps.limiter.consume(name, rule, key);
  if (!budget.allowed) {
    throw runtimeErrors.rate_limited({ what }, { retryAfterMs: budget.retryAfterMs });
  }
}

export async function signUp(deps: MemberDeps, input: Credentials): Promise<MemberSession> {
  const email = normaliseEmail(input.email);
  checkNewPassword(input.password);
  await spend(deps, 'signups-ip', deps.rules.signUpsPerIp, ip(input.clientIp), 'sign-ups');
  const guest = await presentedGuest(deps, input.guestToken);
  if (guest) await refuseAdopted(deps, guest.id);

  const now = deps.now();
  const id = deps.ids.next();
  const token = newToken();
  const tokenExpiresAt = new Date(now + deps.rules.sessionTtlMs);
  const verification = newToken('emailVerification');
  const verificationExpiresAt = new Date(now + deps.rules.emailVerificationTtlMs);
  const outcome = await deps.accounts.insertMember(
    {
      id,
      email,
      passwordHash: await deps.passwords.hash(input.password),
      createdAt: new Date(now),
    },
    { hash: tokenHash(token), expiresAt: tokenExpiresAt },
    { hash: tokenHash(verification), expiresAt: verificationExpiresAt },
    guest?.id ?? null,
  );
  if (outcome === 'email_taken') throw identityErrors.email_taken();
  if (outcome === 'guest_taken') throw identityErrors.guest_already_adopted();

  await handOver(deps.log, 'email_verification', id, () =>
    deps.mail.verificationRequested({
      memberId: id,
      email,
      token: verification,
      expiresAt: verificationExpiresAt,
    }),
  );
  if (guest) {
    await moveAdoptedLinks(deps, { guestId: guest.id, memberId: id, linksMovedAt: null });
  }
  return { member: { id, kind: 'member' }, email, token, tokenExpiresAt };
}

/** Spends one attempt of both failure budgets; refused with the longer delay if either is spent. */
async function spendAttempt(deps: MemberDeps, email: string, clientIp: string) {
  const [perEmail, perIp] = await Promise.all([
    deps.limiter.consume('login-failures-email', deps.rules.loginFailuresPerEmail, email),
    deps.limiter.consume('login-failures-ip', deps.rules.loginFailuresPerIp, ip(clientIp)),
  ]);
  const waits = [perEmail, perIp].flatMap((d) => (d.allowed ? [] : [d.retryAfterMs]));
  if (waits.length > 0) {
    throw identityErrors.login_rate_limited({ retryAfterMs: Math.max(...waits) });
  }
}

/** A success was no failure: the email's failures are forgotten and the address's unit given back. */
async function forgiveAttempt(deps: MemberDeps, email: string, clientIp: string) {
  await Promise.all([
    deps.limiter.reset('login-failures-email', deps.rules.loginFailuresPerEmail, email),
    deps.limiter.refund('login-failures-ip', deps.rules.loginFailuresPerIp, ip(clientIp)),
  ]);
}

export async function login(deps: MemberDeps, input: Credentials): Promise<MemberSession> {
  const email = normaliseEmail(input.email);
  await spendAttempt(deps, email, input.clientIp);
  const member = await deps.accounts.findMemberByEmail(email);
  const matches = await deps.passwords.verify(member?.passwordHash ?? null, input.password);
  if (!member || !matches) throw identityErrors.invalid_credentials();
  await forgiveAttempt(deps, email, input.clientIp);

  const guest = await presentedGuest(deps, input.guestToken);
  const adoption = guest ? await adopt(deps, guest.id, member.id) : null;
  const now = deps.now();
  const token = newToken();
  const tokenExpiresAt = new Date(now + deps.rules.sessionTtlMs);
  await deps.accounts.insertSession(
    member.id,
    { hash: tokenHash(token), expiresAt: tokenExpiresAt },
    new Date(now),
  );
  if (adoption) await moveAdoptedLinks(deps, adoption);
  return { member: { id: member.id, kind: 'member' }, email, token, tokenExpiresAt };
}

export function requireMember(caller: Caller): void {
  if (caller.kind !== 'member') throw identityErrors.members_only();
}

async function openAccount(deps: MemberDeps, caller: Caller): Promise<StoredMember> {
  const member = await deps.accounts.findMember(caller.id);
  if (!member || member.closedAt !== null) throw identityErrors.account_not_found();
  return member;
}

export async function getUser(deps: MemberDeps, caller: Caller): Promise<User> {
  if (caller.kind === 'guest') {
    const guest = await deps.store.findGuest(caller.id);
    if (!guest) throw identityErrors.account_not_found();
    return { principal: caller, email: null, emailVerified: false, createdAt: guest.createdAt };
  }
  const member = await openAccount(deps, caller);
  return {
    principal: caller,
    email: member.email,
    emailVerified: member.emailVerifiedAt !== null,
    createdAt: member.createdAt,
  };
}

export interface MemberContact {
  email: string;
  emailVerified: boolean;
}

/**
 * Where to write to a member, for internal callers (the notifier). A guest,
 * an unknown id and a closed account read the same: nobody to write to.
 */
export async function memberContact(deps: MemberDeps, userId: string): Promise<MemberContact> {
  if (!isSnowflake(userId)) throw identityErrors.invalid_user_id();
  const member = await deps.accounts.findMember(userId);
  if (!member || member.closedAt !== null || member.email === null) {
    throw identityErrors.account_not_found();
  }
  return { email: member.email, emailVerified: member.emailVerifiedAt !== null };
}

/**
 * Closes the account first (every session and key stops at once, so nothing
 * new is made), then has link delete its links; if link cannot be reached
 * now, the deletion is retried until done (workers/link-handovers.ts).
 */
export async function closeAccount(deps: MemberDeps, caller: Caller): Promise<void> {
  requireMember(caller);
  await openAccount(deps, caller);
  if (!(await deps.accounts.closeMember(caller.id, new Date(deps.now())))) {
    throw identityErrors.account_not_found();
  }
  await deps.revocations.announce({ principalId: caller.id });
  await deleteClosedAccountLinks(deps, caller.id);
}

/** Has link delete a closed account's links, and notes it once done; a failure is retried later. */
export async function deleteClosedAccountLinks(deps: MemberDeps, memberId: string) {
  try {
    const deleted = await deps.links.deleteAll(memberId);
    await deps.accounts.markLinksDeleted(memberId, new Date(deps.now()));
    deps.log.info({ memberId, deleted }, 'closed account links deleted');
  } catch (error) {
    deps.log.warn(
      { memberId, cause: (error as Error).message },
      'closed account links not deleted yet; retried later',
    );
  }
}
