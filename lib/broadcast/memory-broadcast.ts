import type { Broadcast, BroadcastHandlers } from './broadcast.ts';

/** In one process, delivery never fails: a subscription is live from its first turn. */
export class MemoryBroadcast implements Broadcast {
  readonly #channels = new Map<string, Set<BroadcastHandlers>>();

  async publish(channel: string, payload: string): Promise<void> {
    const subscribers = this.#channels.get(channel);
    if (!subscribers) return;
    // Delivered on a later turn, as over a network: a publisher never runs subscribers inline.
    for (const handlers of subscribers) queueMicrotask(() => handlers.message(payload));
  }

  subscribe(channel: string, handlers: BroadcastHandlers) {
    let subscribers = this.#channels.get(channel);
    if (!subscribers) {
      subscribers = new Set();
      this.#channels.set(channel, subscribers);
    }
    subscribers.add(handlers);
    queueMicrotask(() => handlers.live(true));
    return async () => {
      subscribers.delete(handlers);
    };
  }

  async close(): Promise<void> {
    this.#channels.clear();
  }
}
