// Fire-and-forget fan-out between instances of a service (e.g. link instances
// telling each other which codes changed). Delivery is at most once and only
// while the subscription is live, so subscribers are told when it is and when
// it is not: after any `live(false)`, or before the first `live(true)`,
// messages may be missed, and each `live(true)` means "from now on you hear
// everything, but anything could have changed meanwhile". Order is not
// promised: a Redis Cluster relays each publish from whichever node took it,
// so two publishes in a row may arrive the other way round.

export interface BroadcastHandlers {
  message(payload: string): void;
  live(isLive: boolean): void;
}

/** Port: Redis pub/sub, or in-process for the embedded mesh. */
export interface Broadcast {
  publish(channel: string, payload: string): Promise<void>;
  /**
   * Starts a subscription without waiting for the server (so a service can
   * start while Redis is down); `handlers.live(true)` reports when it delivers.
   */
  subscribe(channel: string, handlers: BroadcastHandlers): () => Promise<void>;
  close(): Promise<void>;
}
