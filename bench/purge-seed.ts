// The purge section's links, written straight into link's table by multi-row
// INSERTs over a few connections at once: live links, and links already
// expired at the service's clock, spread evenly among them in id order (the
// sweeper walks the table by id). Half of the expired ones are past an
// explicit expiry, half idle: created longer ago than the idle period and
// never used. The hot ones are written live; the section makes them expire
// once the caches hold them (expireBehindTheCaches).
import { createConnection } from 'mysql2/promise';
import { openDatabase } from '../lib/db/open.ts';
import type { Logger } from '../lib/log.ts';
import { randomCode } from '../services/link/domain/short-code.ts';
import { linkSchema } from '../services/link/store/schema.ts';

const DAY = 86_400_000;
const OWNER = '119000000000000000';
const ROWS_PER_INSERT = 5_000;
const CONNECTIONS = 3;

export interface PurgeSeed {
  live: string[];
  /** Every link the purge should take, the hot ones included, in id order. */
  expired: { id: string; code: string }[];
  /** Among the expired: live in every cache until expireBehindTheCaches. */
  hot: { id: string; code: string }[];
  seconds: number;
}

export const seedLinkId = (i: number) => (119000000000000000n + BigInt(i + 1)).toString();

/** Which of `total` links, spread evenly, are the `expired` ones: every (total / expired)th. */
export function isExpiredSlot(i: number, total: number, expired: number): boolean {
  if (expired <= 0) return false;
  return Math.floor(((i + 1) * expired) / total) > Math.floor((i * expired) / total);
}

function uniqueCodes(count: number): string[] {
  const seen = new Set<string>();
  while (seen.size < count) seen.add(randomCode(7));
  return [...seen];
}

export async function seedPurge(
  databaseUrl: string,
  counts: { live: number; expired: number; hot: number; idleMs: number },
  log: Logger,
): Promise<PurgeSeed> {
  const started = performance.now();
  const orm = await openDatabase({ url: databaseUrl, schema: linkSchema, log });
  await orm.close();
  const total = counts.live + counts.expired;
  const codes = uniqueCodes(total);
  const now = Date.now();
  const live: string[] = [];
  const expired: { id: string; code: string }[] = [];
  const rows = codes.map((code, i) => {
    const id = seedLinkId(i);
    const target = `https://example.com/purge/${i}?ref=${code}`;
    if (!isExpiredSlot(i, total, counts.expired)) {
      live.push(code);
      return [id, code, target, OWNER, new Date(now), null];
    }
    expired.push({ id, code });
    // Hot links are written live (below); of the rest, one in two is dated, one idle.
    if (expired.length <= counts.hot) return [id, code, target, OWNER, new Date(now), null];
    return expired.length % 2 === 0
      ? [id, code, target, OWNER, new Date(now - 2 * DAY), new Date(now - DAY)]
      : [id, code, target, OWNER, new Date(now - counts.idleMs - DAY), null];
  });
  let next = 0;
  const writer = async () => {
    const db = await createConnection({ uri: databaseUrl });
    try {
      while (next < rows.length) {
        const batch = rows.slice(next, next + ROWS_PER_INSERT);
        next += ROWS_PER_INSERT;
        await db.query(
          'INSERT INTO links (id, code, target_url, owner_id, created_at, expires_at) VALUES ?',
          [batch],
        );
      }
    } finally {
      await db.end();
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, writer));
  return {
    live,
    expired,
    hot: expired.slice(0, counts.hot),
    seconds: (performance.now() - started) / 1_000,
  };
}

/**
 * Time passes for the hot links without anyone telling a cache: their rows
 * get an explicit expiry in the past, while the shared cache and the near
 * caches still hold them live. Only the purge can take them out of there.
 */
export async function expireBehindTheCaches(
  databaseUrl: string,
  links: { id: string }[],
): Promise<void> {
  const db = await createConnection({ uri: databaseUrl });
  try {
    await db.query('UPDATE links SET expires_at = ? WHERE id IN (?)', [
      new Date(Date.now() - 60_000),
      links.map((link) => link.id),
    ]);
  } finally {
    await db.end();
  }
}
