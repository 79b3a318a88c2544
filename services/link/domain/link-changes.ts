// Which codes changed (deleted, expired, retargeted), for everyone who caches
// resolutions: the gateways' near caches, through WatchLinkChanges streams.
// A change made here reaches this instance's watchers directly and the other
// link instances through the broadcast; when the broadcast may have dropped
// messages, every watcher is told to reset.
import type { Broadcast } from '../../../lib/broadcast/broadcast.ts';
import type { Logger } from '../../../lib/log.ts';

const CHANNEL = 'link-changes';

export interface ChangeWatcher {
  changed(codes: string[]): void;
  reset(): void;
  /** The service is stopping: the watcher's stream ends. */
  end(): void;
}

export class LinkChanges {
  readonly #broadcast: Broadcast;
  readonly #log: Logger;
  readonly #watchers = new Set<ChangeWatcher>();
  #queued = new Set<string>();
  #flushScheduled = false;
  #unsubscribe: (() => Promise<void>) | undefined;

  constructor(broadcast: Broadcast, log: Logger) {
    this.#broadcast = broadcast;
    this.#log = log;
  }

  async start(): Promise<void> {
    this.#unsubscribe = await this.#broadcast.subscribe(CHANNEL, {
      message: (code) => this.#queue(code),
      gap: () => {
        this.#log.warn('link change broadcast interrupted; telling watchers to reset');
        for (const watcher of this.#watchers) watcher.reset();
      },
    });
  }

  /** Announces a change: local watchers first (no network between them and us), then the rest. */
  async announce(code: string): Promise<void> {
    this.#queue(code);
    try {
      await this.#broadcast.publish(CHANNEL, code);
    } catch (error) {
      // Other instances hear a gap from their own broadcast connection and reset.
      this.#log.warn({ err: error, code }, 'could not broadcast a link change');
    }
  }

  watch(watcher: ChangeWatcher): () => void {
    this.#watchers.add(watcher);
    watcher.reset();
    return () => this.#watchers.delete(watcher);
  }

  get watcherCount(): number {
    return this.#watchers.size;
  }

  /** Ends every watcher's stream (they reconnect elsewhere) and stops listening. */
  async stop(): Promise<void> {
    for (const watcher of this.#watchers) watcher.end();
    this.#watchers.clear();
    await this.#unsubscribe?.();
  }

  /** Changes arriving in one turn of the event loop go out as one message. */
  #queue(code: string): void {
    this.#queued.add(code);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      const codes = [...this.#queued];
      this.#queued = new Set();
      for (const watcher of this.#watchers) watcher.changed(codes);
    });
  }
}
