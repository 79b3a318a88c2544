// Coalesces link creation: every create asked for during one turn of the
// event loop goes to the link service in one CreateLinks call, flushed on the
// next turn (setImmediate, so a lone request waits for nothing), up to
// MAX_CREATE_BATCH items a call. Each item is answered alone: its link, or
// the error the link service named for it, exactly what a CreateLink call of
// its own would have answered; a call that fails as a whole fails each of
// its items with that error. With tracing on, the call is a span linked to
// every request it serves, a child of the first sampled one.
import { context, type SpanContext, trace } from '@opentelemetry/api';
import type {
  CreateLinkRequest,
  CreateLinkResponse,
  CreateLinksResponse,
} from '../gen/shortener/v1/link.ts';
import { fromItemError } from '../lib/grpc/status.ts';
import { runtimeErrors } from '../lib/runtime-errors.ts';
import { MAX_CREATE_BATCH } from '../lib/short-code-rules.ts';
import { onBehalfOf, recordFailure, telemetry, tracer } from '../lib/telemetry/tracing.ts';
import type { LinkClient } from './grpc-clients.ts';

const batcherTracer = tracer('shortener.gateway');

interface Pending {
  request: CreateLinkRequest;
  resolve: (response: CreateLinkResponse) => void;
  reject: (error: unknown) => void;
  /** The request's span, when tracing. */
  span: SpanContext | undefined;
}

export class CreateBatcher {
  readonly #client: LinkClient;
  #pending: Pending[] = [];
  #scheduled = false;
  readonly #flushSoon = () => {
    this.#scheduled = false;
    this.flush();
  };

  constructor(client: LinkClient) {
    this.#client = client;
  }

  /** What CreateLink would answer for `request`, sent with the others of this turn. */
  create(request: CreateLinkRequest): Promise<CreateLinkResponse> {
    return new Promise((resolve, reject) => {
      const span = telemetry.tracing ? trace.getActiveSpan()?.spanContext() : undefined;
      this.#pending.push({ request, resolve, reject, span });
      if (this.#pending.length >= MAX_CREATE_BATCH) this.flush();
      else if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(this.#flushSoon);
      }
    });
  }

  flush(): void {
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    const items = batch.map((p) => p.request);
    if (!telemetry.tracing) {
      this.#client.createLinks({ items }).then(
        (response) => deliver(batch, response),
        (error: unknown) => fail(batch, error),
      );
      return;
    }
    const spans = batch.flatMap((p) => (p.span ? [p.span] : []));
    const { parent, links } = onBehalfOf(spans);
    const span = batcherTracer.startSpan(
      'create links',
      { links, attributes: { 'shortener.creates': items.length } },
      parent,
    );
    context
      .with(trace.setSpan(parent, span), () => this.#client.createLinks({ items }))
      .then(
        (response) => {
          span.end();
          deliver(batch, response);
        },
        (error: unknown) => {
          recordFailure(span, error);
          span.end();
          fail(batch, error);
        },
      );
  }
}

function deliver(batch: Pending[], response: CreateLinksResponse): void {
  batch.forEach((pending, i) => {
    const result = response.results[i];
    if (result?.link) pending.resolve(result.link);
    else if (result?.error) pending.reject(fromItemError(result.error));
    // An answer without a result for the item is the link service's fault.
    else pending.reject(runtimeErrors.internal());
  });
}

function fail(batch: Pending[], error: unknown): void {
  for (const pending of batch) pending.reject(error);
}
