// Coalesces redirects: every code asked for during one turn of the event loop
// goes to the link service in one ResolveLinks call, flushed on the next turn
// (setImmediate, not a timer, so a lone request waits for nothing). The call's
// deadline is the tightest of its items'. Each item gets its own result, so an
// unknown code answers 404 and an expired one 410 without failing the rest;
// a failed item answers the error the link service named for it. The call
// goes through the standard client stack like every other: one promise per
// batch, none per redirect. With tracing on, the call is a span linked to
// every redirect it serves.

import type { ServerResponse } from 'node:http';
import { context, type SpanContext, trace } from '@opentelemetry/api';
import {
  type ResolveLinksRequest_Item,
  type ResolveLinksResponse,
  type ResolveLinksResponse_Result,
  ResolveStatus,
} from '../gen/shortener/v1/link.ts';
import { type DomainError, isDomainError } from '../lib/errors.ts';
import type { RedirectTally } from '../lib/metrics/metrics.ts';
import { runtimeErrors } from '../lib/runtime-errors.ts';
import { MAX_RESOLVE_BATCH } from '../lib/short-code-rules.ts';
import { onBehalfOf, recordFailure, telemetry, tracer } from '../lib/telemetry/tracing.ts';
import type { ClickBuffer } from './clicks/click-buffer.ts';
import type { LinkClient } from './grpc-clients.ts';
import type { NearCache, NearEntry } from './near-cache.ts';
import { problemFromDomain } from './problems.ts';
import {
  countProblem,
  encodeProblem,
  problemForResult,
  sendEncoded,
  sendRedirect,
} from './redirect-replies.ts';
import { serverSpanOf } from './server-spans.ts';

const batcherTracer = tracer('shortener.gateway');

/** How long codes due for a refetch gather before their one ResolveLinks call. */
const REFRESH_FLUSH_MS = 50;

export class RedirectBatcher {
  readonly #client: LinkClient;
  readonly #near: NearCache;
  readonly #deadlineMs: number;
  readonly #clicks: ClickBuffer | undefined;
  #items: ResolveLinksRequest_Item[] = [];
  #replies: ServerResponse[] = [];
  #oldest = 0;
  #scheduled = false;
  readonly #flushSoon = () => {
    this.#scheduled = false;
    this.flush();
  };

  readonly #now: () => number;
  readonly #tally: RedirectTally;
  /** Near-cache entries due for a refetch, and those being refetched (refresh). */
  readonly #refreshes = new Set<string>();
  readonly #refreshing = new Set<string>();
  #refreshTimer: NodeJS.Timeout | undefined;
  readonly #flushRefreshesSoon = () => this.#flushRefreshes();

  /** Without `clicks`, redirects are answered and not recorded; answers are counted in `tally`. */
  constructor(
    client: LinkClient,
    near: NearCache,
    deadlineMs: number,
    clicks: ClickBuffer | undefined,
    now: () => number,
    tally: RedirectTally,
  ) {
    this.#tally = tally;
    this.#client = client;
    this.#near = near;
    this.#deadlineMs = deadlineMs;
    this.#clicks = clicks;
    this.#now = now;
  }

  /**
   * Refetches a near-cache entry past its TTL that is still being answered
   * (NEAR_STALE_MS), off every request's path: the codes due within
   * REFRESH_FLUSH_MS go in one ResolveLinks call (as HEAD: nothing is
   * spent), not one small call per turn of the event loop. What it finds
   * refills the entry; a code found gone is forgotten, so its next request
   * asks the link service; a failed call leaves the entry to its staleness
   * bound.
   */
  refresh(code: string): void {
    if (this.#refreshes.has(code) || this.#refreshing.has(code)) return;
    this.#refreshes.add(code);
    if (this.#refreshes.size >= MAX_RESOLVE_BATCH) this.#flushRefreshes();
    else if (this.#refreshTimer === undefined) {
      this.#refreshTimer = setTimeout(this.#flushRefreshesSoon, REFRESH_FLUSH_MS);
      this.#refreshTimer.unref();
    }
  }

  #flushRefreshes(): void {
    clearTimeout(this.#refreshTimer);
    this.#refreshTimer = undefined;
    const codes = [...this.#refreshes];
    this.#refreshes.clear();
    if (codes.length === 0) return;
    for (const code of codes) this.#refreshing.add(code);
    const epoch = this.#near.epoch;
    const done = () => {
      for (const code of codes) this.#refreshing.delete(code);
    };
    this.#client
      .resolveLinks(
        { items: codes.map((code) => ({ code, client: undefined, head: true })) },
        { deadline: Date.now() + this.#deadlineMs },
      )
      .then(({ results }) => {
        done();
        codes.forEach((code, i) => {
          const result = results[i];
          if (result?.status === ResolveStatus.RESOLVE_STATUS_FOUND) {
            // A link given a visit limit is never near-cached: each visit must spend its count.
            if (result.visitsLimited) this.#near.forget(code);
            else this.#near.fill(code, entryOf(result), epoch);
          } else if (
            result?.status === ResolveStatus.RESOLVE_STATUS_NOT_FOUND ||
            result?.status === ResolveStatus.RESOLVE_STATUS_EXPIRED
          ) {
            this.#near.forget(code);
          }
        });
      }, done);
  }

  add(item: ResolveLinksRequest_Item, reply: ServerResponse): void {
    if (this.#items.length === 0) this.#oldest = Date.now();
    this.#items.push(item);
    this.#replies.push(reply);
    if (this.#items.length >= MAX_RESOLVE_BATCH) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flushSoon);
    }
  }

  flush(): void {
    if (this.#items.length === 0) return;
    const items = this.#items;
    const replies = this.#replies;
    const epoch = this.#near.epoch;
    this.#items = [];
    this.#replies = [];
    if (telemetry.tracing) {
      this.#resolveTraced(items, replies, epoch);
      return;
    }
    this.#client.resolveLinks({ items }, { deadline: this.#oldest + this.#deadlineMs }).then(
      (response) => this.#deliver(items, replies, epoch, null, response),
      (error: unknown) => this.#deliver(items, replies, epoch, error, undefined),
    );
  }

  /**
   * The call in a span of its own, on behalf of every redirect it serves: a
   * child of the first sampled one, linked to each (tracing.ts).
   */
  #resolveTraced(items: ResolveLinksRequest_Item[], replies: ServerResponse[], epoch: number) {
    const redirects: SpanContext[] = [];
    for (const reply of replies) {
      const span = serverSpanOf(reply);
      if (span) redirects.push(span.spanContext());
    }
    const { parent, links } = onBehalfOf(redirects);
    const span = batcherTracer.startSpan(
      'resolve redirects',
      { links, attributes: { 'shortener.redirects': items.length } },
      parent,
    );
    const call = context.with(trace.setSpan(parent, span), () =>
      this.#client.resolveLinks({ items }, { deadline: this.#oldest + this.#deadlineMs }),
    );
    call.then(
      (response) => {
        span.end();
        this.#deliver(items, replies, epoch, null, response);
      },
      (error: unknown) => {
        recordFailure(span, error);
        span.end();
        this.#deliver(items, replies, epoch, error, undefined);
      },
    );
  }

  #deliver(
    items: ResolveLinksRequest_Item[],
    replies: ServerResponse[],
    epoch: number,
    error: unknown,
    response: ResolveLinksResponse | undefined,
  ): void {
    if (error || !response) {
      const problem = encodeProblem(problemFromDomain(asDomainError(error)));
      for (const reply of replies) sendEncoded(reply, problem);
      this.#tally.failed += replies.length;
      return;
    }
    const results = response.results;
    const now = this.#now();
    for (let i = 0; i < replies.length; i++) {
      const reply = replies[i] as ServerResponse;
      const result = results[i];
      const item = items[i] as ResolveLinksRequest_Item;
      try {
        if (result?.status === ResolveStatus.RESOLVE_STATUS_FOUND) {
          // A link with a visit limit is never near-cached: each visit must spend its count.
          if (!result.visitsLimited) {
            this.#near.fill(item.code, entryOf(result), epoch);
          }
          sendRedirect(reply, result.targetUrl);
          this.#tally.found++;
          // A GET answered 302 is a click; HEAD is not (nor 404 or 410).
          if (this.#clicks && !item.head) {
            const span = serverSpanOf(reply);
            this.#clicks.record({
              eventId: '',
              linkId: result.linkId,
              ownerId: result.ownerId,
              code: item.code,
              at: now,
              client: item.client,
              trace: span?.isRecording() ? span.spanContext() : undefined,
            });
          }
        } else {
          // No result: fewer results than items, the link service broke its contract.
          const problem = result
            ? problemForResult(result.status, result.errorCode, result.errorMessage)
            : problemForResult(ResolveStatus.RESOLVE_STATUS_UNSPECIFIED, '', '');
          countProblem(this.#tally, problem);
          sendEncoded(reply, problem);
        }
      } catch {
        // The client went away mid-answer; the other replies still go out.
        reply.destroy();
      }
    }
  }
}

/** What the near cache keeps of a link the link service found. */
function entryOf(result: ResolveLinksResponse_Result): NearEntry {
  return {
    linkId: result.linkId,
    ownerId: result.ownerId,
    targetUrl: result.targetUrl,
    expiresAt: result.expiresAt ? result.expiresAt.getTime() : null,
  };
}

function asDomainError(error: unknown): DomainError {
  if (isDomainError(error)) return error;
  return runtimeErrors.unavailable({ cause: error ?? undefined });
}
