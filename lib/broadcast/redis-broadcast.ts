// Redis pub/sub on a dedicated connection. ioredis re-subscribes by itself after
// a reconnect; whatever was published in between is lost, so subscribers hear
// a gap both when the connection drops and when it is back.
import type { Redis } from 'ioredis';
import type { Broadcast, BroadcastHandlers } from './broadcast.ts';

export class RedisBroadcast implements Broadcast {
  readonly #publisher: Redis;
  readonly #subscriber: Redis;
  readonly #prefix: string;
  readonly #channels = new Map<string, Set<BroadcastHandlers>>();
  #connected: boolean;

  constructor(publisher: Redis, subscriber: Redis, keyPrefix: string) {
    this.#publisher = publisher;
    this.#subscriber = subscriber;
    this.#prefix = keyPrefix;
    this.#connected = subscriber.status === 'ready';
    subscriber.on('message', (channel: string, payload: string) => {
      const subscribers = this.#channels.get(channel.slice(this.#prefix.length));
      if (subscribers) for (const handlers of subscribers) handlers.message(payload);
    });
    const gap = () => {
      for (const subscribers of this.#channels.values()) {
        for (const handlers of subscribers) handlers.gap();
      }
    };
    subscriber.on('close', () => {
      if (!this.#connected) return;
      this.#connected = false;
      gap();
    });
    subscriber.on('ready', () => {
      const reconnected = !this.#connected;
      this.#connected = true;
      if (reconnected) gap();
    });
  }

  async publish(channel: string, payload: string): Promise<void> {
    await this.#publisher.publish(this.#prefix + channel, payload);
  }

  async subscribe(channel: string, handlers: BroadcastHandlers) {
    let subscribers = this.#channels.get(channel);
    if (!subscribers) {
      subscribers = new Set();
      this.#channels.set(channel, subscribers);
      await this.#subscriber.subscribe(this.#prefix + channel);
    }
    subscribers.add(handlers);
    return async () => {
      subscribers.delete(handlers);
      if (subscribers.size === 0) {
        this.#channels.delete(channel);
        await this.#subscriber.unsubscribe(this.#prefix + channel);
      }
    };
  }

  async close(): Promise<void> {
    this.#channels.clear();
  }
}
