// Mails through the whole mesh, on both flavours: identity's events (published
// here, as identity will) become mails, over SMTP to a real server in the test
// on MariaDB, Redis and RabbitMQ, and as .eml files in the outbox on the
// embedded default; the link in each mail opens the gateway's page for it,
// which posts the token to the account API. The pages' paths are reserved:
// never looked up as short codes.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ParsedMail, simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { isReserved } from '../../lib/short-code-rules.ts';
import { call } from '../support/http.ts';
import { MESH_FLAVOURS, type MeshFlavour, startTestMesh, type TestMesh } from '../support/mesh.ts';
import { publishTokenEvent, type TokenEventKind, tokenEvent } from '../support/notifier.ts';
import { freePort } from '../support/ports.ts';
import { expectProblem } from '../support/problems.ts';
import { SmtpSink } from '../support/smtp-sink.ts';
import { within } from '../support/wait.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest('base64');

function linkIn(mail: ParsedMail): URL {
  const line = (mail.text ?? '').split('\n').find((l) => /^https?:\/\//.test(l.trim()));
  if (!line) throw new Error(`no link in ${mail.text}`);
  return new URL(line.trim());
}

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

  /** The mail sent to `email`, from the SMTP server or the outbox. */
  async function mailTo(email: string): Promise<ParsedMail> {
    let found: ParsedMail | undefined;
    const outbox = mesh.config.notifier.outboxDir;
    await within(10_000, async () => {
      const mails = sink
        ? sink.received.map((r) => r.mail)
        : existsSync(outbox)
          ? await Promise.all(
              readdirSync(outbox)
                .filter((name) => name.endsWith('.eml'))
                .map((name) => simpleParser(readFileSync(join(outbox, name)))),
            )
          : [];
      found = mails.find((m) => {
        const to = Array.isArray(m.to) ? m.to[0] : m.to;
        return to?.value[0]?.address === email;
      });
      return found !== undefined;
    });
    return found as ParsedMail;
  }

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
