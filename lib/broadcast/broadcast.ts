// Fire-and-forget fan-out between instances of a service (e.g. link instances
// telling each other which codes changed). Delivery is at most once, so a
// subscriber is told when it may have missed messages (`gap`) and must then
// assume anything could have changed.

export interface BroadcastHandlers {
  message(payload: string): void;
  /** Messages may have been lost: the connection dropped or was re-established. */
  gap(): void;
}

/** Port: Redis pub/sub, or in-process for the embedded mesh. */
export interface Broadcast {
  publish(channel: string, payload: string): Promise<void>;
  /** Every message published after this resolves reaches `handlers`, unless a gap is reported. */
  subscribe(channel: string, handlers: BroadcastHandlers): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
