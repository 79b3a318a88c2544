// Mails through the whole mesh, on both flavours: identity publishes its events
// (and the tests publish some of their own) and they become mails, over SMTP to a real server in the test
// on MariaDB, Redis and RabbitMQ, and as .eml files in the outbox on the
// embedded default; the link in each mail opens the gateway's page for it,
// which posts the token to the account API. The pages' paths are reserved:
// never looked up as short codes.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Bus } from '../../lib/bus/bus.ts';
import { busSettings } from '../../lib/bus/config.ts';
import { openBus } from '../../lib/bus/open.ts';
import { loadConfig } from '../../lib/config/load.ts';
import { isReserved } from '../../lib/short-code-rules.ts';
import { BusAccountMail } from '../../services/identity/mail/bus-account-mail.ts';
import { logIn, newEmail, newMember } from '../support/accounts.ts';
import { uniqueName } from '../support/env.ts';
import { call } from '../support/http.ts';
import { testLog } from '../support/logger.ts';
import { linkIn, Mailbox } from '../support/mailbox.ts';
import { MESH_FLAVOURS, type MeshFlavour, startTestMesh, type TestMesh } from '../support/mesh.ts';
import { publishTokenEvent, type TokenEventKind, tokenEvent } from '../support/notifier.ts';
import { freePort } from '../support/ports.ts';
import { expectProblem } from '../support/problems.ts';
import { SmtpSink } from '../support/smtp-sink.ts';

const NEW_PASSWORD = 'a brand new passphrase';

const sha256 = (text: string) => createHash('sha256').update(text).digest('base64');

describe.each(MESH_FLAVOURS)('account mails through the mesh (%s)', (flavour: MeshFlavour) => {
  let mesh: TestMesh;
  let sink: SmtpSink | undefined;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    sink = flavour === 'mysql+redis' ? await SmtpSink.open() : undefined;
    mesh = await startTestMesh(flavour, {
      GATEWAY_LISTEN: `127.0.0.1:${port}`,
      ...(sink ? { NOTIFIER_SMTP_URL: sink.url } : {}),
    });
  });
  afterAll(async () => {
    await mesh?.stop();
    await sink?.stop();
  });

  const mailbox = () => new Mailbox(sink, mesh.config.notifier.outboxDir);
  const mailTo = (email: string, subject?: string) => mailbox().waitFor(email, subject);
  const mailsTo = (email: string) => mailbox().to(email);

  const me = (token: string) => call(mesh.url, 'GET', '/api/v1/me', { token });

  test('when a member signs up, then the verification mail arrives, and its link’s token confirms the email', async () => {
    const email = newEmail(`signup-${flavour}`);
    const session = await newMember(mesh.url, email);
    const mail = await mailTo(email, 'Confirm your email address');
    const link = linkIn(mail);
    expect(link.origin).toBe(`http://localhost:${port}`);
    expect(link.pathname).toBe('/verify-email');
    expect((await me(session)).body.emailVerified).toBe(false);

    const token = link.searchParams.get('token') ?? '';
    const confirm = () =>
      call(mesh.url, 'POST', '/api/v1/email-verifications/confirm', { json: { token } });
    expect((await confirm()).status).toBe(204);
    expect((await me(session)).body.emailVerified).toBe(true);
    expectProblem(await confirm(), 400, { code: 'invalid_account_token', field: 'token' });
    expect(await mailsTo(email)).toHaveLength(1);
  });

  test('when a member asks for a reset, then the mail’s link resets the password once, and old sessions end', async () => {
    const email = newEmail(`reset-${flavour}`);
    const old = await newMember(mesh.url, email);
    const asked = await call(mesh.url, 'POST', '/api/v1/password-resets', { json: { email } });
    expect(asked.status).toBe(202);
    const link = linkIn(await mailTo(email, 'Reset your password'));
    expect(link.pathname).toBe('/reset-password');
    expect((await fetch(link)).status).toBe(200);

    const token = link.searchParams.get('token') ?? '';
    const confirm = (password: string) =>
      call(mesh.url, 'POST', '/api/v1/password-resets/confirm', { json: { token, password } });
    expect((await confirm(NEW_PASSWORD)).status).toBe(204);
    expectProblem(await confirm('yet another passphrase'), 400, { code: 'invalid_account_token' });
    expectProblem(await logIn(mesh.url, email), 401, { code: 'invalid_credentials' });
    expect((await logIn(mesh.url, email, NEW_PASSWORD)).status).toBe(201);
    expectProblem(await me(old), 401, { code: 'invalid_token' });
  });

  test('when a reset is asked for an email nobody has, then the same 202 and no mail goes out', async () => {
    const nobody = newEmail(`nobody-${flavour}`);
    const known = newEmail(`known-${flavour}`);
    await newMember(mesh.url, known);
    const asked = await call(mesh.url, 'POST', '/api/v1/password-resets', {
      json: { email: nobody },
    });
    const knownAsked = await call(mesh.url, 'POST', '/api/v1/password-resets', {
      json: { email: known },
    });
    expect(asked.status).toBe(202);
    expect(knownAsked.status).toBe(202);
    expect(asked.body).toEqual(knownAsked.body);
    // The known member's reset mail came through the same queue after the unknown one's would have.
    await mailTo(known, 'Reset your password');
    expect(await mailsTo(nobody)).toEqual([]);
  });

  const PAGES: { kind: TokenEventKind; path: string; confirm: string; body: RegExp }[] = [
    {
      kind: 'password_reset',
      path: '/reset-password',
      confirm: '/api/v1/password-resets/confirm',
      body: /\{ token, password \}/,
    },
    {
      kind: 'email_verification',
      path: '/verify-email',
      confirm: '/api/v1/email-verifications/confirm',
      body: /\{ token \}/,
    },
  ];

  test.each(PAGES)(
    'when identity publishes a $kind event, then the mail’s link opens the gateway’s $path page, which posts the token to $confirm',
    async ({ kind, path, confirm, body }) => {
      const event = tokenEvent({ email: `${kind}-${flavour}@example.com` });
      await publishTokenEvent(mesh.mesh.bus, kind, event);
      const link = linkIn(await mailTo(event.email));
      // The mesh's notifier links to its own gateway's public address.
      expect(link.origin).toBe(`http://localhost:${port}`);
      expect(link.pathname).toBe(path);
      expect(link.searchParams.get('token')).toBe(event.token);

      const answer = await fetch(link);
      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(answer.headers.get('cache-control')).toBe('no-store');
      expect(answer.headers.get('referrer-policy')).toBe('no-referrer');
      const policy = answer.headers.get('content-security-policy') ?? '';
      expect(policy).toMatch(/default-src 'none'/);
      expect(policy).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
      expect(policy).toMatch(/connect-src 'self'/);
      const html = await answer.text();
      expect(html).toMatch(/^<!doctype html>/);
      expect(html).toContain('<form id="form"');
      expect(html).toContain(JSON.stringify(confirm));
      expect(html).toMatch(body);
      // The token is read by the page's script, never written into the page.
      expect(html).not.toContain(event.token);
      // Its one script parses, and the policy admits exactly it (and its style).
      const script = /<script type="module">([\s\S]*?)<\/script>/.exec(html)?.[1] ?? '';
      expect(() => new Function(script)).not.toThrow();
      expect(policy).toContain(`'sha256-${sha256(script)}'`);
      const style = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1] ?? '';
      expect(policy).toContain(`style-src 'sha256-${sha256(style)}'`);
    },
  );

  test('when the pages’ paths are asked for as codes (no token, other case, other method), then they are never looked up as short codes', async () => {
    for (const path of ['reset-password', 'verify-email', 'Reset-Password', 'VERIFY-EMAIL']) {
      expect(isReserved(path), path).toBe(true);
    }
    const plain = await fetch(`${mesh.url}/reset-password`);
    expect(plain.status).toBe(200);
    expect(await plain.text()).toContain('This link is incomplete');
    const head = await fetch(`${mesh.url}/verify-email`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    for (const path of ['/Reset-Password', '/VERIFY-EMAIL']) {
      expectProblem(await call(mesh.url, 'GET', path), 404, { label: path });
    }
    const post = await call(mesh.url, 'POST', '/reset-password');
    expectProblem(post, 405, { code: 'method_not_allowed' });
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });
});

describe('account mails while the broker is away', () => {
  const PUBLISH_TIMEOUT_MS = 1_500;
  let bus: Bus;
  let mesh: TestMesh;

  beforeAll(async () => {
    // Identity's mails go to a broker nobody runs: every publish times out.
    const config = loadConfig(
      { bus: busSettings },
      {
        RABBITMQ_URL: `amqp://guest:guest@127.0.0.1:${await freePort()}`,
        BUS_EXCHANGE: uniqueName('away'),
        BUS_PUBLISH_TIMEOUT: `${PUBLISH_TIMEOUT_MS}ms`,
      },
    );
    bus = openBus(config.bus, testLog);
    let id = 1_000n;
    const mail = new BusAccountMail({ bus, nextEventId: () => String(++id), now: Date.now });
    mesh = await startTestMesh('embedded', {}, { identity: { mail } });
  });
  afterAll(async () => {
    await mesh?.stop();
    await bus?.close();
  });

  test('when a mail cannot be published, then sign-up still answers 201, and a reset answers the same 202 as for an unknown email, as fast', async () => {
    const email = newEmail('away');
    const made = await call(mesh.url, 'POST', '/api/v1/users', {
      json: { email, password: NEW_PASSWORD },
    });
    expect(made.status).toBe(201);
    const ask = async (who: string) => {
      const started = performance.now();
      const answer = await call(mesh.url, 'POST', '/api/v1/password-resets', {
        json: { email: who },
      });
      return { answer, ms: performance.now() - started };
    };
    const known = await ask(email);
    const unknown = await ask(newEmail('nobody-away'));
    expect(known.answer.status).toBe(202);
    expect(unknown.answer.status).toBe(202);
    expect(known.answer.body).toEqual(unknown.answer.body);
    // The answer never waits for the broker's confirm.
    expect(known.ms).toBeLessThan(PUBLISH_TIMEOUT_MS / 2);
    // The account works all the same.
    expect((await logIn(mesh.url, email, NEW_PASSWORD)).status).toBe(201);
  });
});
