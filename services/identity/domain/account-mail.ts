// The mails an account needs sent: a port, because delivering them is the
// notifier's job (over the bus: mail/bus-account-mail.ts), not identity's.
// Identity hands over the token itself, once; it keeps only the token's hash.
import type { Logger } from '../../../lib/log.ts';

export interface AccountMailMessage {
  memberId: string;
  email: string;
  /** The single-use token the mail carries. */
  token: string;
  expiresAt: Date;
}

export interface AccountMail {
  /** A new member's email is to be confirmed (POST /api/v1/email-verifications/confirm). */
  verificationRequested(mail: AccountMailMessage): Promise<void>;
  /** A member asked to reset their password (POST /api/v1/password-resets/confirm). */
  passwordResetRequested(mail: AccountMailMessage): Promise<void>;
}

/**
 * Hands a mail over without its failure reaching the caller: a reset request
 * answers the same whether or not a mail was due (so whether the email has an
 * account), and a sign-up already made stays made. Logged, never the token.
 */
export async function handOver(
  log: Logger,
  mail: 'email_verification' | 'password_reset',
  memberId: string,
  send: () => Promise<void>,
): Promise<void> {
  try {
    await send();
  } catch (error) {
    log.error(
      { memberId, mail, cause: (error as Error).message },
      'account mail not handed to the notifier; the member may ask again',
    );
  }
}
