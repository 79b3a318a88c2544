// Worker-id leases in Redis: one key per id, set NX with a TTL. Redis here keeps
// nothing on disk, so a restart forgets every lease; a claimant therefore waits
// out the remainder of one TTL after the server started (INFO uptime) before
// using an id, by which time any holder from before the restart has stopped.
// Keys share the {snowflake} hash tag so the scripts also work on a cluster;
// each script names one of them as its key, which sends it to that slot's
// node (a script without keys would go to any node).
import type { RedisClient } from '../redis/client.ts';
import { defineScript } from '../redis/client.ts';
import type { LeaseStore, RenewOutcome } from './worker-lease.ts';

const CLAIM = `
local prefix, owner, ttl, maxId, start = KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
for i = 0, maxId do
  local id = (start + i) % (maxId + 1)
  if redis.call('SET', prefix .. id, owner, 'NX', 'PX', ttl) then return id end
end
return -1`;

const RENEW = `
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not holder then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 2 end
return 0`;

/** The uptime of the node that holds the leases (on a cluster, the {snowflake} slot's). */
const UPTIME = `
local info = redis.call('INFO', 'server')
return tonumber(string.match(info, 'uptime_in_seconds:(%d+)')) or -1`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], 'released', 'PX', ARGV[2]) end
return 0`;

export class RedisLeaseStore implements LeaseStore {
  readonly #prefix: string;
  readonly #claim;
  readonly #renew;
  readonly #release;
  readonly #uptime;

  constructor(redis: RedisClient, keyPrefix: string) {
    this.#prefix = `${keyPrefix}{snowflake}:worker:`;
    this.#claim = defineScript(redis, 'snowflakeClaim', CLAIM, 1);
    this.#renew = defineScript(redis, 'snowflakeRenew', RENEW, 1);
    this.#release = defineScript(redis, 'snowflakeRelease', RELEASE, 1);
    this.#uptime = defineScript(redis, 'snowflakeUptime', UPTIME, 1);
  }

  async claim(owner: string, ttlMs: number, maxId: number) {
    const start = Math.floor(Math.random() * (maxId + 1));
    const workerId = Number(await this.#claim([this.#prefix], [owner, ttlMs, maxId, start]));
    if (workerId < 0) throw new Error(`all ${maxId + 1} worker ids are leased`);
    return { workerId, waitMs: await this.#waitAfterRestart(ttlMs) };
  }

  async renew(workerId: number, owner: string, ttlMs: number): Promise<RenewOutcome> {
    const result = Number(await this.#renew([this.#prefix + workerId], [owner, ttlMs]));
    if (result === 1) return { kind: 'renewed' };
    if (result === 2) return { kind: 'reclaimed', waitMs: await this.#waitAfterRestart(ttlMs) };
    return { kind: 'lost' };
  }

  async release(workerId: number, owner: string, lingerMs: number): Promise<void> {
    await this.#release([this.#prefix + workerId], [owner, Math.max(1, Math.ceil(lingerMs))]);
  }

  async #waitAfterRestart(ttlMs: number): Promise<number> {
    const uptime = Number(await this.#uptime([this.#prefix], []));
    // Seconds are truncated: count one more to stay on the safe side.
    const uptimeMs = uptime >= 0 ? (uptime - 1) * 1_000 : 0;
    return Math.max(0, ttlMs - uptimeMs);
  }
}
