// What a process measures, in one registry per process (the one-process mesh
// shares one among its parts): prom-client, named after the Prometheus and
// OpenTelemetry conventions (units in the name, `_total` on counters, the
// semantic conventions' attribute names as labels). docs/decisions/0011.
//
// Two kinds of instrument. Those off the hot path (gRPC calls, HTTP routes,
// bus deliveries, sweeps) are prom-client metrics updated where things
// happen. Those on it (redirects, near-cache lookups, clicks, Redis cache
// lookups) are plain integer fields the part owns and bumps, read here only
// when Prometheus scrapes: a child of a labelled prom-client metric hashes its
// labels on every inc(), a field does not.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Buckets for calls that take microseconds to a few seconds. */
const SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** What the redirect path counts: its answers by outcome and its near-cache lookups. */
export interface RedirectTally {
  found: number;
  notFound: number;
  expired: number;
  failed: number;
  nearHits: number;
  nearMisses: number;
}

export function redirectTally(): RedirectTally {
  return { found: 0, notFound: 0, expired: 0, failed: 0, nearHits: 0, nearMisses: 0 };
}

/** What a click buffer counts (gateway/clicks/click-buffer.ts). */
export interface ClickTally {
  readonly buffered: number;
  readonly published: number;
  readonly dropped: number;
  readonly publishFailures: number;
}

/** What a cache in front of a store counts. */
export interface CacheTally {
  hits: number;
  misses: number;
}

/** Links inserted, by the statement that wrote them: one shared with others of its turn, or its own. */
export interface InsertTally {
  shared: number;
  single: number;
}

/** A worker-id lease as the metrics see it. */
export interface LeaseView {
  readonly workerId: number;
  isValid(): boolean;
}

/** Messages waiting in consumers' queues, asked when scraped. */
export type QueueDepths = () => Promise<ReadonlyMap<string, number>>;

export class Metrics {
  readonly registry = new Registry();
  readonly #redirects: RedirectTally[] = [];
  readonly #clicks: ClickTally[] = [];
  readonly #caches = new Map<string, CacheTally[]>();
  readonly #inserts: InsertTally[] = [];
  readonly #leases = new Map<string, LeaseView>();
  readonly #queues: QueueDepths[] = [];

  /** OTel `rpc.server.call.duration`, per service, method and status code. */
  readonly rpcServerDuration = new Histogram({
    name: 'rpc_server_call_duration_seconds',
    help: 'gRPC calls served, by service, method and status code (count: the call rate; a code other than 0: an error)',
    labelNames: ['rpc_service', 'rpc_method', 'rpc_grpc_status_code'] as const,
    buckets: SECONDS,
    registers: [this.registry],
  });

  /** OTel `http.server.request.duration`, per route (the redirect path is counted apart). */
  readonly httpServerDuration = new Histogram({
    name: 'http_server_request_duration_seconds',
    help: 'HTTP requests served by the gateway API, by method, route and status code',
    labelNames: ['http_request_method', 'http_route', 'http_response_status_code'] as const,
    buckets: SECONDS,
    registers: [this.registry],
  });

  readonly rateLimitRejections = new Counter({
    name: 'shortener_rate_limit_rejections_total',
    help: 'Requests refused by a rate limit, by limit',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });

  readonly busPublished = new Counter({
    name: 'shortener_bus_messages_published_total',
    help: 'Messages the broker confirmed, by routing key',
    labelNames: ['routing_key'] as const,
    registers: [this.registry],
  });

  readonly busPublishFailures = new Counter({
    name: 'shortener_bus_publish_failures_total',
    help: 'Publishes the broker did not confirm (nack, timeout, broker away), by routing key',
    labelNames: ['routing_key'] as const,
    registers: [this.registry],
  });

  readonly busDeliveries = new Counter({
    name: 'shortener_bus_deliveries_total',
    help: 'Messages consumed, by consumer and outcome (handled, retried, dead_lettered)',
    labelNames: ['consumer', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly busYielded = new Counter({
    name: 'shortener_bus_yield_seconds_total',
    help: 'Time batches were held back while a gateway on the node was busy, by consumer (lib/bus/yielding.ts)',
    labelNames: ['consumer'] as const,
    registers: [this.registry],
  });

  readonly sweptLinks = new Counter({
    name: 'shortener_sweeper_links_purged_total',
    help: 'Expired links the sweeper purged',
    registers: [this.registry],
  });

  readonly sweeps = new Counter({
    name: 'shortener_sweeper_sweeps_total',
    help: 'Sweeps run, by outcome (completed, failed)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly lastSweep = new Gauge({
    name: 'shortener_sweeper_last_sweep_timestamp_seconds',
    help: 'When the last sweep completed (Unix time)',
    registers: [this.registry],
  });

  readonly leaseLosses = new Counter({
    name: 'shortener_worker_id_lease_losses_total',
    help: 'Worker-id leases found taken by another holder',
    registers: [this.registry],
  });

  readonly alertsRaised = new Counter({
    name: 'shortener_alerts_raised_total',
    help: 'Alert events published on the bus, by kind and state (firing, resolved)',
    labelNames: ['kind', 'state'] as const,
    registers: [this.registry],
  });

  readonly alertsPosted = new Counter({
    name: 'shortener_alerts_posted_total',
    help: 'Alerts the notifier posted to the webhook, by state',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });

  readonly alertsSuppressed = new Counter({
    name: 'shortener_alerts_suppressed_total',
    help: 'Alert events not posted, by reason (duplicate, rate_limited, not_firing, no_webhook)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  constructor() {
    const redirects = this.#redirects;
    const clicks = this.#clicks;
    const caches = this.#caches;
    const inserts = this.#inserts;
    const leases = this.#leases;
    const queues = this.#queues;
    const sum = <T>(parts: readonly T[], of: (part: T) => number) =>
      parts.reduce((total, part) => total + of(part), 0);
    new Counter({
      name: 'shortener_redirects_total',
      help: 'Redirect requests answered, by outcome (found: 302, not_found: 404, expired: 410, failed: 5xx)',
      labelNames: ['outcome'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(
          { outcome: 'found' },
          sum(redirects, (r) => r.found),
        );
        this.inc(
          { outcome: 'not_found' },
          sum(redirects, (r) => r.notFound),
        );
        this.inc(
          { outcome: 'expired' },
          sum(redirects, (r) => r.expired),
        );
        this.inc(
          { outcome: 'failed' },
          sum(redirects, (r) => r.failed),
        );
      },
    });
    new Counter({
      name: 'shortener_near_cache_lookups_total',
      help: "Lookups in the gateway's near cache, by result (hit, miss)",
      labelNames: ['result'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(
          { result: 'hit' },
          sum(redirects, (r) => r.nearHits),
        );
        this.inc(
          { result: 'miss' },
          sum(redirects, (r) => r.nearMisses),
        );
      },
    });
    new Counter({
      name: 'shortener_link_inserts_total',
      help: 'Links the link service stored, by statement (shared: with the others of its turn; single: alone)',
      labelNames: ['statement'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(
          { statement: 'shared' },
          sum(inserts, (t) => t.shared),
        );
        this.inc(
          { statement: 'single' },
          sum(inserts, (t) => t.single),
        );
      },
    });
    new Counter({
      name: 'shortener_cache_lookups_total',
      help: 'Lookups in the shared (Redis) cache, by cache and result (hit, miss)',
      labelNames: ['cache', 'result'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [cache, tallies] of caches) {
          this.inc(
            { cache, result: 'hit' },
            sum(tallies, (t) => t.hits),
          );
          this.inc(
            { cache, result: 'miss' },
            sum(tallies, (t) => t.misses),
          );
        }
      },
    });
    new Gauge({
      name: 'shortener_clicks_buffered',
      help: 'Clicks waiting in the gateway to be published',
      registers: [this.registry],
      collect() {
        this.set(sum(clicks, (c) => c.buffered));
      },
    });
    const clickCounter = (name: string, help: string, of: (tally: ClickTally) => number) =>
      new Counter({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.reset();
          this.inc(sum(clicks, of));
        },
      });
    clickCounter(
      'shortener_clicks_published_total',
      'Clicks the broker confirmed',
      (c) => c.published,
    );
    clickCounter(
      'shortener_clicks_dropped_total',
      'Clicks dropped: the buffer was full or stopping',
      (c) => c.dropped,
    );
    clickCounter(
      'shortener_click_publish_failures_total',
      'Rounds of click publishing that failed and were retried',
      (c) => c.publishFailures,
    );
    new Gauge({
      name: 'shortener_worker_id_lease_valid',
      help: 'Whether the part holds a confirmed worker-id lease (1) or may not issue ids (0)',
      labelNames: ['part', 'worker_id'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [part, lease] of leases) {
          this.set({ part, worker_id: String(lease.workerId) }, lease.isValid() ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: 'shortener_bus_queue_messages',
      help: "Messages ready in a consumer's queue: the consumer's lag",
      labelNames: ['consumer'] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        const depths = await Promise.all(queues.map((depth) => depth().catch(() => new Map())));
        for (const byConsumer of depths) {
          for (const [consumer, ready] of byConsumer) this.set({ consumer }, ready);
        }
      },
    });
  }

  /** Counts a redirect path's answers (its fields are bumped by the path itself). */
  watchRedirects(tally: RedirectTally): void {
    this.#redirects.push(tally);
  }

  watchClicks(tally: ClickTally): void {
    this.#clicks.push(tally);
  }

  watchInserts(tally: InsertTally): void {
    this.#inserts.push(tally);
  }

  watchCache(name: string, tally: CacheTally): void {
    const tallies = this.#caches.get(name) ?? [];
    tallies.push(tally);
    this.#caches.set(name, tallies);
  }

  /** A part's worker-id lease (`link`, `gateway`); a part started again replaces its old one. */
  watchLease(part: string, lease: LeaseView): void {
    this.#leases.set(part, lease);
  }

  watchQueues(depths: QueueDepths): () => void {
    this.#queues.push(depths);
    return () => {
      const index = this.#queues.indexOf(depths);
      if (index >= 0) this.#queues.splice(index, 1);
    };
  }
}
