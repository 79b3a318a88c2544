// Redis pub/sub on a dedicated connection. A channel is live once Redis has
// confirmed the SUBSCRIBE; when the connection drops every channel goes
// not-live, and after a reconnect each is subscribed again and live once
// confirmed. Subscribing never waits for Redis, so a service starts without it.

import type { Logger } from '../log.ts';
import type { RedisClient } from '../redis/client.ts';
import type { Broadcast, BroadcastHandlers } from './broadcast.ts';

interface Channel {
  handlers: Set<BroadcastHandlers>;
  live: boolean;
}

export class RedisBroadcast implements Broadcast {
  readonly #publisher: RedisClient;
  readonly #subscriber: RedisClient;
  readonly #prefix: string;
  readonly #log: Logger;
  readonly #channels = new Map<string, Channel>();

  constructor(publisher: RedisClient, subscriber: RedisClient, keyPrefix: string, log: Logger) {
    this.#publisher = publisher;
    this.#subscriber = subscriber;
    this.#prefix = keyPrefix;
    this.#log = log;
    subscriber.on('message', (name: string, payload: string) => {
      const channel = this.#channels.get(name.slice(this.#prefix.length));
      if (channel?.live) for (const handlers of channel.handlers) handlers.message(payload);
    });
    subscriber.on('close', () => {
      for (const channel of this.#channels.values()) this.#setLive(channel, false);
    });
    subscriber.on('ready', () => {
      for (const name of this.#channels.keys()) this.#confirm(name);
    });
  }

  async publish(channel: string, payload: string): Promise<void> {
    await this.#publisher.publish(this.#prefix + channel, payload);
  }

  subscribe(name: string, handlers: BroadcastHandlers) {
    let channel = this.#channels.get(name);
    if (!channel) {
      channel = { handlers: new Set(), live: false };
      this.#channels.set(name, channel);
      this.#confirm(name);
    } else if (channel.live) {
      queueMicrotask(() => handlers.live(true));
    }
    channel.handlers.add(handlers);
    const joined = channel;
    return async () => {
      joined.handlers.delete(handlers);
      if (joined.handlers.size > 0 || this.#channels.get(name) !== joined) return;
      this.#channels.delete(name);
      await this.#subscriber.unsubscribe(this.#prefix + name).catch(() => {});
    };
  }

  async close(): Promise<void> {
    this.#channels.clear();
  }

  /** (Re)subscribes; the channel is live when Redis confirms. Queued while disconnected. */
  #confirm(name: string): void {
    this.#subscriber.subscribe(this.#prefix + name).then(
      () => {
        const channel = this.#channels.get(name);
        if (channel && this.#subscriber.status === 'ready') this.#setLive(channel, true);
      },
      (error: unknown) => this.#log.warn({ err: error, channel: name }, 'could not subscribe'),
    );
  }

  #setLive(channel: Channel, live: boolean): void {
    if (channel.live === live) return;
    channel.live = live;
    for (const handlers of channel.handlers) handlers.live(live);
  }
}
