// The ranking in Redis, shared by every replica: one sorted set per window
// and bucket (`<prefix>ranking:<window>:<bucket>`, members `<link id>:<code>`),
// and one set of seen event ids per minute of click time. A batch is counted
// by one Lua script, so checking an id and counting its click are one step; every
// key expires by itself once it has left its window or the dedup horizon.
import type { RedisClient } from '../../../lib/redis/client.ts';
import { analyticsErrors } from '../errors.ts';
import {
  bucketEndsAt,
  bucketsOf,
  countable,
  type LinkRef,
  linkOfMember,
  memberOf,
  RANKING_WINDOWS,
  type RankedClick,
  type RankedLink,
  type Ranking,
  type RankingWindow,
  SEEN_SLOT_MS,
  WINDOW_NAMES,
} from './ranking.ts';

const ttl = (until: number, now: number) => Math.max(1, Math.ceil(until - now));

/** Clicks per script call: bounded work per call, so Redis stays responsive. */
const CHUNK = 500;

// Per click: KEYS seen, bucket per window; ARGV event id, member, then the
// milliseconds each key has left (relative, so our clock, not Redis's, decides).
// Only a click not seen before counts; the counts of a chunk are summed per
// bucket and member first, and each key's expiry is set once, so a chunk of
// a hot link costs a few commands, not eight per click.
const RECORD = `
local windows = tonumber(ARGV[1])
local keysPer, argsPer = 1 + windows, 3 + windows
local counted = 0
local increments, order, expiries = {}, {}, {}
for i = 0, (#KEYS / keysPer) - 1 do
  local k, a = i * keysPer, 1 + i * argsPer
  expiries[KEYS[k + 1]] = ARGV[a + 3]
  if redis.call('SADD', KEYS[k + 1], ARGV[a + 1]) == 1 then
    for w = 1, windows do
      local key = KEYS[k + 1 + w]
      local members = increments[key]
      if members == nil then
        members = {}
        increments[key] = members
        order[#order + 1] = key
      end
      members[ARGV[a + 2]] = (members[ARGV[a + 2]] or 0) + 1
      expiries[key] = ARGV[a + 3 + w]
    end
    counted = counted + 1
  end
end
for _, key in ipairs(order) do
  for member, n in pairs(increments[key]) do
    redis.call('ZINCRBY', key, n, member)
  end
end
for key, ms in pairs(expiries) do
  redis.call('PEXPIRE', key, ms)
end
return counted
`;

const TOP = `
redis.call('ZUNIONSTORE', KEYS[1], #KEYS - 1, unpack(KEYS, 2))
local top = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
redis.call('DEL', KEYS[1])
return top
`;

export class RedisRanking implements Ranking {
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #horizonMs: number;
  readonly #now: () => number;

  constructor(
    redis: RedisClient,
    keyPrefix: string,
    options: { dedupHorizonMs: number; now?: () => number },
  ) {
    this.#redis = redis;
    // One hash tag for every ranking key: the scripts touch many of them at once,
    // which a Redis Cluster allows only within one slot.
    this.#prefix = `${keyPrefix}{ranking}:`;
    this.#horizonMs = options.dedupHorizonMs;
    this.#now = options.now ?? Date.now;
  }

  #bucketKey(window: RankingWindow, bucket: number): string {
    return `${this.#prefix}${window}:${bucket}`;
  }

  async record(clicks: readonly RankedClick[]): Promise<number> {
    const now = this.#now();
    const fresh = clicks.filter((click) => countable(click, now, this.#horizonMs));
    let counted = 0;
    for (let i = 0; i < fresh.length; i += CHUNK) {
      const keys: string[] = [];
      const args: (string | number)[] = [WINDOW_NAMES.length];
      for (const click of fresh.slice(i, i + CHUNK)) {
        const slot = Math.floor(click.at / SEEN_SLOT_MS);
        keys.push(`${this.#prefix}seen:${slot}`);
        const seenUntil = (slot + 1) * SEEN_SLOT_MS + this.#horizonMs;
        args.push(click.eventId, memberOf(click), ttl(seenUntil, now));
        for (const window of WINDOW_NAMES) {
          const bucket = Math.floor(click.at / RANKING_WINDOWS[window].bucketMs);
          keys.push(this.#bucketKey(window, bucket));
          args.push(ttl(bucketEndsAt(window, bucket), now));
        }
      }
      counted += Number(await this.#call(() => this.#eval(RECORD, keys, args)));
    }
    return counted;
  }

  async top(window: RankingWindow, limit: number): Promise<RankedLink[]> {
    const keys = [
      `${this.#prefix}union:${window}`,
      ...bucketsOf(window, this.#now()).map((bucket) => this.#bucketKey(window, bucket)),
    ];
    const flat = (await this.#call(() => this.#eval(TOP, keys, [limit]))) as string[];
    const links: RankedLink[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      links.push({ ...linkOfMember(String(flat[i])), visits: Number(flat[i + 1]) });
    }
    return links;
  }

  async visitsOf(window: RankingWindow, links: readonly LinkRef[]): Promise<number[]> {
    if (links.length === 0) return [];
    const members = links.map(memberOf);
    const perBucket = await this.#call(() =>
      Promise.all(
        bucketsOf(window, this.#now()).map((bucket) =>
          this.#redis.zmscore(this.#bucketKey(window, bucket), ...members),
        ),
      ),
    );
    return members.map((_, i) =>
      perBucket.reduce((sum, scores) => sum + Number(scores[i] ?? 0), 0),
    );
  }

  /** EVAL, not a defined command: the number of keys differs from call to call (Redis caches the script). */
  #eval(script: string, keys: string[], args: (string | number)[]): Promise<unknown> {
    return this.#redis.eval(script, keys.length, ...keys, ...args);
  }

  async #call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (cause) {
      throw analyticsErrors.ranking_unavailable({ cause });
    }
  }
}
