// The redirect path: the product, so it runs on plain node:http ahead of
// Fastify. A plain GET or HEAD /<code> is answered here: from the near cache
// at once, or through this turn's ResolveLinks batch. Anything else (a query
// string, a reserved word, another method) goes to Fastify, whose /:code route
// comes back here with the same code. No JSON parsing, no logging, no closure
// per request on this path.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RedirectTally } from '../lib/metrics/metrics.ts';
import { CODE_PATTERN, isReserved } from '../lib/short-code-rules.ts';
import { telemetry } from '../lib/telemetry/tracing.ts';
import type { ClickBuffer } from './clicks/click-buffer.ts';
import { type CallerAddress, callerDetails } from './http-caller.ts';
import type { NearCache } from './near-cache.ts';
import type { RedirectBatcher } from './redirect-batcher.ts';
import { sendNotFound, sendRedirect } from './redirect-replies.ts';
import { nameServerSpan, serverSpanOf } from './server-spans.ts';

/**
 * How long past its TTL a near-cache entry is still answered while it is
 * refetched in the background (RedirectBatcher.refresh): a hot link's
 * requests never wait for its refetch. Changes the feed announces drop
 * entries at once regardless; this only stretches the bound on what it
 * might have missed, from the TTL to the TTL and this.
 */
export const NEAR_STALE_MS = 5_000;

/** The route its server spans are named after, as Fastify's would be. */
const ROUTE = '/:code';

/** A path that is nothing but a code: CODE_PATTERN after the slash. */
const PLAIN = new RegExp(`^/${CODE_PATTERN.source.slice(1, -1)}$`);

export class RedirectPath {
  readonly #near: NearCache;
  readonly #batcher: RedirectBatcher;
  readonly #addressOf: CallerAddress;
  readonly #clicks: ClickBuffer | undefined;
  readonly #now: () => number;
  readonly #tally: RedirectTally;

  /** Without `clicks`, redirects are answered and not recorded; answers are counted in `tally`. */
  constructor(
    near: NearCache,
    batcher: RedirectBatcher,
    addressOf: CallerAddress,
    clicks: ClickBuffer | undefined,
    now: () => number,
    tally: RedirectTally,
  ) {
    this.#tally = tally;
    this.#near = near;
    this.#batcher = batcher;
    this.#addressOf = addressOf;
    this.#clicks = clicks;
    this.#now = now;
  }

  /** Serves a plain redirect request; false if it is not one (Fastify takes it). */
  tryServe(request: IncomingMessage, response: ServerResponse): boolean {
    const method = request.method;
    if (method !== 'GET' && method !== 'HEAD') return false;
    const url = request.url ?? '';
    if (!PLAIN.test(url)) return false;
    const code = url.slice(1);
    if (isReserved(code)) return false;
    this.#serveValid(code, request, response);
    return true;
  }

  /** Serves a redirect Fastify routed here: the code is checked first. */
  serve(code: string, request: IncomingMessage, response: ServerResponse): void {
    if (CODE_PATTERN.test(code) && !isReserved(code)) {
      this.#serveValid(code, request, response);
    } else {
      sendNotFound(response);
      this.#tally.notFound++;
    }
  }

  #serveValid(code: string, request: IncomingMessage, response: ServerResponse): void {
    const span = telemetry.tracing ? serverSpanOf(response) : undefined;
    if (span) nameServerSpan(response, request.method as string, ROUTE);
    const hit = this.#near.getAllowingStale(code, NEAR_STALE_MS);
    const now = this.#now();
    // Past the expiry it carries, an entry says nothing: use may have pushed
    // the idle expiry out since. The link service answers (410 or 302).
    if (hit === undefined || (hit.expiresAt !== null && hit.expiresAt <= now)) {
      this.#tally.nearMisses++;
      const client = callerDetails(request, this.#addressOf(request), span);
      this.#batcher.add({ code, client, head: request.method === 'HEAD' }, response);
    } else {
      sendRedirect(response, hit.targetUrl);
      this.#tally.nearHits++;
      this.#tally.found++;
      if (this.#near.refreshDue) this.#batcher.refresh(code);
      // A GET answered 302 is a click; HEAD is not (nor 404 or 410).
      if (this.#clicks && request.method === 'GET') {
        this.#clicks.record({
          eventId: '',
          linkId: hit.linkId,
          ownerId: hit.ownerId,
          code,
          at: now,
          client: callerDetails(request, this.#addressOf(request), span),
          trace: span?.isRecording() ? span.spanContext() : undefined,
        });
      }
    }
  }
}
