// Clients as every caller uses them: one long-lived channel per target with
// keepalive and round-robin, retries for idempotent methods (retry-policy.ts),
// and every call through one client middleware stack, composed once per client:
//   (tracing, metrics: next, here, so they see every call and its final outcome)
//   mapErrors        a failed call rejects with a DomainError, not a ServiceError
//   defaultDeadline  no call leaves without a deadline (the default unless the caller set one)
//   resendDropped    a read-only call whose connection dropped after its answer began is sent once more
// then the call itself: unary calls resolve with the response; server streams
// hand each message to onMessage and resolve when the stream ends.
import {
  type Client,
  type ClientOptions,
  credentials,
  InterceptingCall,
  type Interceptor,
  Metadata,
  type ServiceError,
  status,
} from '@grpc/grpc-js';
import {
  type ClientCall,
  type ClientMiddleware,
  type ClientNext,
  composeClient,
  type MethodInfo,
} from './middleware.ts';
import { idempotentMethods, serviceConfig } from './retry-policy.ts';
import { fromServiceError } from './status.ts';

export interface CallOptions {
  /** Absolute deadline (ms since epoch or a Date); the client's default if unset or later. */
  deadline?: number | Date;
  /** Cancels the call when it aborts. */
  signal?: AbortSignal;
  metadata?: Metadata;
}

export interface StreamOptions<Res> extends CallOptions {
  onMessage(message: Res): void;
}

interface MethodDefinitionLike {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestSerialize(value: never): Buffer;
  responseDeserialize(bytes: Buffer): unknown;
}

/** A generated service definition's methods as promises, through the client stack. */
export type ServiceClient<D> = {
  [K in keyof D]: D[K] extends {
    requestStream: false;
    responseStream: infer Streaming;
    requestSerialize: (value: infer Req) => Buffer;
    responseDeserialize: (bytes: Buffer) => infer Res;
  }
    ? Streaming extends true
      ? (request: Req, options: StreamOptions<Res>) => Promise<void>
      : (request: Req, options?: CallOptions) => Promise<Res>
    : never;
};

/** The same policy as defaultDeadline, for calls made on the raw channel (health checks, tests). */
function deadlineInterceptor(defaultMs: number): Interceptor {
  return (options, nextCall) => {
    const deadline = options.deadline ?? Date.now() + defaultMs;
    return new InterceptingCall(nextCall({ ...options, deadline }));
  };
}

/** A call the caller gave no deadline gets `defaultMs` (a stream meant to stay open passes Infinity). */
export function defaultDeadline(defaultMs: number): ClientMiddleware {
  return (call, context, next) => {
    context.deadline ??= Date.now() + defaultMs;
    return next(call, context);
  };
}

function isServiceError(error: unknown): error is ServiceError {
  return (
    error instanceof Error &&
    typeof (error as ServiceError).code === 'number' &&
    'metadata' in error
  );
}

export const mapErrors: ClientMiddleware = (call, context, next) =>
  next(call, context).catch((error: unknown) => {
    throw isServiceError(error) ? fromServiceError(error) : error;
  });

/**
 * Calls whose connection dropped after the callee began to answer (its
 * headers arrived, then no status): grpc-js fails them with UNAVAILABLE and,
 * having committed to that attempt when the headers came, never resends them.
 */
const droppedMidAnswer = new WeakSet<object>();

/**
 * A callee killed between its answer's headers and its trailers (SIGKILL, a
 * node lost) leaves a call grpc-js will not retry (droppedMidAnswer), though
 * any other replica would answer it. So a unary call the protos mark safe to
 * send twice is sent once more when that happens, while its deadline lasts.
 * Every other failure is left to grpc-js's retry policy, already applied.
 */
export const resendDropped: ClientMiddleware = (call, context, next) => {
  if (!call.method.idempotent || call.method.kind !== 'unary') return next(call, context);
  return next(call, context).catch((error: unknown) => {
    const dropped = typeof error === 'object' && error !== null && droppedMidAnswer.has(error);
    if (!dropped || context.signal?.aborted || (context.deadline ?? Infinity) <= Date.now()) {
      throw error;
    }
    return next(call, context);
  });
};

/** The default client stack; `defaultDeadlineMs` bounds every unary call. */
export function defaultClientStack(defaultDeadlineMs: number): readonly ClientMiddleware[] {
  return [
    // Tracing and metrics middleware go first here.
    mapErrors,
    defaultDeadline(defaultDeadlineMs),
    resendDropped,
  ];
}

interface BoundMethod extends MethodInfo {
  readonly definition: MethodDefinitionLike;
}

/** Cancels a call when `signal` aborts (at once if it has); returns how to stop listening. */
function cancelOnAbort(signal: AbortSignal | undefined, cancel: () => void): () => void {
  if (!signal) return () => {};
  if (signal.aborted) {
    cancel();
    return () => {};
  }
  signal.addEventListener('abort', cancel, { once: true });
  return () => signal.removeEventListener('abort', cancel);
}

/**
 * grpc-js records the caller's stack with every call it starts (`new
 * Error()`, some 10 µs on a deep async stack, more than the rest of starting
 * it) to append to a failed call's stack. Failures reach callers as domain
 * errors (mapErrors) with a stack of their own and the status as their
 * cause, so calls start without that one.
 */
function withoutCallerStack<T>(start: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return start();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** The call itself, on the generated client's channel. */
function send(client: Client): ClientNext {
  return (call: ClientCall, context) => {
    const method = call.method as BoundMethod;
    const { path, requestSerialize, responseDeserialize } = method.definition;
    const options = context.deadline === undefined ? {} : { deadline: context.deadline };
    const signal = context.signal;
    if (method.kind === 'unary') {
      return new Promise((resolve, reject) => {
        let answering = false;
        const pending = withoutCallerStack(() =>
          client.makeUnaryRequest(
            path,
            requestSerialize as (value: unknown) => Buffer,
            responseDeserialize,
            call.request,
            context.metadata,
            options,
            (error, response) => {
              stopListening();
              if (error) {
                if (answering && error.code === status.UNAVAILABLE) droppedMidAnswer.add(error);
                reject(error);
              } else resolve(response);
            },
          ),
        );
        // Only a call resendDropped may send again needs to know.
        if (method.idempotent) {
          pending.on('metadata', () => {
            answering = true;
          });
        }
        const stopListening = cancelOnAbort(signal, () => pending.cancel());
      });
    }
    return new Promise<void>((resolve, reject) => {
      const stream = withoutCallerStack(() =>
        client.makeServerStreamRequest(
          path,
          requestSerialize as (value: unknown) => Buffer,
          responseDeserialize,
          call.request,
          context.metadata,
          options,
        ),
      );
      const stopListening = cancelOnAbort(signal, () => stream.cancel());
      const settle = (error?: unknown) => {
        stopListening();
        if (error) reject(error);
        else resolve();
      };
      if (call.onMessage) stream.on('data', call.onMessage);
      stream.on('error', settle);
      stream.on('end', () => settle());
    });
  };
}

const IDEMPOTENT = idempotentMethods();

const CHANNEL_OPTIONS: ClientOptions = {
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.max_receive_message_length': 4 * 1024 * 1024,
  // Reconnect quickly after a restart of the callee; calls fail fast meanwhile.
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 2_000,
  // Spread calls over every address the target resolves to (several replicas
  // behind one DNS name), not just the first; retry what the protos mark idempotent.
  'grpc.service_config': serviceConfig(IDEMPOTENT),
};

type ClientConstructor<C extends Client> = new (
  address: string,
  creds: ReturnType<typeof credentials.createInsecure>,
  options?: ClientOptions,
) => C;

const defaultDeadlines = new WeakMap<Client, number>();

/** A channel to `target`; raw calls on it get `defaultDeadlineMs` unless they set a deadline. */
export function connect<C extends Client>(
  Ctor: ClientConstructor<C>,
  target: string,
  defaultDeadlineMs: number,
): C {
  const client = new Ctor(target, credentials.createInsecure(), {
    ...CHANNEL_OPTIONS,
    interceptors: [deadlineInterceptor(defaultDeadlineMs)],
  });
  defaultDeadlines.set(client, defaultDeadlineMs);
  return client;
}

const FALLBACK_DEADLINE_MS = 2_000;

/**
 * The definition's methods on `client`'s channel, every call through `stack`
 * (by default the standard one with the deadline `connect` was given).
 */
export function promiseClient<D extends Record<string, MethodDefinitionLike>>(
  client: Client,
  definition: D,
  stack: readonly ClientMiddleware[] = defaultClientStack(
    defaultDeadlines.get(client) ?? FALLBACK_DEADLINE_MS,
  ),
): ServiceClient<D> {
  const run = composeClient(stack, send(client));
  const wrapped: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(definition)) {
    if (method.requestStream) continue;
    const info: BoundMethod = {
      path: method.path,
      kind: method.responseStream ? 'server_stream' : 'unary',
      idempotent: IDEMPOTENT.has(method.path),
      definition: method,
    };
    wrapped[name] = (request: unknown, options: Partial<StreamOptions<unknown>> = {}) => {
      const deadline = options.deadline;
      return run(
        { method: info, request, onMessage: options.onMessage },
        {
          deadline: deadline instanceof Date ? deadline.getTime() : deadline,
          signal: options.signal,
          metadata: options.metadata ?? new Metadata(),
        },
      );
    };
  }
  return wrapped as ServiceClient<D>;
}
