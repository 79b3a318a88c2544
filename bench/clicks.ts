// Clicks as browsers make them, for the pipeline section: the gateway's own
// click shape (gateway/clicks/click-buffer.ts) with a handful of real user
// agents (a crawler among them), referers and Accept-Language headers, client
// addresses from a bounded pool (so a day has repeat visitors), and event ids
// from the Snowflake generator. Drawn from a seeded generator, so every run
// sends the same mix.
import type { Click } from '../gateway/clicks/click-buffer.ts';
import { SnowflakeGenerator } from '../lib/ids/snowflake.ts';

const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36',
  'Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
];
const REFERERS = [
  '',
  '',
  'https://www.google.com/',
  'https://t.co/',
  'https://news.ycombinator.com/item?id=42000000',
  'https://www.reddit.com/r/programming/comments/abc123/',
  'https://www.linkedin.com/feed/',
  'https://duckduckgo.com/',
];
const LANGUAGES = [
  'en-US,en;q=0.9',
  'en-GB,en;q=0.8',
  'de-DE,de;q=0.9,en;q=0.7',
  'fr-FR,fr;q=0.9,en-US;q=0.6',
  'es-ES,es;q=0.9',
  'ja,en-US;q=0.8',
  'pt-BR,pt;q=0.9,en;q=0.5',
  '',
];

/** A small deterministic generator (mulberry32): the same clicks on every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The bench is no service and leases no worker id: a fixed one, used by nothing else it talks to. */
export function benchEventIds(): SnowflakeGenerator {
  return new SnowflakeGenerator({ workerId: 1_000, isValid: () => true });
}

export interface ClickedLink {
  id: string;
  code: string;
  ownerId: string;
}

export interface ClickMaker {
  /** A click on `link` at `at` (ms since the epoch), from one of `visitors` client addresses. */
  click(link: ClickedLink, at: number): Click;
}

export function clickMaker(options: { seed: number; visitors: number }): ClickMaker {
  const random = seededRandom(options.seed);
  const ids = benchEventIds();
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  return {
    click(link, at) {
      const visitor = Math.floor(random() * options.visitors);
      return {
        eventId: ids.next(),
        linkId: link.id,
        ownerId: link.ownerId,
        code: link.code,
        at,
        client: {
          ip: `10.${(visitor >> 16) & 255}.${(visitor >> 8) & 255}.${visitor & 255}`,
          userAgent: pick(USER_AGENTS),
          referer: pick(REFERERS),
          acceptLanguage: pick(LANGUAGES),
          traceparent: '',
          tracestate: '',
        },
      };
    },
  };
}
