// Clients as every caller uses them: one long-lived channel per target with
// keepalive, a deadline on every call (the default unless the caller set a
// tighter one), failures turned into domain errors, promises instead of callbacks.
import {
  type CallOptions,
  type Client,
  type ClientOptions,
  type ClientUnaryCall,
  credentials,
  InterceptingCall,
  type Interceptor,
  Metadata,
  type ServiceError,
} from '@grpc/grpc-js';
import { fromServiceError } from './status.ts';

type Callback<Res> = (error: ServiceError | null, response: Res) => void;
type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: Callback<Res>,
) => ClientUnaryCall;

/** The unary methods of a generated client, returning promises. */
export type PromiseClient<C> = {
  [K in keyof C as C[K] extends UnaryMethod<infer _Req, infer _Res>
    ? K
    : never]: C[K] extends UnaryMethod<infer Req, infer Res>
    ? (request: Req, options?: Partial<CallOptions>) => Promise<Res>
    : never;
};

function deadlineInterceptor(defaultMs: number): Interceptor {
  return (options, nextCall) => {
    const deadline = options.deadline ?? Date.now() + defaultMs;
    return new InterceptingCall(nextCall({ ...options, deadline }));
  };
}

const CHANNEL_OPTIONS: ClientOptions = {
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.max_receive_message_length': 4 * 1024 * 1024,
  // Reconnect quickly after a restart of the callee; calls fail fast meanwhile.
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 2_000,
  // Spread calls over every address the target resolves to (several replicas
  // behind one DNS name), not just the first.
  'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
};

type ClientConstructor<C extends Client> = new (
  address: string,
  creds: ReturnType<typeof credentials.createInsecure>,
  options?: ClientOptions,
) => C;

export function connect<C extends Client>(
  Ctor: ClientConstructor<C>,
  target: string,
  defaultDeadlineMs: number,
): C {
  return new Ctor(target, credentials.createInsecure(), {
    ...CHANNEL_OPTIONS,
    interceptors: [deadlineInterceptor(defaultDeadlineMs)],
  });
}

/** Wraps a generated client's unary methods as promises rejecting with DomainError. */
export function promiseClient<C extends Client>(
  client: C,
  definition: Record<string, { responseStream: boolean; requestStream: boolean }>,
): PromiseClient<C> {
  const wrapped: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(definition)) {
    if (method.requestStream || method.responseStream) continue;
    const call = (client as unknown as Record<string, UnaryMethod<unknown, unknown>>)[name];
    if (typeof call !== 'function') continue;
    wrapped[name] = (request: unknown, options: Partial<CallOptions> = {}) =>
      new Promise((resolve, reject) => {
        call.call(client, request, new Metadata(), options, (error, response) =>
          error ? reject(fromServiceError(error)) : resolve(response),
        );
      });
  }
  return wrapped as PromiseClient<C>;
}
