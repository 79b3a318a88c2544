// Mail through an SMTP server (nodemailer). One connection per mail, closed
// after it: a notifier sends a few mails a minute, and nothing is left open to
// go stale while the server is away. Any failure (unreachable, a timeout, a
// refusal) is mail_not_sent: the bus retries the message with backoff and,
// after the last attempt, parks it.
import { createTransport } from 'nodemailer';
import type { Mail } from '../domain/templates.ts';
import { notifierErrors } from '../errors.ts';
import { type Mailer, messageOf } from './mailer.ts';

export interface SmtpOptions {
  url: string;
  from: string;
  /** Bound on connecting, on the greeting and on each reply. */
  timeoutMs: number;
}

export class SmtpMailer implements Mailer {
  readonly #transport;
  readonly #from: string;
  readonly #host: string;

  constructor(options: SmtpOptions) {
    this.#from = options.from;
    this.#host = new URL(options.url).host;
    this.#transport = createTransport({
      url: options.url,
      connectionTimeout: options.timeoutMs,
      greetingTimeout: options.timeoutMs,
      socketTimeout: options.timeoutMs,
    });
  }

  async send(mail: Mail): Promise<string> {
    try {
      const info = await this.#transport.sendMail(messageOf(mail, this.#from));
      if (info.rejected.length > 0) throw new Error(`recipient refused: ${info.response}`);
      return `smtp://${this.#host}`;
    } catch (error) {
      throw notifierErrors.mail_not_sent({ why: (error as Error).message }, { cause: error });
    }
  }

  close(): void {
    this.#transport.close();
  }
}
