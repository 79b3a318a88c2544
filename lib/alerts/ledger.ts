// Port: which alerts the notifier has posted, shared by all its instances, so
// an outage seen by many services and handled by many notifiers is one post
// and one "resolved". A fingerprint is open from its first post until it is
// closed; open() admits a post again only once the window it was opened for
// has passed (a reminder that it still holds). Both adapters read the caller's
// clock, so the contract (and a test's simulated minute) is the same on each.
import type { RedisClient } from '../redis/client.ts';

export interface AlertLedger {
  /** Opens `fingerprint` until `until` (ms); false if it is open at `now` already (someone posted it). */
  open(fingerprint: string, now: number, until: number): Promise<boolean>;
  /** Closes it; true for exactly one caller if it was open (that one posts "resolved"). */
  close(fingerprint: string): Promise<boolean>;
}

/** How long an open fingerprint is kept at most, whatever its window: a lost "resolved" does not last forever. */
export const LEDGER_RETENTION_MS = 7 * 86_400_000;

export class MemoryAlertLedger implements AlertLedger {
  readonly #open = new Map<string, number>();

  async open(fingerprint: string, now: number, until: number): Promise<boolean> {
    const current = this.#open.get(fingerprint);
    if (current !== undefined && current > now) return false;
    this.#open.set(fingerprint, until);
    return true;
  }

  async close(fingerprint: string): Promise<boolean> {
    return this.#open.delete(fingerprint);
  }
}

/** One round trip, atomic: read the window, and open it only if it has passed. */
const OPEN_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if current and tonumber(current) > tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`;

export class RedisAlertLedger implements AlertLedger {
  readonly #redis: RedisClient;
  readonly #prefix: string;

  constructor(redis: RedisClient, keyPrefix: string) {
    this.#redis = redis;
    this.#prefix = `${keyPrefix}alert:`;
  }

  async open(fingerprint: string, now: number, until: number): Promise<boolean> {
    const opened = await this.#redis.eval(
      OPEN_SCRIPT,
      1,
      this.#prefix + fingerprint,
      String(now),
      String(until),
      String(LEDGER_RETENTION_MS),
    );
    return opened === 1;
  }

  async close(fingerprint: string): Promise<boolean> {
    return (await this.#redis.del(this.#prefix + fingerprint)) === 1;
  }
}
