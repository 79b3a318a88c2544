// What both adapters share once a message has arrived: gather deliveries into
// batches, call the handler one batch at a time, then settle each delivery by
// its outcome (a batch that failed is tried again one delivery at a time, so
// only the deliveries that fail alone are retried or parked). The adapter
// says what settling means (an ack, a republish to a retry queue, a handback
// on stop).
import type { Logger } from '../log.ts';
import { telemetry } from '../telemetry/tracing.ts';
import type { ConsumeOptions, Delivery, Handler } from './bus.ts';
import { type MessagingSystem, processing } from './tracing.ts';

/** Who consumes, for the consumer spans (tracing.ts). */
export interface Consumer {
  system: MessagingSystem;
  name: string;
}

/** What became of a delivery once settled. */
export type Settled = 'handled' | 'retried' | 'dead_lettered';

/** Told of every settled delivery of one consumer (metrics, dead-letter alerts). */
export type SettleWatch = (outcome: Settled, delivery: Delivery, error: unknown) => void;

export interface Settle<R> {
  /** The handler resolved: the message is done. */
  done(raw: R): Promise<void> | void;
  /** The handler threw: retry later or park, then drop the original; says which. */
  failed(raw: R, delivery: Delivery, error: unknown): Promise<'retried' | 'dead_lettered'>;
  /** Stopping with the message unhandled: give it back to its queue. */
  release(raw: R): void;
  /** The runner can take more (a batch settled); for adapters that push within a prefetch. */
  room?(): void;
}

interface Arrived<R> {
  raw: R;
  delivery: Delivery;
}

export class BatchRunner<R> {
  readonly #handler: Handler;
  readonly #size: number;
  readonly #waitMs: number;
  readonly #settle: Settle<R>;
  readonly #log: Logger;
  readonly #watch: SettleWatch | undefined;
  readonly #consumer: Consumer;
  #buffer: Arrived<R>[] = [];
  #running: Promise<void> | undefined;
  #inFlight = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(
    consumer: Consumer,
    handler: Handler,
    options: ConsumeOptions,
    settle: Settle<R>,
    log: Logger,
    watch?: SettleWatch,
  ) {
    this.#consumer = consumer;
    this.#watch = watch;
    this.#handler = handler;
    this.#size = Math.max(1, options.batchSize ?? 1);
    this.#waitMs = options.batchWaitMs ?? 0;
    this.#settle = settle;
    this.#log = log;
  }

  /** How many deliveries may be outstanding: one batch running, one gathering. */
  get prefetch(): number {
    return this.#size * 2;
  }

  get outstanding(): number {
    return this.#buffer.length + this.#inFlight;
  }

  push(raw: R, delivery: Delivery): void {
    if (this.#stopped) {
      this.#settle.release(raw);
      return;
    }
    this.#buffer.push({ raw, delivery });
    this.#schedule();
  }

  /** Forgets buffered deliveries the adapter can no longer settle (their channel closed: the broker redelivers them). */
  discard(gone: (raw: R) => boolean): void {
    this.#buffer = this.#buffer.filter(({ raw }) => !gone(raw));
  }

  /** Lets the running batch finish and releases everything not yet handled. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
    // Last first: an adapter that puts each back at the head of its queue keeps their order.
    for (const { raw } of this.#buffer.splice(0).reverse()) this.#settle.release(raw);
  }

  #schedule(): void {
    if (this.#running || this.#stopped || this.#buffer.length === 0) return;
    if (this.#buffer.length >= this.#size) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#start();
      return;
    }
    // A partial batch waits for more: batchWaitMs, or at least to the end of
    // this burst of arrivals.
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#start();
    }, this.#waitMs);
  }

  #start(): void {
    if (this.#running || this.#stopped) return;
    const batch = this.#buffer.splice(0, this.#size);
    this.#inFlight = batch.length;
    this.#running = this.#run(batch).finally(() => {
      this.#running = undefined;
      this.#inFlight = 0;
      this.#schedule();
      this.#settle.room?.();
    });
  }

  async #run(batch: Arrived<R>[]): Promise<void> {
    const failure = await this.#call(batch);
    // While stopping, a failed batch is handed back whole: its messages would
    // each fail alone too (the handler is being stopped), only slower.
    if (failure && batch.length > 1 && !this.#stopped) {
      // One bad message must not take its neighbours down with it (they would
      // come back together, fail together and be parked together): each is
      // tried alone, so the failure settles on the messages that cause it.
      for (const arrived of batch) await this.#settleOne(arrived, await this.#call([arrived]));
      return;
    }
    for (const arrived of batch) await this.#settleOne(arrived, failure);
  }

  async #call(batch: Arrived<R>[]): Promise<{ error: unknown } | undefined> {
    const deliveries = batch.map((arrived) => arrived.delivery);
    try {
      if (!telemetry.tracing) await this.#handler(deliveries);
      else {
        const { system, name } = this.#consumer;
        await processing(system, name, deliveries, () => this.#handler(deliveries));
      }
      return undefined;
    } catch (error) {
      return { error };
    }
  }

  async #settleOne({ raw, delivery }: Arrived<R>, failure: { error: unknown } | undefined) {
    try {
      if (failure) {
        const outcome = await this.#settle.failed(raw, delivery, failure.error);
        this.#watch?.(outcome, delivery, failure.error);
      } else {
        await this.#settle.done(raw);
        this.#watch?.('handled', delivery, undefined);
      }
    } catch (error) {
      // Unsettled, the message stays unacknowledged and comes back later.
      this.#log.warn(
        { err: error, routingKey: delivery.routingKey },
        'could not settle a delivery',
      );
    }
  }
}

/** A handler's error as a dead letter keeps it: its message, bounded. */
export function messageOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 500);
}
