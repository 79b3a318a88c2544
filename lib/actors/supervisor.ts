// The actor runtime every worker stands on. An actor owns its state and
// handles one message at a time from its mailbox; nothing else touches its
// state, so it needs no locks. Its supervisor restarts it with fresh state
// when it throws, after a backoff, while its other actors go on. Stopping
// stops the timers first, then drains each actor's mailbox, newest actor first.
//
// A bus consumer feeds an actor with `bus.consume(name, (batch) => ref.ask(batch))`:
// the delivery is acked once the actor has handled it, and a throw goes back
// to the bus, which retries or parks the message.

import { type Context, context } from '@opentelemetry/api';
import { type BackoffPolicy, backoffDelay } from '../backoff.ts';
import type { Logger } from '../log.ts';
import { telemetry } from '../telemetry/tracing.ts';
import { Mailbox } from './mailbox.ts';

export interface Actor<M> {
  /** Handles one message; never called again before the last call settled. */
  receive(message: M): Promise<void> | void;
  /** After the mailbox is drained, when the actor stops for good. */
  stopped?(): Promise<void> | void;
}

export interface ActorRef<M> {
  readonly name: string;
  /** Resolves once the message is in the mailbox, waiting while it is full. */
  tell(message: M): Promise<void>;
  /** Resolves once the actor has handled the message; rejects with its error. */
  ask(message: M): Promise<void>;
  /** Puts the message in if there is room now; false otherwise (a timer skips a tick). */
  offer(message: M): boolean;
  /** How often the actor has been restarted. */
  readonly restarts: number;
  /** Takes no more messages, handles those in the mailbox, then resolves. */
  stop(): Promise<void>;
}

interface Letter<M> {
  message: M;
  settle?: { resolve(): void; reject(error: unknown): void };
  /** The sender's trace context: handling a message is part of the work that sent it. */
  context?: Context;
}

function sent<M>(message: M, settle?: Letter<M>['settle']): Letter<M> {
  return telemetry.tracing ? { message, settle, context: context.active() } : { message, settle };
}

export interface SupervisorOptions {
  log: Logger;
  /** Delay before each restart in a row; 100 ms growing to 30 s with jitter unless given. */
  restart?: BackoffPolicy;
}

const DEFAULT_RESTART: BackoffPolicy = { initialMs: 100, maxMs: 30_000, jitter: 0.2 };

export class Supervisor {
  readonly #log: Logger;
  readonly #restart: BackoffPolicy;
  readonly #actors: ActorRef<never>[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(options: SupervisorOptions) {
    this.#log = options.log;
    this.#restart = options.restart ?? DEFAULT_RESTART;
  }

  /** Starts an actor; `create` makes it afresh at start and after every failure. */
  spawn<M>(name: string, create: () => Actor<M>, options: { mailbox?: number } = {}): ActorRef<M> {
    const ref = new ActorCell(name, create, new Mailbox<Letter<M>>(options.mailbox ?? 1_000), {
      log: this.#log,
      restart: this.#restart,
    });
    this.#actors.push(ref as ActorRef<never>);
    return ref;
  }

  /**
   * A timer as a mailbox: `message()` is offered every intervalMs, skipped
   * while the actor is behind; the first time after `firstMs` (one interval
   * unless given).
   */
  every<M>(ref: ActorRef<M>, intervalMs: number, message: () => M, firstMs = intervalMs): void {
    const tick = () => {
      if (!ref.offer(message())) this.#log.debug({ actor: ref.name }, 'actor behind; tick skipped');
    };
    const first = setTimeout(() => {
      this.#timers.delete(first);
      tick();
      const timer = setInterval(tick, intervalMs);
      this.#timers.add(timer);
    }, firstMs);
    this.#timers.add(first);
  }

  async stop(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers.clear();
    for (const actor of this.#actors.splice(0).reverse()) await actor.stop();
  }
}

class ActorCell<M> implements ActorRef<M> {
  readonly name: string;
  restarts = 0;
  readonly #create: () => Actor<M>;
  readonly #mailbox: Mailbox<Letter<M>>;
  readonly #options: Required<SupervisorOptions>;
  readonly #done: Promise<void>;
  #cancelBackoff: (() => void) | undefined;
  #stopping = false;

  constructor(
    name: string,
    create: () => Actor<M>,
    mailbox: Mailbox<Letter<M>>,
    options: Required<SupervisorOptions>,
  ) {
    this.name = name;
    this.#create = create;
    this.#mailbox = mailbox;
    this.#options = options;
    this.#done = this.#run();
  }

  tell(message: M): Promise<void> {
    return this.#mailbox.put(sent(message));
  }

  ask(message: M): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#mailbox.put(sent(message, { resolve, reject })).catch(reject);
    });
  }

  offer(message: M): boolean {
    return this.#mailbox.offer(sent(message));
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#mailbox.close();
    this.#cancelBackoff?.(); // draining should not wait out a long backoff
    await this.#done;
  }

  async #run(): Promise<void> {
    let actor: Actor<M> | undefined;
    let failuresInARow = 0;
    for (let letter = await this.#mailbox.take(); letter; letter = await this.#mailbox.take()) {
      try {
        actor ??= this.#create();
        await (letter.context
          ? context.with(letter.context, actor.receive, actor, letter.message)
          : actor.receive(letter.message));
        failuresInARow = 0;
        letter.settle?.resolve();
      } catch (error) {
        letter.settle?.reject(error);
        actor = undefined; // its state may be half-changed: the next message gets a fresh one
        failuresInARow++;
        this.restarts++;
        this.#options.log.warn(
          { actor: this.name, err: error, failuresInARow },
          'actor failed; restarting it',
        );
        await this.#backoff(backoffDelay(failuresInARow - 1, this.#options.restart));
      }
    }
    try {
      await actor?.stopped?.();
    } catch (error) {
      this.#options.log.warn({ actor: this.name, err: error }, 'actor failed while stopping');
    }
  }

  #backoff(ms: number): Promise<void> {
    if (this.#stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#cancelBackoff = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
