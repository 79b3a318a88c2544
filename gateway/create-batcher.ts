// Coalesces link creation: every create asked for during one turn of the
// event loop goes to the link service in one CreateLinks call, flushed on the
// next turn (setImmediate, so a lone request waits for nothing), up to
// MAX_CREATE_BATCH items or about CALL_BYTES a call (well inside the 4 MiB a
// gRPC message may hold, whatever the body limit lets a URL be). Each item
// is answered alone: its link, or the error the link service named for it,
// exactly what a CreateLink call of its own would have answered; a call that
// fails as a whole fails each of its items with that error, except against a
// link service that does not know CreateLinks yet (a rolling upgrade), where
// each item is sent as a CreateLink of its own. With tracing on, the call is
// a span linked to every request it serves, a child of the first sampled one.
import { status } from '@grpc/grpc-js';
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

/** A call is sent once its items hold about this many bytes. */
const CALL_BYTES = 1024 * 1024;
/** What an item carries besides its URL and alias: principal, client details, framing. */
const ITEM_OVERHEAD_BYTES = 512;

const bytesOf = (request: CreateLinkRequest) =>
  request.targetUrl.length * 3 + request.alias.length + ITEM_OVERHEAD_BYTES;

/** The call failed because the link service does not serve CreateLinks. */
function unimplemented(error: unknown): boolean {
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  return cause?.code === status.UNIMPLEMENTED;
}

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
  #bytes = 0;
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
      this.#bytes += bytesOf(request);
      if (this.#pending.length >= MAX_CREATE_BATCH || this.#bytes >= CALL_BYTES) this.flush();
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
    this.#bytes = 0;
    const items = batch.map((p) => p.request);
    if (!telemetry.tracing) {
      this.#client.createLinks({ items }).then(
        (response) => deliver(batch, response),
        (error: unknown) => this.#fail(batch, error),
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
          this.#fail(batch, error);
        },
      );
  }

  #fail(batch: Pending[], error: unknown): void {
    if (!unimplemented(error)) {
      for (const pending of batch) pending.reject(error);
      return;
    }
    for (const pending of batch) {
      this.#client.createLink(pending.request).then(pending.resolve, pending.reject);
    }
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
