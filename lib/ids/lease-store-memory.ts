// Worker-id leases for the embedded mesh, where every service shares one
// process: the same rules as in Redis, minus restarts (the store lives exactly
// as long as every generator using it).
import type { LeaseStore, RenewOutcome } from './worker-lease.ts';

interface Entry {
  owner: string;
  expiresAt: number;
}

export class MemoryLeaseStore implements LeaseStore {
  readonly #leases = new Map<number, Entry>();
  readonly #now: () => number;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  async claim(owner: string, ttlMs: number, maxId: number) {
    const now = this.#now();
    const start = Math.floor(Math.random() * (maxId + 1));
    for (let i = 0; i <= maxId; i++) {
      const workerId = (start + i) % (maxId + 1);
      const entry = this.#leases.get(workerId);
      if (!entry || entry.expiresAt <= now) {
        this.#leases.set(workerId, { owner, expiresAt: now + ttlMs });
        return { workerId, waitMs: 0 };
      }
    }
    throw new Error(`all ${maxId + 1} worker ids are leased`);
  }

  async renew(workerId: number, owner: string, ttlMs: number): Promise<RenewOutcome> {
    const now = this.#now();
    const entry = this.#leases.get(workerId);
    if (entry && entry.expiresAt > now && entry.owner !== owner) return { kind: 'lost' };
    const kind = entry && entry.expiresAt > now ? 'renewed' : 'reclaimed';
    this.#leases.set(workerId, { owner, expiresAt: now + ttlMs });
    return kind === 'renewed' ? { kind } : { kind, waitMs: 0 };
  }

  async release(workerId: number, owner: string, lingerMs: number): Promise<void> {
    const entry = this.#leases.get(workerId);
    if (entry?.owner === owner) {
      this.#leases.set(workerId, { owner: 'released', expiresAt: this.#now() + lingerMs });
    }
  }
}
