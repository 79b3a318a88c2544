// Members in stories: signing up and logging in over HTTP, and the mails
// identity would send, captured where the notifier would take them (the
// AccountMail port), so a story can follow the token a member would get.
import type {
  AccountMail,
  AccountMailMessage,
} from '../../services/identity/domain/account-mail.ts';
import { type Answer, call } from './http.ts';

export type MailKind = 'email_verification' | 'password_reset';

export class CapturedMail implements AccountMail {
  readonly sent: (AccountMailMessage & { kind: MailKind })[] = [];

  async verificationRequested(mail: AccountMailMessage): Promise<void> {
    this.sent.push({ ...mail, kind: 'email_verification' });
  }

  async passwordResetRequested(mail: AccountMailMessage): Promise<void> {
    this.sent.push({ ...mail, kind: 'password_reset' });
  }

  /** Every mail of this kind sent to the email, oldest first. */
  to(email: string, kind: MailKind): (AccountMailMessage & { kind: MailKind })[] {
    return this.sent.filter((mail) => mail.email === email && mail.kind === kind);
  }

  /** The token of the latest such mail; throws if none was sent. */
  lastToken(email: string, kind: MailKind): string {
    const mail = this.to(email, kind).at(-1);
    if (!mail) throw new Error(`no ${kind} mail went to ${email}`);
    return mail.token;
  }
}

let counter = 0;

/** A fresh email for a story: unique per run, so suites sharing a database never collide. */
export function newEmail(label = 'member'): string {
  counter += 1;
  return `${label}.${process.pid}.${Date.now().toString(36)}.${counter}@example.com`;
}

/** A password none of the rules refuses. */
export const GOOD_PASSWORD = 'correct horse battery staple';

export function signUp(
  base: string,
  email: string,
  password = GOOD_PASSWORD,
  guestToken?: string,
): Promise<Answer> {
  return call(base, 'POST', '/api/v1/users', {
    json: { email, password },
    ...(guestToken ? { token: guestToken } : {}),
  });
}

export function logIn(
  base: string,
  email: string,
  password = GOOD_PASSWORD,
  guestToken?: string,
): Promise<Answer> {
  return call(base, 'POST', '/api/v1/sessions', {
    json: { email, password },
    ...(guestToken ? { token: guestToken } : {}),
  });
}

/** A new member's session token; throws unless sign-up answered 201. */
export async function newMember(base: string, email = newEmail()): Promise<string> {
  const answer = await signUp(base, email);
  if (answer.status !== 201) {
    throw new Error(`sign-up refused: ${answer.status} ${JSON.stringify(answer.body)}`);
  }
  return answer.body.token;
}
