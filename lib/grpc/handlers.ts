// Handler adapters every service's gRPC handlers use: promise-returning
// functions in, grpc-js callbacks out, every call through the service's
// default middleware stack (lib/grpc/server-stack.ts). The adapters only
// build the call's context and deliver the outcome.
import type {
  handleServerStreamingCall,
  handleUnaryCall,
  ServerWritableStream,
  ServiceDefinition,
} from '@grpc/grpc-js';
import { CallDeadline, UNBOUNDED_CALL_MS } from '../call-scope.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics/metrics.ts';
import {
  type CallContext,
  type CallKind,
  composeServer,
  type RawServerCall,
  type ServerMiddleware,
  type ServerNext,
} from './middleware.ts';
import { defaultServerStack, MALFORMED, type StatusError } from './server-stack.ts';

export type { CallContext };

export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/** One composed stack per service logger. */
const stacks = new WeakMap<Logger, readonly ServerMiddleware[]>();
/** The metrics of the service a logger belongs to (lib/service.ts binds them before handlers exist). */
const measured = new WeakMap<Logger, Metrics>();

/** Calls of the handlers made with `log` from now on are measured into `metrics`. */
export function measureHandlersOf(log: Logger, metrics: Metrics): void {
  measured.set(log, metrics);
  stacks.delete(log);
}

function stackFor(log: Logger): readonly ServerMiddleware[] {
  let stack = stacks.get(log);
  if (!stack) {
    stack = defaultServerStack(log, measured.get(log));
    stacks.set(log, stack);
  }
  return stack;
}

function deadlineOf(call: RawServerCall): number {
  const deadline = call.getDeadline();
  return deadline instanceof Date ? deadline.getTime() : Number(deadline);
}

/** The call's context and the deadline behind its signal; the caller disposes the latter. */
function contextOf(
  call: RawServerCall,
  method: string,
  kind: CallKind,
): { context: CallContext; deadline: CallDeadline } {
  const at = deadlineOf(call);
  // A stream lives as long as its caller wants; a unary call without a
  // deadline still gives up on its stores at some point.
  const deadline = new CallDeadline(
    at,
    kind === 'unary' ? UNBOUNDED_CALL_MS : Number.POSITIVE_INFINITY,
  );
  call.once('cancelled', () => deadline.cancel());
  return {
    context: { method, deadline: at, signal: deadline.signal, metadata: call.metadata },
    deadline,
  };
}

/** What escaped the stack unmapped (it never should): sent as INTERNAL. */
function asStatus(error: unknown): StatusError {
  return typeof (error as StatusError).code === 'number'
    ? (error as StatusError)
    : Object.assign(new Error('internal error'), { code: 13, details: 'internal error' });
}

export type UnaryHandler<Req, Res> = (request: Req, context: CallContext) => Promise<Res>;

/** Adapts a promise-returning handler to grpc-js, through the default stack. */
export function unary<Req, Res>(
  method: string,
  log: Logger,
  handler: UnaryHandler<Req, Res>,
): handleUnaryCall<Req, Res> {
  const run = composeServer(stackFor(log), (call, context) =>
    handler(call.request as Req, context),
  );
  return (call, callback) => {
    const { context, deadline } = contextOf(call, method, 'unary');
    run({ method, kind: 'unary', request: call.request, raw: call }, context).then(
      (response) => {
        deadline.dispose();
        callback(null, response as Res);
      },
      (error: unknown) => {
        deadline.dispose();
        callback(asStatus(error));
      },
    );
  };
}

export type StreamHandler<Req, Res> = (
  call: ServerWritableStream<Req, Res>,
  context: CallContext,
) => void | Promise<void>;

/** Settles when the stream is over: ended by the handler, cancelled or broken. */
function streamEnded(call: ServerWritableStream<unknown, unknown>): Promise<void> {
  return new Promise((resolve) => {
    for (const event of ['finish', 'close', 'cancelled', 'error'])
      call.once(event, () => resolve());
  });
}

/**
 * Adapts a server-streaming handler; it owns the call until it ends it. Its
 * promise through the stack settles when the stream ends.
 */
export function serverStream<Req, Res>(
  method: string,
  log: Logger,
  handler: StreamHandler<Req, Res>,
): handleServerStreamingCall<Req, Res> {
  const run: ServerNext = composeServer(stackFor(log), async (call, context) => {
    const stream = call.raw as ServerWritableStream<Req, Res>;
    const ended = streamEnded(stream as ServerWritableStream<unknown, unknown>);
    await handler(stream, context);
    await ended;
  });
  return (call) => {
    const { context, deadline } = contextOf(call, method, 'server_stream');
    run({ method, kind: 'server_stream', request: call.request, raw: call }, context).then(
      () => deadline.dispose(),
      (error: unknown) => {
        deadline.dispose();
        call.destroy(asStatus(error));
      },
    );
  };
}

/** Copies a service definition so undecodable requests reach the handler as MALFORMED. */
export function tolerant(definition: ServiceDefinition): ServiceDefinition {
  const copy: Record<string, ServiceDefinition[string]> = {};
  for (const [name, method] of Object.entries(definition)) {
    const decode = method.requestDeserialize;
    copy[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return decode(bytes);
        } catch {
          return MALFORMED;
        }
      },
    };
  }
  return copy as ServiceDefinition;
}
