// The budget of the gRPC call being served, visible to every store and Redis
// call made on its behalf without threading it through the domain: the server
// stack runs each handler inside the call's scope (lib/grpc/server-stack.ts),
// and adapters ask callSignal() for the signal to honour. Work outside any
// call (workers, lease renewals) gets a signal bounded by UNBOUNDED_CALL_MS.
import { AsyncLocalStorage } from 'node:async_hooks';
import { DomainError } from './errors.ts';
import { runtimeErrors } from './runtime-errors.ts';

/** The longest a call without a deadline (or work outside any call) may keep a store busy. */
export const UNBOUNDED_CALL_MS = 10_000;

interface CallBudget {
  signal: AbortSignal;
  /** ms since epoch; Infinity if the caller set none. */
  deadline: number;
}

const scope = new AsyncLocalStorage<CallBudget>();

/** Runs `work` with `signal` (and `deadline`, if known) as the budget of everything it calls. */
export function withCallSignal<T>(
  signal: AbortSignal,
  work: () => T,
  deadline = Number.POSITIVE_INFINITY,
): T {
  return scope.run({ signal, deadline }, work);
}

/**
 * Runs `work` outside any call: for what a call starts but does not wait for
 * (filling a cache after a read), which must not be given up when the call ends.
 */
export function outsideCall<T>(work: () => T): T {
  return scope.exit(work);
}

/** The running call's signal, or one that aborts after UNBOUNDED_CALL_MS. */
export function callSignal(): AbortSignal {
  return scope.getStore()?.signal ?? AbortSignal.timeout(UNBOUNDED_CALL_MS);
}

/** The running call's signal; undefined outside any call (the caller's own bound applies). */
export function runningCallSignal(): AbortSignal | undefined {
  return scope.getStore()?.signal;
}

/**
 * For a fast path with a fallback (a cache in front of a database): a signal
 * that gives up after `share` of what is left of the running call, so the
 * fallback still has the rest. Undefined outside any call.
 */
export function shareOfCall(share: number): AbortSignal | undefined {
  const budget = scope.getStore();
  if (!budget) return undefined;
  const left = budget.deadline - Date.now();
  if (!(left < MAX_TIMER_MS)) return budget.signal;
  return AbortSignal.any([
    budget.signal,
    AbortSignal.timeout(Math.max(0, Math.floor(left * share))),
  ]);
}

/** True for what an aborted call signal rejects with: our reasons and the platform's timeouts. */
export function isAbortReason(error: unknown): boolean {
  if (error instanceof DomainError) {
    return (
      error.code === runtimeErrors.deadline_exceeded.code ||
      error.code === runtimeErrors.cancelled.code
    );
  }
  return (
    error instanceof DOMException && (error.name === 'TimeoutError' || error.name === 'AbortError')
  );
}

const MAX_TIMER_MS = 2 ** 31 - 1;
/** Timers fire a little early or late: a cancel this close to the deadline is the deadline. */
const DEADLINE_SLACK_MS = 10;

/**
 * A call's signal: aborts at `deadline` (ms since epoch; at most `boundMs`
 * from now), or when cancel() is called. dispose() once the call is over.
 */
export class CallDeadline {
  readonly #controller = new AbortController();
  readonly #timer: NodeJS.Timeout | undefined;
  readonly #deadline: number;
  #over = false;

  constructor(deadline: number, boundMs: number) {
    this.#deadline = deadline;
    const ms = Math.min(deadline - Date.now(), boundMs);
    if (ms <= 0) this.#expire();
    // Beyond what a timer can hold (Infinity included) means no deadline at all.
    else if (ms < MAX_TIMER_MS) {
      this.#timer = setTimeout(() => this.#expire(), ms);
      this.#timer.unref();
    }
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /**
   * The caller went away; at the deadline itself (grpc-js cancels then too)
   * that is the deadline. After dispose() it is nothing: grpc-js reports every
   * call as cancelled once its status is sent, and a call that has answered
   * has no work left to stop.
   */
  cancel(): void {
    if (this.#over || this.#controller.signal.aborted) return;
    if (Date.now() >= this.#deadline - DEADLINE_SLACK_MS) {
      this.#expire();
      return;
    }
    this.#controller.abort(runtimeErrors.cancelled());
  }

  dispose(): void {
    this.#over = true;
    clearTimeout(this.#timer);
  }

  #expire(): void {
    this.#controller.abort(runtimeErrors.deadline_exceeded());
  }
}

/**
 * `work`, or the signal's reason as soon as it aborts. For calls that cannot
 * be cancelled and hold nothing while they run (a Redis command on a shared,
 * pipelined connection): the late answer is dropped, nothing leaks.
 */
export function unlessAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
