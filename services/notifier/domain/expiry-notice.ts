// What an expiry notice says, whichever way it goes: a member's link will
// expire soon unless followed or extended. Built from a LinkExpiring event
// (workers/expiry-notices.ts) and checked here, so a malformed event is
// refused before anything is sent; then written as a mail (a plain-text and an
// HTML part of the same words, everything interpolated into the HTML escaped)
// and as one line of text for a chat webhook.
import { CODE_PATTERN } from '../../../lib/short-code-rules.ts';
import { notifierErrors } from '../errors.ts';
import { escapeHtml, type Mail } from './templates.ts';

export interface ExpiryNotice {
  /** The event's Snowflake id: what the notice is deduplicated by. */
  readonly eventId: string;
  readonly linkId: string;
  readonly code: string;
  readonly ownerId: string;
  readonly expiresAt: Date;
  readonly lastAccessedAt: Date | undefined;
  /** The gateway's one-click page that extends the link; goes into the notice, never into a log. */
  readonly extendUrl: string;
  readonly targetUrl: string;
}

const SNOWFLAKE = /^[1-9]\d{0,18}$/;

function isHttpUrl(text: string): boolean {
  if (text.length > 4096 || !URL.canParse(text)) return false;
  return /^https?:$/.test(new URL(text).protocol);
}

/** The notice if every field it needs is there and well-formed; malformed_event otherwise. */
export function checkedNotice(
  routingKey: string,
  fields: Omit<ExpiryNotice, 'expiresAt'> & { expiresAt: Date | undefined },
): ExpiryNotice {
  const fault = (why: string) => notifierErrors.malformed_event({ routingKey, why });
  if (!SNOWFLAKE.test(fields.eventId)) throw fault('event_id is missing');
  if (!SNOWFLAKE.test(fields.linkId)) throw fault('link_id is missing');
  if (!SNOWFLAKE.test(fields.ownerId)) throw fault('owner_id is missing');
  if (!CODE_PATTERN.test(fields.code)) throw fault('code is not a short code');
  const { expiresAt } = fields;
  if (!expiresAt || Number.isNaN(expiresAt.getTime())) throw fault('expires_at is missing');
  if (!isHttpUrl(fields.extendUrl)) throw fault('extend_url is not an http(s) URL');
  return { ...fields, expiresAt };
}

/** `2026-12-01 10:15 UTC`: unambiguous wherever the reader is. */
function utc(at: Date): string {
  return `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function shortUrlOf(notice: ExpiryNotice, publicBaseUrl: string): string {
  return `${publicBaseUrl}/${notice.code}`;
}

function lastUse(notice: ExpiryNotice): string {
  return notice.lastAccessedAt ? `last followed ${utc(notice.lastAccessedAt)}` : 'never followed';
}

export function composeExpiryMail(notice: ExpiryNotice, to: string, publicBaseUrl: string): Mail {
  const shortUrl = shortUrlOf(notice, publicBaseUrl);
  const subject = `Your short link ${shortUrl} expires soon`;
  const before = [
    `Your short link ${shortUrl} expires on ${utc(notice.expiresAt)} unless it is followed or extended.`,
    `It points to ${notice.targetUrl || 'its target'} and was ${lastUse(notice)}.`,
    'To keep it, open this link before it expires (no login needed):',
  ];
  const after = ['If you no longer need the link, do nothing: it will stop working.'];
  const text = [...before, notice.extendUrl, ...after].join('\n\n');
  const paragraphs = (lines: string[]) => lines.map((l) => `<p>${escapeHtml(l)}</p>`).join('\n');
  const html = [
    '<!doctype html>',
    `<html><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head><body>`,
    paragraphs(before),
    `<p><a href="${escapeHtml(notice.extendUrl)}">Keep my link</a></p>`,
    `<p>Or copy this address into your browser:<br>${escapeHtml(notice.extendUrl)}</p>`,
    paragraphs(after),
    '</body></html>',
  ].join('\n');
  return {
    messageId: `<${notice.eventId}.expiry-notice@${new URL(publicBaseUrl).hostname}>`,
    to,
    subject,
    text: `${text}\n`,
    html: `${html}\n`,
  };
}

/** Slack reads `&`, `<` and `>` as markup: its documentation asks for these three escaped. */
function escapeSlack(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** One line for a chat channel: the same facts and the extend link, never the owner's address. */
export function expiryWebhookText(notice: ExpiryNotice, publicBaseUrl: string): string {
  const shortUrl = shortUrlOf(notice, publicBaseUrl);
  return escapeSlack(
    `Short link ${shortUrl} (${lastUse(notice)}) expires ${utc(notice.expiresAt)}. Extend it: ${notice.extendUrl}`,
  );
}
