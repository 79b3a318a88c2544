// The mails an account needs sent: a port, because delivering them is the
// notifier's job (over the bus), not identity's. Identity hands over the
// token itself, once; it keeps only the token's hash.
import { type Logger, ThrottledLog } from '../../../lib/log.ts';

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
 * Until the notifier is wired in: says that no mail went out (at most once a
 * minute per kind, with how many were held back), never what it held.
 */
export class UnwiredAccountMail implements AccountMail {
  readonly #log: ThrottledLog;

  constructor(log: Logger) {
    this.#log = new ThrottledLog(log, 60_000);
  }

  async verificationRequested(mail: AccountMailMessage): Promise<void> {
    this.#log.warn(
      'email_verification',
      { memberId: mail.memberId, mail: 'email_verification' },
      'mail not wired',
    );
  }

  async passwordResetRequested(mail: AccountMailMessage): Promise<void> {
    this.#log.warn(
      'password_reset',
      { memberId: mail.memberId, mail: 'password_reset' },
      'mail not wired',
    );
  }
}
