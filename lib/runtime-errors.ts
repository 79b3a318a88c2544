// The errors of the shared runtime: what any service (or the gateway) may
// answer because a dependency it shares failed, whatever the request was.
import { defineErrors } from './errors.ts';

export const runtimeErrors = defineErrors({
  /** A service was called without the principal the gateway passes on. */
  caller_required: { kind: 'unauthenticated', message: 'a caller principal is required' },
  caller_without_kind: {
    kind: 'unauthenticated',
    message: 'the caller principal has no kind',
  },
  database_unavailable: { kind: 'unavailable', message: 'database is unreachable' },
  /** The database answers but cannot write: its disk is full or it is read-only. */
  database_unwritable: { kind: 'unavailable', message: 'the database cannot take writes now' },
  /** The database gave up a write that conflicted with another (a deadlock); it was rolled back. */
  database_contention: {
    kind: 'unavailable',
    message: 'the database gave up a conflicting write; nothing was changed, retry',
  },
  /** The call's deadline ran out while the database worked (the work is called off). */
  database_timeout: { kind: 'unavailable', message: 'the database did not answer in time' },
  /** A write that must reach the shared cache first (a delete) is refused. */
  cache_unavailable: {
    kind: 'unavailable',
    message: 'the cache is unreachable; nothing was changed',
  },
  limiter_unavailable: { kind: 'unavailable', message: 'rate limiter is unreachable' },
  rate_limited: {
    kind: 'exhausted',
    message: (spent: { what: string }) => `too many ${spent.what}`,
  },
  no_worker_lease: {
    kind: 'unavailable',
    message: 'id generator has no confirmed worker lease',
  },
  clock_behind: {
    kind: 'unavailable',
    message: (clock: { driftMs: number }) =>
      `clock is ${clock.driftMs} ms behind the last issued id; refusing to issue until it catches up`,
  },
  clock_out_of_range: { kind: 'unavailable', message: 'clock is outside the id epoch' },
  /** A gRPC request whose bytes did not decode. */
  malformed_message: { kind: 'invalid', message: 'request is not a valid protobuf message' },
  /** What a call's signal aborts with at its deadline (lib/call-scope.ts). */
  deadline_exceeded: { kind: 'deadline', message: 'the call ran out of time' },
  /** What a call's signal aborts with when the caller went away. */
  cancelled: { kind: 'unavailable', message: 'the caller cancelled the call' },
  deadline_passed: {
    kind: 'deadline',
    message: 'the deadline passed before the call started',
  },
  // What a caller is told for a failed call that carried no code of ours
  // (transport failures): the kind is all that is known.
  unavailable: { kind: 'unavailable', message: 'a service this request needs is unreachable' },
  deadline: {
    kind: 'deadline',
    message: 'a service this request needs did not answer in time',
  },
  internal: { kind: 'internal', message: 'internal error' },
});
