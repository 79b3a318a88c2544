// Port: where a composed mail goes. An SMTP server when one is configured;
// otherwise (the embedded default) an outbox folder of .eml files, so a
// developer can open what would have been sent.
import type { Mail } from '../domain/templates.ts';

export interface Mailer {
  /** Resolves once the mail is handed over (the SMTP server took it, or the file is written); says where. */
  send(mail: Mail, name: string): Promise<string>;
  close(): void;
}

/** The nodemailer message of a mail, from `from`: the same for the SMTP server and the outbox. */
export function messageOf(mail: Mail, from: string) {
  return {
    from,
    to: mail.to,
    subject: mail.subject,
    text: mail.text,
    html: mail.html,
    messageId: mail.messageId,
  };
}
