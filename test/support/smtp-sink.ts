// A real SMTP server for the notifier's stories (smtp-server): it takes every
// mail on a loopback port, parses it (mailparser) and keeps it with the
// envelope it came in. It can be stopped and started again on the same port,
// to play a mail server that goes away and comes back.
import { once } from 'node:events';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { freePort } from './ports.ts';
import { within } from './wait.ts';

export interface ReceivedMail {
  /** RCPT TO of the envelope. */
  recipients: string[];
  mail: ParsedMail;
}

export class SmtpSink {
  readonly port: number;
  readonly received: ReceivedMail[] = [];
  readonly #refuse: RegExp | undefined;
  #server: SMTPServer | undefined;

  private constructor(port: number, refuse: RegExp | undefined) {
    this.port = port;
    this.#refuse = refuse;
  }

  /**
   * A sink on a free port; listening unless `listening` is false (a mail
   * server that is down). Recipients matching `refuse` are refused with 550.
   */
  static async open(options: { listening?: boolean; refuse?: RegExp } = {}): Promise<SmtpSink> {
    const sink = new SmtpSink(await freePort(), options.refuse);
    if (options.listening ?? true) await sink.start();
    return sink;
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onRcptTo: ({ address }, _session, callback) => {
        if (!this.#refuse?.test(address)) return callback();
        callback(
          Object.assign(new Error(`5.1.1 <${address}>: no such mailbox`), { responseCode: 550 }),
        );
      },
      onData: (stream, session, callback) => {
        simpleParser(stream).then(
          (mail) => {
            const recipients = session.envelope.rcptTo.map((r) => r.address);
            this.received.push({ recipients, mail });
            callback();
          },
          (error: Error) => callback(error),
        );
      },
    });
    server.listen(this.port, '127.0.0.1');
    await once(server.server, 'listening');
    this.#server = server;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Waits until `count` mails have arrived (more may follow); they are returned. */
  async waitForMails(count: number, timeoutMs = 10_000): Promise<ReceivedMail[]> {
    await within(timeoutMs, () => this.received.length >= count);
    return this.received.slice(0, count);
  }
}
