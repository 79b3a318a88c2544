// Mail as files, for the embedded default: each mail becomes `<name>.eml` in
// the outbox folder, the whole message as an SMTP server would have received
// it (any mail client opens it). Written to a temporary name and renamed, so a
// file that is there is whole, and writing the same mail again replaces it.
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createTransport } from 'nodemailer';
import type { Mail } from '../domain/templates.ts';
import { notifierErrors } from '../errors.ts';
import { type Mailer, messageOf } from './mailer.ts';

export class OutboxMailer implements Mailer {
  readonly #dir: string;
  readonly #from: string;
  readonly #composer = createTransport({ streamTransport: true, buffer: true, newline: 'windows' });

  constructor(dir: string, from: string) {
    this.#dir = resolve(dir);
    this.#from = from;
  }

  get dir(): string {
    return this.#dir;
  }

  async send(mail: Mail, name: string): Promise<string> {
    const { message } = await this.#composer.sendMail(messageOf(mail, this.#from));
    const path = join(this.#dir, `${name}.eml`);
    const partial = join(this.#dir, `.${name}.eml.partial`);
    try {
      await mkdir(this.#dir, { recursive: true });
      await writeFile(partial, message, { mode: 0o600 });
      await rename(partial, path);
      return path;
    } catch (error) {
      await rm(partial, { force: true }).catch(() => {});
      throw notifierErrors.outbox_unwritable({ why: (error as Error).message }, { cause: error });
    }
  }

  close(): void {
    this.#composer.close();
  }
}
