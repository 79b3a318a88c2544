// Single-use account tokens: a password reset, and the email verification a
// sign-up makes. Each is a random secret stored only as its hash, valid for a
// configured while, used up by the first confirmation. Asking for a reset
// answers the same whether or not the email has an account (and whether or
// not a token was made); an unknown, used or expired token reads the same.
import { runtimeErrors } from '../../../lib/runtime-errors.ts';
import { identityErrors } from '../errors.ts';
import type { AccountTokenPurpose, StoredAccountToken } from '../store/account-store.ts';
import { handOver } from './account-mail.ts';
import { normaliseEmail } from './emails.ts';
import type { MemberDeps } from './members.ts';
import { checkNewPassword } from './passwords.ts';
import { looksLikeToken, newToken, type TokenKind, tokenHash } from './tokens.ts';

const KIND_OF: Record<AccountTokenPurpose, TokenKind> = {
  password_reset: 'passwordReset',
  email_verification: 'emailVerification',
};

export async function requestPasswordReset(
  deps: MemberDeps,
  rawEmail: string,
  clientIp: string,
): Promise<void> {
  const email = normaliseEmail(rawEmail);
  const perIp = await deps.limiter.consume(
    'password-resets-ip',
    deps.rules.passwordResetsPerIp,
    clientIp || 'unknown',
  );
  if (!perIp.allowed) {
    throw runtimeErrors.rate_limited(
      { what: 'password resets asked from this address' },
      { retryAfterMs: perIp.retryAfterMs },
    );
  }
  const member = await deps.accounts.findMemberByEmail(email);
  if (!member) return;
  // Over the email's own budget nothing more is sent, and nothing says so:
  // the answer must not differ from an unknown email's.
  const perEmail = await deps.limiter.consume(
    'password-resets-email',
    deps.rules.passwordResetsPerEmail,
    email,
  );
  if (!perEmail.allowed) return;
  const now = deps.now();
  const token = newToken('passwordReset');
  const expiresAt = new Date(now + deps.rules.passwordResetTtlMs);
  await deps.accounts.insertAccountToken(
    member.id,
    'password_reset',
    { hash: tokenHash(token), expiresAt },
    new Date(now),
  );
  // Not awaited: the answer must take no longer for a member's email than for
  // an unknown one, also while the broker is slow or away (a publish then
  // waits up to BUS_PUBLISH_TIMEOUT). handOver never rejects.
  void handOver(deps.log, 'password_reset', member.id, () =>
    deps.mail.passwordResetRequested({ memberId: member.id, email, token, expiresAt }),
  );
}

/** The stored token for `token`, if it is live and of `purpose`. */
async function liveToken(
  deps: MemberDeps,
  token: string,
  purpose: AccountTokenPurpose,
): Promise<StoredAccountToken & { hash: string }> {
  if (!looksLikeToken(token, KIND_OF[purpose])) throw identityErrors.invalid_account_token();
  const hash = tokenHash(token);
  const stored = await deps.accounts.findAccountToken(hash);
  if (
    !stored ||
    stored.purpose !== purpose ||
    stored.usedAt !== null ||
    stored.expiresAt.getTime() <= deps.now()
  ) {
    throw identityErrors.invalid_account_token();
  }
  return { ...stored, hash };
}

/** Sets the new password, uses the token up and revokes every session of the member. */
export async function confirmPasswordReset(
  deps: MemberDeps,
  token: string,
  password: string,
): Promise<void> {
  const stored = await liveToken(deps, token, 'password_reset');
  checkNewPassword(password);
  const hash = await deps.passwords.hash(password);
  const reset = await deps.accounts.resetPassword(
    stored.hash,
    stored.memberId,
    hash,
    new Date(deps.now()),
  );
  // Used meanwhile by a concurrent confirmation: this one is too late.
  if (!reset) throw identityErrors.invalid_account_token();
  await deps.revocations.announce({ principalId: stored.memberId });
}

export async function confirmEmail(deps: MemberDeps, token: string): Promise<void> {
  const stored = await liveToken(deps, token, 'email_verification');
  if (!(await deps.accounts.verifyEmail(stored.hash, stored.memberId, new Date(deps.now())))) {
    throw identityErrors.invalid_account_token();
  }
}
