// The mails themselves: a plain-text and an HTML part of the same words, with
// the link to the gateway's page for the token. Everything interpolated into
// the HTML is escaped; the token is percent-encoded into the link.
import type { MailKind, MailRequest } from './mail-request.ts';

export interface Mail {
  /** Stable per event, so a receiving system can tell a resent mail from a new one. */
  readonly messageId: string;
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

interface Template {
  /** The gateway's page that takes the token. */
  path: string;
  subject: string;
  /** Paragraphs before the link; `{email}` is the recipient. */
  before: string[];
  action: string;
  after: string[];
}

const TEMPLATES: Record<MailKind, Template> = {
  password_reset: {
    path: '/reset-password',
    subject: 'Reset your password',
    before: [
      'Someone, hopefully you, asked to reset the password of the Shortener account of {email}.',
      'To choose a new password, open this link before {expires}:',
    ],
    action: 'Choose a new password',
    after: [
      'The link works once. If you did not ask for this, ignore this mail: your password stays as it is.',
    ],
  },
  email_verification: {
    path: '/verify-email',
    subject: 'Confirm your email address',
    before: [
      'Please confirm that {email} is your address for Shortener.',
      'Open this link before {expires}:',
    ],
    action: 'Confirm my address',
    after: ['The link works once. If you did not sign up for Shortener, ignore this mail.'],
  },
};

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** `2026-12-01 10:15 UTC`: unambiguous wherever the reader is. */
function utc(at: Date): string {
  return `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** The link a mail carries: the page for its kind, with the token in the query. */
export function linkFor(request: MailRequest, publicBaseUrl: string): string {
  const path = TEMPLATES[request.kind].path;
  return `${publicBaseUrl}${path}?token=${encodeURIComponent(request.token)}`;
}

export function composeMail(request: MailRequest, publicBaseUrl: string): Mail {
  const template = TEMPLATES[request.kind];
  const link = linkFor(request, publicBaseUrl);
  const fill = (line: string) =>
    line.replaceAll('{email}', request.email).replaceAll('{expires}', utc(request.expiresAt));
  const before = template.before.map(fill);
  const after = template.after.map(fill);
  const text = [...before, link, ...after].join('\n\n');
  const paragraphs = (lines: string[]) => lines.map((l) => `<p>${escapeHtml(l)}</p>`).join('\n');
  const html = [
    '<!doctype html>',
    `<html><head><meta charset="utf-8"><title>${escapeHtml(template.subject)}</title></head><body>`,
    paragraphs(before),
    `<p><a href="${escapeHtml(link)}">${escapeHtml(template.action)}</a></p>`,
    `<p>Or copy this address into your browser:<br>${escapeHtml(link)}</p>`,
    paragraphs(after),
    '</body></html>',
  ].join('\n');
  const domain = new URL(publicBaseUrl).hostname;
  return {
    messageId: `<${request.eventId}.${request.kind.replace('_', '-')}@${domain}>`,
    to: request.email,
    subject: template.subject,
    text: `${text}\n`,
    html: `${html}\n`,
  };
}
