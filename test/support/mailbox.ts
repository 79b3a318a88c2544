// The mails a test mesh's notifier sent, wherever they went: an SMTP sink in
// the test (on MariaDB and RabbitMQ) or the outbox folder (the embedded default).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ParsedMail, simpleParser } from 'mailparser';
import type { SmtpSink } from './smtp-sink.ts';
import { within } from './wait.ts';

export function recipientOf(mail: ParsedMail): string | undefined {
  return (Array.isArray(mail.to) ? mail.to[0] : mail.to)?.value[0]?.address;
}

/** The first line of the text part that is a URL. */
export function linkIn(mail: ParsedMail): URL {
  const line = (mail.text ?? '').split('\n').find((l) => /^https?:\/\//.test(l.trim()));
  if (!line) throw new Error(`no link in ${mail.text}`);
  return new URL(line.trim());
}

export class Mailbox {
  readonly #sink: SmtpSink | undefined;
  readonly #outbox: string;

  constructor(sink: SmtpSink | undefined, outbox: string) {
    this.#sink = sink;
    this.#outbox = outbox;
  }

  /** Every mail received so far. */
  async all(): Promise<ParsedMail[]> {
    if (this.#sink) return this.#sink.received.map((r) => r.mail);
    if (!existsSync(this.#outbox)) return [];
    return Promise.all(
      readdirSync(this.#outbox)
        .filter((name) => name.endsWith('.eml'))
        .map((name) => simpleParser(readFileSync(join(this.#outbox, name)))),
    );
  }

  /** Every mail sent to `email` (with `subject`, if given). */
  async to(email: string, subject?: string | RegExp): Promise<ParsedMail[]> {
    const matches = (m: ParsedMail) =>
      subject === undefined ||
      (typeof subject === 'string' ? m.subject === subject : subject.test(m.subject ?? ''));
    return (await this.all()).filter((m) => recipientOf(m) === email && matches(m));
  }

  /** The first mail sent to `email` (with `subject`, if given), once it has arrived. */
  async waitFor(email: string, subject?: string | RegExp, timeoutMs = 10_000): Promise<ParsedMail> {
    let found: ParsedMail | undefined;
    await within(timeoutMs, async () => {
      found = (await this.to(email, subject))[0];
      return found !== undefined;
    });
    return found as ParsedMail;
  }
}
