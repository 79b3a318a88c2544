// gRPC concerns as middleware, in the shape nice-grpc gives them: a function
// of the call, its context and the next step, returning what the call
// returns. One shape for unary and server-streaming calls alike: a streaming
// call's promise settles when its stream ends. Each side's default stack is
// composed once (lib/grpc/server-stack.ts, lib/grpc/client.ts), per method or
// per client, never per call.
import type { Metadata, ServerUnaryCall, ServerWritableStream } from '@grpc/grpc-js';

/** The grpc-js side of a call being served. */
export type RawServerCall =
  | ServerUnaryCall<unknown, unknown>
  | ServerWritableStream<unknown, unknown>;

export type CallKind = 'unary' | 'server_stream';

export interface ServerCall {
  /** Method name, e.g. `ResolveLinks`. */
  readonly method: string;
  readonly kind: CallKind;
  /** The decoded request, or MALFORMED (lib/grpc/handlers.ts) if its bytes did not decode. */
  readonly request: unknown;
  /** The grpc-js call (a server stream's handler writes to it; tracing reads its peer). */
  readonly raw: RawServerCall;
}

export interface CallContext {
  /** Method name, for logs. */
  readonly method: string;
  /** Absolute deadline (ms since epoch) the caller set; Infinity if none. */
  readonly deadline: number;
  /**
   * Aborts when the caller's deadline passes (for a unary call without one,
   * after UNBOUNDED_CALL_MS) or the caller cancels; its reason is a
   * DomainError. Stores and Redis calls made for the call honour it.
   */
  readonly signal: AbortSignal;
  readonly metadata: Metadata;
}

export type ServerNext = (call: ServerCall, context: CallContext) => Promise<unknown>;
export type ServerMiddleware = (
  call: ServerCall,
  context: CallContext,
  next: ServerNext,
) => Promise<unknown>;

export interface MethodInfo {
  /** `/package.Service/Method` */
  readonly path: string;
  readonly kind: CallKind;
  /** Marked NO_SIDE_EFFECTS or IDEMPOTENT in the proto: safe to send twice. */
  readonly idempotent: boolean;
}

export interface ClientCall {
  readonly method: MethodInfo;
  readonly request: unknown;
  /** Server streams: called with every message as it arrives. */
  readonly onMessage?: ((message: unknown) => void) | undefined;
}

export interface ClientContext {
  /** Absolute deadline (ms since epoch); undefined until the deadline middleware sets the default. */
  deadline: number | undefined;
  /** Cancels the call when it aborts. */
  signal: AbortSignal | undefined;
  metadata: Metadata;
}

export type ClientNext = (call: ClientCall, context: ClientContext) => Promise<unknown>;
export type ClientMiddleware = (
  call: ClientCall,
  context: ClientContext,
  next: ClientNext,
) => Promise<unknown>;

/** A middleware of either side: the call, its context and the next step. */
type Step<Call, Context> = (call: Call, context: Context) => Promise<unknown>;

/** `middlewares[0]` runs first and sees the final outcome last; composed once, not per call. */
function compose<Call, Context>(
  middlewares: readonly ((
    call: Call,
    context: Context,
    next: Step<Call, Context>,
  ) => Promise<unknown>)[],
  terminal: Step<Call, Context>,
): Step<Call, Context> {
  return middlewares.reduceRight<Step<Call, Context>>(
    (next, middleware) => (call, context) => middleware(call, context, next),
    terminal,
  );
}

export const composeServer: (
  middlewares: readonly ServerMiddleware[],
  terminal: ServerNext,
) => ServerNext = compose;

export const composeClient: (
  middlewares: readonly ClientMiddleware[],
  terminal: ClientNext,
) => ClientNext = compose;
