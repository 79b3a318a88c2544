// An actor's mailbox: a bounded queue with one reader. A writer that finds it
// full waits for room (backpressure reaches whoever feeds the actor: a bus
// consumer stops taking deliveries, and the broker holds them), so the
// mailbox never grows without bound.

export class MailboxClosedError extends Error {
  override name = 'MailboxClosedError';
}

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

export class Mailbox<M> {
  readonly capacity: number;
  readonly #items: M[] = [];
  readonly #writers: Waiter[] = [];
  #reader: ((message: M | undefined) => void) | undefined;
  #closed = false;

  constructor(capacity: number) {
    if (!(capacity >= 1)) throw new RangeError('a mailbox holds at least one message');
    this.capacity = capacity;
  }

  get size(): number {
    return this.#items.length;
  }

  /** Resolves once the message is in the mailbox; waits while it is full. */
  async put(message: M): Promise<void> {
    while (this.#items.length >= this.capacity && !this.#closed) {
      await new Promise<void>((resolve, reject) => this.#writers.push({ resolve, reject }));
    }
    if (!this.offer(message)) throw new MailboxClosedError('mailbox closed');
  }

  /** Puts the message in now if there is room; false if full or closed. */
  offer(message: M): boolean {
    if (this.#closed || this.#items.length >= this.capacity) return false;
    const reader = this.#reader;
    if (reader) {
      this.#reader = undefined;
      reader(message);
    } else {
      this.#items.push(message);
    }
    return true;
  }

  /** The next message; undefined once the mailbox is closed and empty. */
  take(): Promise<M | undefined> {
    if (this.#items.length > 0) {
      const message = this.#items.shift() as M;
      this.#writers.shift()?.resolve();
      return Promise.resolve(message);
    }
    if (this.#closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.#reader = resolve;
    });
  }

  /** Takes no more messages; what is in it is still taken, then take() gives undefined. */
  close(): void {
    this.#closed = true;
    for (const writer of this.#writers.splice(0))
      writer.reject(new MailboxClosedError('mailbox closed'));
    const reader = this.#reader;
    this.#reader = undefined;
    reader?.(undefined);
  }
}
