// Which codes changed (deleted, expired, retargeted), for everyone who caches
// resolutions: the gateways' near caches, through WatchLinkChanges streams.
// A change made here reaches this instance's watchers directly and the other
// link instances through the broadcast. While the broadcast is not live this
// instance cannot hear the others, so its watchers are told to pause; when it
// is live again, to reset. Watchers also get a heartbeat every second, so a
// stream that silently stalled is noticed.
import { backoffDelay } from '../../../lib/backoff.ts';
import type { Broadcast } from '../../../lib/broadcast/broadcast.ts';
import type { Logger } from '../../../lib/log.ts';

const CHANNEL = 'link-changes';
export const HEARTBEAT_MS = 1_000;
const MAX_UNSENT = 10_000;

export interface ChangeWatcher {
  changed(codes: string[]): void;
  /** Drop everything cached; caching may go on. */
  reset(): void;
  /** Drop everything cached and cache nothing until the next reset. */
  pause(): void;
  heartbeat(): void;
  /** The service is stopping: the watcher's stream ends. */
  end(): void;
}

export class LinkChanges {
  readonly #broadcast: Broadcast;
  readonly #log: Logger;
  readonly #watchers = new Set<ChangeWatcher>();
  #queued = new Set<string>();
  #flushScheduled = false;
  #live = false;
  /** Changes that could not be broadcast yet, retried until they are. */
  readonly #unsent = new Set<string>();
  #retry: NodeJS.Timeout | undefined;
  /** Retries in a row that found the broadcast still failing. */
  #retryAttempt = 0;
  #heartbeat: NodeJS.Timeout | undefined;
  #unsubscribe: (() => Promise<void>) | undefined;

  constructor(broadcast: Broadcast, log: Logger) {
    this.#broadcast = broadcast;
    this.#log = log;
  }

  start(): void {
    this.#unsubscribe = this.#broadcast.subscribe(CHANNEL, {
      // One message may name several codes (announceAll); codes hold no newline.
      message: (payload) => {
        for (const code of payload.split('\n')) this.#queue(code);
      },
      live: (live) => {
        this.#live = live;
        if (!live) this.#log.warn('link change broadcast interrupted; watchers pause caching');
        for (const watcher of this.#watchers) {
          if (live) watcher.reset();
          else watcher.pause();
        }
      },
    });
    this.#heartbeat = setInterval(() => {
      for (const watcher of this.#watchers) watcher.heartbeat();
    }, HEARTBEAT_MS);
    this.#heartbeat.unref();
  }

  /**
   * Announces a change: this instance's watchers at once, the other instances
   * through the broadcast, retried until it goes out.
   */
  async announce(code: string): Promise<void> {
    await this.announceAll([code]);
  }

  /**
   * Announces many changes as one: a purged chunk of links is one broadcast
   * and one message to each watcher, not one per code.
   */
  async announceAll(codes: readonly string[]): Promise<void> {
    if (codes.length === 0) return;
    for (const code of codes) this.#queue(code);
    try {
      await this.#broadcast.publish(CHANNEL, codes.join('\n'));
    } catch (error) {
      this.#log.warn(
        { cause: (error as Error).message, codes: codes.length, code: codes[0] },
        'link change not broadcast yet; retrying',
      );
      for (const code of codes) if (this.#unsent.size < MAX_UNSENT) this.#unsent.add(code);
      this.#scheduleRetry();
    }
  }

  watch(watcher: ChangeWatcher): () => void {
    this.#watchers.add(watcher);
    if (this.#live) watcher.reset();
    else watcher.pause();
    return () => this.#watchers.delete(watcher);
  }

  /** Ends every watcher's stream (they reconnect elsewhere) and stops listening. */
  async stop(): Promise<void> {
    clearInterval(this.#heartbeat);
    clearTimeout(this.#retry);
    for (const watcher of this.#watchers) watcher.end();
    this.#watchers.clear();
    await this.#unsubscribe?.();
  }

  #scheduleRetry(): void {
    if (this.#retry) return;
    this.#retry = setTimeout(async () => {
      this.#retry = undefined;
      for (const code of [...this.#unsent]) {
        try {
          await this.#broadcast.publish(CHANNEL, code);
          this.#unsent.delete(code);
          this.#retryAttempt = 0;
        } catch {
          this.#retryAttempt++;
          break;
        }
      }
      if (this.#unsent.size > 0) this.#scheduleRetry();
    }, backoffDelay(this.#retryAttempt));
    this.#retry.unref();
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
