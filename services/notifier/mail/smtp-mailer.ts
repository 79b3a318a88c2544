// Mail through an SMTP server (nodemailer). One connection per mail, closed
// after it: a notifier sends a few mails a minute, and nothing is left open to
// go stale while the server is away. Any failure (unreachable, a timeout, a
// refusal) is mail_not_sent: the bus retries the message with backoff and,
// after the last attempt, parks it. Each send is a client span of the
// message's processing, so a reset mail ends the trace of its request.
import { SpanKind } from '@opentelemetry/api';
import { createTransport } from 'nodemailer';
import { inSpan, tracer } from '../../../lib/telemetry/tracing.ts';
import type { Mail } from '../domain/templates.ts';
import { notifierErrors } from '../errors.ts';
import { type Mailer, messageOf } from './mailer.ts';

const smtpTracer = tracer('shortener.notifier');

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

  send(mail: Mail): Promise<string> {
    const span = smtpTracer.startSpan('smtp send', {
      kind: SpanKind.CLIENT,
      attributes: { 'server.address': this.#host, 'network.protocol.name': 'smtp' },
    });
    return inSpan(span, () => this.#send(mail));
  }

  async #send(mail: Mail): Promise<string> {
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
