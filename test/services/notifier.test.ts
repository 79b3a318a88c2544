// The notifier as its process runs it, fed identity's events over the bus: on
// RabbitMQ and MariaDB with a real SMTP server in the test (smtp-server), and
// on the embedded default, where each mail becomes an .eml file in the outbox.
// The same stories run on both: a published event becomes one mail to the
// member, with a text and an HTML part and a link to the gateway's page for
// the token; a redelivered event sends no second mail; a malformed one is
// parked while the rest flow; an expired token gets no mail. Then the mail
// server going away: retries, the dead-letter queue, and recovery.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type ParsedMail, simpleParser } from 'mailparser';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { PasswordResetRequested } from '../../gen/shortener/v1/events.ts';
import { CONSUMERS, systemTopology, TOKEN_EVENTS } from '../../lib/bus/catalog.ts';
import { topicMatches } from '../../lib/bus/topology.ts';
import { dialable } from '../../lib/config/parsers.ts';
import { healthChecker } from '../../lib/grpc/health-client.ts';
import { escapeHtml } from '../../services/notifier/domain/templates.ts';
import { MYSQL_URL, uniqueName } from '../support/env.ts';
import {
  type NotifierFlavour,
  publishTokenEvent,
  ROUTING_KEYS,
  startTestNotifier,
  type TestNotifier,
  takeOver,
  tokenEvent,
} from '../support/notifier.ts';
import { SmtpSink } from '../support/smtp-sink.ts';
import { sleep, within } from '../support/wait.ts';

const BASE = 'https://sho.rt.example';
const RESET = CONSUMERS.passwordResetMailer.name;
const VERIFY = CONSUMERS.emailVerificationMailer.name;

/** What a story reads the mails from: the SMTP server, or the outbox folder. */
interface Mailbox {
  /** Every mail so far. */
  mails(): Promise<ParsedMail[]>;
  /** One entry per mail handed over, so a mail sent twice shows twice (a rewritten file too). */
  handovers(): string[];
}

interface Setup {
  flavour: NotifierFlavour;
  label: string;
  open(): Promise<{ notifier: TestNotifier; mailbox: Mailbox; close(): Promise<void> }>;
}

const SETUPS: Setup[] = [
  {
    flavour: 'rabbitmq+mysql',
    label: 'RabbitMQ, MariaDB and an SMTP server',
    async open() {
      const sink = await SmtpSink.open();
      const notifier = await startTestNotifier('rabbitmq+mysql', { NOTIFIER_SMTP_URL: sink.url });
      return {
        notifier,
        mailbox: {
          mails: async () => sink.received.map((r) => r.mail),
          handovers: () => sink.received.map((r, i) => `${i}:${r.mail.messageId}`),
        },
        async close() {
          await notifier.stop();
          await sink.stop();
        },
      };
    },
  },
  {
    flavour: 'embedded',
    label: 'the embedded default and its outbox',
    async open() {
      const notifier = await startTestNotifier('embedded');
      const outbox = notifier.config.notifier.outboxDir;
      return {
        notifier,
        mailbox: {
          async mails() {
            if (!existsSync(outbox)) return [];
            const files = readdirSync(outbox).filter((name) => name.endsWith('.eml'));
            return Promise.all(files.map((name) => simpleParser(readFileSync(join(outbox, name)))));
          },
          // A file written again is a new file (a rename over the old one): a new inode.
          handovers: () =>
            existsSync(outbox)
              ? readdirSync(outbox).map((name) => `${name}@${statSync(join(outbox, name)).ino}`)
              : [],
        },
        close: () => notifier.stop(),
      };
    },
  },
];

/** The link of a mail's text part: the one line that is a URL. */
function linkIn(mail: ParsedMail): URL {
  const line = (mail.text ?? '').split('\n').find((l) => /^https?:\/\//.test(l.trim()));
  if (!line) throw new Error(`no link in ${mail.text}`);
  return new URL(line.trim());
}

function recipientOf(mail: ParsedMail): string | undefined {
  const to = Array.isArray(mail.to) ? mail.to[0] : mail.to;
  return to?.value[0]?.address;
}

async function mailsTo(mailbox: Mailbox, email: string, count: number): Promise<ParsedMail[]> {
  let found: ParsedMail[] = [];
  await within(10_000, async () => {
    found = (await mailbox.mails()).filter((m) => recipientOf(m) === email);
    return found.length >= count;
  });
  return found;
}

describe.each(SETUPS)('the notifier on $label', ({ flavour, open }) => {
  let notifier: TestNotifier;
  let mailbox: Mailbox;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ notifier, mailbox, close } = await open());
  });
  afterAll(() => close());

  test('when identity asks for a password reset, then the member gets one mail with a text and an HTML part linking to the reset page with the token', async () => {
    const event = tokenEvent({ email: `reset-${flavour}@example.com` });
    await publishTokenEvent(notifier.bus, 'password_reset', event);
    const [mail] = await mailsTo(mailbox, event.email, 1);
    if (!mail) throw new Error('no mail');
    expect(mail.subject).toBe('Reset your password');
    expect(mail.from?.value).toEqual([{ name: 'Shortener', address: 'no-reply@localhost' }]);
    expect(mail.messageId).toBe(`<${event.eventId}.password-reset@sho.rt.example>`);
    const link = linkIn(mail);
    expect(link.origin).toBe(BASE);
    expect(link.pathname).toBe('/reset-password');
    expect(link.searchParams.get('token')).toBe(event.token);
    expect(mail.text).toContain(event.expiresAt.toISOString().slice(0, 16).replace('T', ' '));
    expect(mail.html).toContain(`<a href="${escapeHtml(link.href)}">Choose a new password</a>`);
    // The HTML is its own part, beside the text.
    expect(mail.html).toMatch(/^<!doctype html>/);
    expect(mail.text).not.toContain('<p>');
  });

  test('when identity asks to confirm an address, then the mail links to the verification page with the token', async () => {
    const event = tokenEvent({ email: `verify-${flavour}@example.com` });
    await publishTokenEvent(notifier.bus, 'email_verification', event);
    const [mail] = await mailsTo(mailbox, event.email, 1);
    if (!mail) throw new Error('no mail');
    expect(mail.subject).toBe('Confirm your email address');
    const link = linkIn(mail);
    expect(`${link.origin}${link.pathname}`).toBe(`${BASE}/verify-email`);
    expect(link.searchParams.get('token')).toBe(event.token);
    expect(mail.text).toContain(event.email);
    expect(mail.html).toContain(`<a href="${escapeHtml(link.href)}">Confirm my address</a>`);
  });

  test('when the address and token hold HTML and URL specials, then the HTML escapes them and the link still carries the exact token', async () => {
    const event = tokenEvent({
      email: `o'brien&co-${flavour}@example.com`,
      token: 'a+b/c=d&e<f>"g\'h',
    });
    await publishTokenEvent(notifier.bus, 'email_verification', event);
    const [mail] = await mailsTo(mailbox, event.email, 1);
    if (!mail) throw new Error('no mail');
    expect(mail.html).toContain(`o&#39;brien&amp;co-${flavour}@example.com`);
    expect(mail.html).not.toContain("o'brien&co");
    expect(mail.html).not.toContain('e<f>');
    expect(linkIn(mail).searchParams.get('token')).toBe(event.token);
  });

  test('when the same event is delivered twice, then one mail is sent', async () => {
    const email = `twice-${flavour}@example.com`;
    const event = tokenEvent({ email });
    await publishTokenEvent(notifier.bus, 'password_reset', event);
    await mailsTo(mailbox, email, 1);
    const before = mailbox.handovers();
    await publishTokenEvent(notifier.bus, 'password_reset', event);
    // A later event on the same queue arrives after the duplicate was handled.
    const after = tokenEvent({ email });
    await publishTokenEvent(notifier.bus, 'password_reset', after);
    await within(10_000, async () =>
      (await mailsTo(mailbox, email, 1)).some(
        (m) => linkIn(m).searchParams.get('token') === after.token,
      ),
    );
    const mails = await mailsTo(mailbox, email, 2);
    expect(mails.map((m) => m.messageId).sort()).toEqual(
      [
        `<${event.eventId}.password-reset@sho.rt.example>`,
        `<${after.eventId}.password-reset@sho.rt.example>`,
      ].sort(),
    );
    const added = mailbox.handovers().filter((h) => !before.includes(h));
    expect(added, 'only the later event was handed over').toHaveLength(1);
    expect(mailbox.handovers()).toEqual(expect.arrayContaining(before));
    expect(await notifier.bus.deadLetters(RESET)).toEqual([]);
  });

  test('when a message does not decode or lacks an address, then it is parked after its retries and the mails behind it go out', async () => {
    const email = `behind-${flavour}@example.com`;
    await notifier.bus.publish(
      ROUTING_KEYS.password_reset,
      Buffer.from('not protobuf at all \xff'),
    );
    await publishTokenEvent(notifier.bus, 'email_verification', tokenEvent({ email: '' }));
    const good = tokenEvent({ email });
    await publishTokenEvent(notifier.bus, 'password_reset', good);
    await mailsTo(mailbox, email, 1);
    await within(10_000, async () => (await notifier.bus.deadLetters(RESET)).length === 1);
    await within(10_000, async () => (await notifier.bus.deadLetters(VERIFY)).length === 1);
    const [garbage] = await notifier.bus.deadLetters(RESET);
    expect(garbage?.attempts).toBe(3);
    expect(garbage?.error).toMatch(/identity\.password_reset_requested event is malformed/);
    const [missing] = await notifier.bus.deadLetters(VERIFY);
    expect(missing?.error).toMatch(/email is not an address/);
  });

  test('when the token expired before the mail could go out, then no mail is sent and nothing is parked', async () => {
    const email = `late-${flavour}@example.com`;
    const expired = tokenEvent({ email, expiresAt: new Date(Date.now() - 1_000) });
    await publishTokenEvent(notifier.bus, 'password_reset', expired);
    const fresh = tokenEvent({ email });
    await publishTokenEvent(notifier.bus, 'password_reset', fresh);
    const [mail, ...more] = await mailsTo(mailbox, email, 1);
    await sleep(200);
    expect(more).toEqual([]);
    expect(linkIn(mail as ParsedMail).searchParams.get('token')).toBe(fresh.token);
    expect((await mailsTo(mailbox, email, 1)).length).toBe(1);
  });

  test('when asked through grpc.health.v1, then it is SERVING with its database; once stopped, it answers nothing', async () => {
    const own = await startTestNotifier(flavour);
    const checker = healthChecker(dialable(own.service.address));
    try {
      expect(await checker.status('', 2_000)).toBe('SERVING');
      expect(await checker.status('notifier:database', 2_000)).toBe('SERVING');
      expect(await checker.status('notifier:database-writes', 2_000)).toBe('SERVING');
      await own.stop();
      expect(await checker.status('', 1_000)).toBe('unreachable');
    } finally {
      checker.close();
      await own.stop();
    }
  });
});

describe('the notifier across a restart', () => {
  let sink: SmtpSink;
  let notifier: TestNotifier | undefined;
  beforeAll(async () => {
    sink = await SmtpSink.open();
  });
  afterAll(async () => {
    await notifier?.stop();
    await sink.stop();
  });

  test('when the notifier restarts and the same event arrives again, then no second mail is sent: what was sent is in its database', async () => {
    const first = await startTestNotifier('rabbitmq+mysql', { NOTIFIER_SMTP_URL: sink.url });
    const event = tokenEvent({ email: 'restart@example.com' });
    await publishTokenEvent(first.bus, 'password_reset', event);
    await sink.waitForMails(1);
    await first.stop({ keep: true });

    notifier = await startTestNotifier('rabbitmq+mysql', {
      NOTIFIER_SMTP_URL: sink.url,
      ...takeOver(first),
    });
    await publishTokenEvent(notifier.bus, 'password_reset', event);
    const next = tokenEvent({ email: 'restart@example.com' });
    await publishTokenEvent(notifier.bus, 'password_reset', next);
    const mails = await sink.waitForMails(2);
    await sleep(200);
    expect(sink.received).toHaveLength(2);
    expect(mails.map((m) => m.mail.messageId)).toEqual([
      `<${event.eventId}.password-reset@sho.rt.example>`,
      `<${next.eventId}.password-reset@sho.rt.example>`,
    ]);
  });
});

describe('the notifier while its mail server is away', () => {
  let sink: SmtpSink;
  let notifier: TestNotifier;
  beforeAll(async () => {
    sink = await SmtpSink.open({ listening: false });
    notifier = await startTestNotifier('rabbitmq+mysql', {
      NOTIFIER_SMTP_URL: sink.url,
      NOTIFIER_SMTP_TIMEOUT: '1s',
    });
  });
  afterAll(async () => {
    await notifier.stop();
    await sink.stop();
  });

  test('when the SMTP server is down, then the mail is retried with backoff and parked in the dead-letter queue; once it is back, a new event is mailed', async () => {
    const lost = tokenEvent({ email: 'while-down@example.com' });
    const started = Date.now();
    await publishTokenEvent(notifier.bus, 'password_reset', lost);
    await within(15_000, async () => (await notifier.bus.deadLetters(RESET)).length === 1);
    // Attempts 2 and 3 came after 100 and 200 ms (BUS_RETRY_DELAY=100ms, doubling).
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    const [parked] = await notifier.bus.deadLetters(RESET);
    expect(parked?.attempts).toBe(3);
    expect(parked?.error).toMatch(/the mail server did not take the mail: .*ECONNREFUSED/);
    expect(PasswordResetRequested.decode(parked?.body ?? new Uint8Array()).eventId).toBe(
      lost.eventId,
    );
    expect(sink.received).toEqual([]);

    await sink.start();
    const next = tokenEvent({ email: 'after-recovery@example.com' });
    await publishTokenEvent(notifier.bus, 'password_reset', next);
    const [mail] = await sink.waitForMails(1, 15_000);
    expect(mail?.recipients).toEqual(['after-recovery@example.com']);
    expect(linkIn(mail?.mail as ParsedMail).searchParams.get('token')).toBe(next.token);
    // The parked one stays parked, for an operator: never retried forever, never lost.
    await sleep(300);
    expect(sink.received).toHaveLength(1);
    expect(await notifier.bus.deadLetters(RESET)).toHaveLength(1);
  }, 40_000);
});

describe('the notifier when its mail server refuses a recipient', () => {
  let sink: SmtpSink;
  let notifier: TestNotifier;
  beforeAll(async () => {
    sink = await SmtpSink.open({ refuse: /^gone-/ });
    notifier = await startTestNotifier('rabbitmq+mysql', { NOTIFIER_SMTP_URL: sink.url });
  });
  afterAll(async () => {
    await notifier.stop();
    await sink.stop();
  });

  test('when the server answers 550 for the address, then the event is parked with the server’s answer, and the next mail goes out', async () => {
    const refused = tokenEvent({ email: 'gone-away@example.com' });
    await publishTokenEvent(notifier.bus, 'email_verification', refused);
    const next = tokenEvent({ email: 'still-here@example.com' });
    await publishTokenEvent(notifier.bus, 'email_verification', next);
    const [mail] = await sink.waitForMails(1);
    expect(mail?.recipients).toEqual(['still-here@example.com']);
    await within(10_000, async () => (await notifier.bus.deadLetters(VERIFY)).length === 1);
    const [parked] = await notifier.bus.deadLetters(VERIFY);
    expect(parked?.attempts).toBe(3);
    expect(parked?.error).toMatch(/the mail server did not take the mail: .*550.*no such mailbox/);
    expect(sink.received).toHaveLength(1);
  });
});

describe('the notifier while its database cannot be opened', () => {
  let notifier: TestNotifier | undefined;
  afterEach(() => notifier?.stop());

  test('when its database is unreachable at start, then it answers NOT_SERVING instead of exiting', async () => {
    // The machine's MariaDB, on a port where nothing listens.
    const unreachable = new URL(`${MYSQL_URL}/${uniqueName('unreachable')}`);
    unreachable.port = '1';
    notifier = await startTestNotifier(
      'rabbitmq+mysql',
      { NOTIFIER_DATABASE_URL: unreachable.href },
      { waitUntilReady: false },
    );
    const checker = healthChecker(dialable(notifier.service.address));
    try {
      await sleep(300);
      expect(await checker.status('', 2_000)).toBe('NOT_SERVING');
    } finally {
      checker.close();
    }
  });
});

describe('the bus topology of token events', () => {
  test('when anything binds to an event that carries a raw token, then it is the notifier’s own mailer for it', () => {
    const topology = systemTopology('shortener.events', {
      maxAttempts: 1,
      backoff: { initialMs: 1, maxMs: 1 },
    });
    for (const routingKey of TOKEN_EVENTS) {
      const bound = topology.consumers.filter((c) =>
        c.routingKeys.some((pattern) => topicMatches(pattern, routingKey)),
      );
      expect(
        bound.map((c) => c.name),
        routingKey,
      ).toEqual([routingKey === ROUTING_KEYS.password_reset ? RESET : VERIFY]);
    }
  });
});
