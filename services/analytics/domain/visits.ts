// From a click to the visit recorded of it: the user agent parsed (bowser,
// MIT), bots flagged (isbot, Unlicense), the address anonymised, every text
// bounded, and the facets the rollups count worked out once, here.
import { createHmac } from 'node:crypto';
import Bowser from 'bowser';
import { isbot } from 'isbot';
import { LRUCache } from 'lru-cache';
import type { Click, Device, RecordedVisit } from './click.ts';
import { type AddressPrefixes, anonymiseAddress } from './client-address.ts';
import { dayOf } from './days.ts';

export const MAX_USER_AGENT = 512;
export const MAX_REFERER = 2_048;
export const MAX_ACCEPT_LANGUAGE = 255;
/** Longest breakdown value: rollup keys stay short. */
export const MAX_FACET = 64;
const MAX_HOST = 255;

const DEVICES: ReadonlySet<string> = new Set(['desktop', 'mobile', 'tablet', 'tv', 'bot']);

/** Printable ASCII only, bounded: facets are rollup keys (an ASCII, binary-collated column). */
function facet(text: string | undefined, max = MAX_FACET): string {
  return (text ?? '').replace(/[^\x20-\x7e]/g, '').slice(0, max);
}

interface Agent {
  browser: string;
  os: string;
  device: Device;
  bot: boolean;
}

/**
 * Parsed agents by user agent text. Parsing costs far more than the rest of
 * a visit (bowser and isbot run dozens of patterns), and real traffic
 * repeats a few thousand user agents; the bound keeps made-up ones from
 * growing it.
 */
const agents = new LRUCache<string, Agent>({ max: 10_000 });

/** parseUserAgent, remembered for user agents seen recently. */
export function agentOf(userAgent: string): Agent {
  let agent = agents.get(userAgent);
  if (agent === undefined) {
    agent = parseUserAgent(userAgent);
    agents.set(userAgent, agent);
  }
  return agent;
}

/** Whether a click's user agent is a bot's, as its visit records it. */
export function isBotAgent(userAgent: string): boolean {
  return agentOf(userAgent.slice(0, MAX_USER_AGENT)).bot;
}

export function parseUserAgent(userAgent: string): Agent {
  const text = userAgent.trim();
  // No user agent at all is no browser: a script, counted with the bots.
  if (text === '') return { browser: '', os: '', device: '', bot: true };
  const parsed = Bowser.parse(text);
  const type = parsed.platform.type ?? '';
  const bot = isbot(text) || type === 'bot';
  return {
    browser: facet(parsed.browser.name),
    os: facet(parsed.os.name),
    device: bot ? 'bot' : DEVICES.has(type) ? (type as Device) : '',
    bot,
  };
}

/** Host of the Referer, lower case; empty for none or for text that is no URL. */
export function referrerHost(referer: string): string {
  if (referer.trim() === '') return '';
  try {
    return facet(new URL(referer.trim()).hostname.toLowerCase(), MAX_HOST);
  } catch {
    return '';
  }
}

/** Primary language of the most preferred Accept-Language range (`en-GB;q=0.8` → `en`). */
export function primaryLanguage(acceptLanguage: string): string {
  let best = { tag: '', q: 0 };
  for (const range of acceptLanguage.split(',')) {
    const [tag = '', ...params] = range.trim().split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    if (Number.isFinite(q) && q > best.q) best = { tag: tag.trim(), q };
  }
  const primary = best.tag.split('-')[0]?.toLowerCase() ?? '';
  return /^[a-z]{2,8}$/.test(primary) ? primary : '';
}

/**
 * The visitor: an HMAC of the full address and user agent under the salt,
 * cut to 16 hex characters (64 bits, all a visitor sketch uses).
 */
export function visitorOf(click: Click, salt: string): string {
  return createHmac('sha256', salt)
    .update(`${click.ip}\n${click.userAgent}`)
    .digest('hex')
    .slice(0, 16);
}

export interface VisitPolicy {
  prefixes: AddressPrefixes;
}

/** `salt` is the visitor salt (VisitStore.visitorSalt). */
export function toVisit(click: Click, policy: VisitPolicy, salt: string): RecordedVisit {
  const userAgent = click.userAgent.slice(0, MAX_USER_AGENT);
  const agent = agentOf(userAgent);
  return {
    id: click.eventId,
    linkId: click.linkId,
    code: click.code,
    visitedAt: click.at,
    ip: anonymiseAddress(click.ip, policy.prefixes),
    userAgent,
    referer: click.referer.slice(0, MAX_REFERER),
    acceptLanguage: click.acceptLanguage.slice(0, MAX_ACCEPT_LANGUAGE),
    ...agent,
    day: dayOf(click.at.getTime()),
    referrer: referrerHost(click.referer),
    language: primaryLanguage(click.acceptLanguage),
    visitor: visitorOf(click, salt),
  };
}
