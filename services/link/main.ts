// Composition root of the link service: its store, cache and change feed,
// the domain they serve, the last-access toucher (an actor fed by its
// link.clicked queue), and its gRPC handlers. Everything every service
// shares (database, worker id, gRPC server, stopping) is lib/service.ts.
import { Supervisor } from '../../lib/actors/supervisor.ts';
import { ThrottledLog } from '../../lib/log.ts';
import { runServiceProcess, type ServiceDefinition } from '../../lib/service.ts';
import { LinkChanges } from './changes/link-changes.ts';
import { type LinkConfig, linkSettings } from './config.ts';
import { ExtendTokens } from './domain/extend-token.ts';
import { LinkResolver } from './domain/resolve-links.ts';
import { linkServiceBinding } from './grpc.ts';
import { ExpiryStore } from './store/expiry-store.ts';
import { LinkCache } from './store/link-cache.ts';
import { LinkStore } from './store/link-store.ts';
import { linkSchema } from './store/schema.ts';
import { ExpiryNoticeScheduler } from './workers/expiry-notices.ts';
import { startLastAccessToucher } from './workers/last-access-toucher.ts';
import { Sweeper } from './workers/sweeper.ts';

export const linkService: ServiceDefinition<LinkConfig> = {
  name: 'link',
  settings: linkSettings,
  schema: linkSchema,
  issuesIds: true,
  async start({ log, shared, orm, ids, bus, onStop, now, metrics, yieldGate }, config) {
    const { idleMs } = config.expiry;
    const inserts = { shared: 0, single: 0 };
    metrics.watchInserts(inserts);
    const store = new LinkStore(orm, { tally: inserts, log });
    const expiry = new ExpiryStore(orm);
    const cacheTally = { hits: 0, misses: 0 };
    metrics.watchCache('link', cacheTally);
    const cache = new LinkCache(shared.cache, {
      tally: cacheTally,
      ttlMs: config.cacheTtlMs,
      negativeTtlMs: config.negativeCacheTtlMs,
      log,
      idleMs,
      now,
    });
    const changes = new LinkChanges(shared.broadcast, log);
    changes.start();
    const supervisor = new Supervisor({ log });
    onStop('actors', () => supervisor.stop());
    startLastAccessToucher({ bus, onStop, yieldGate, metrics }, supervisor, store, {
      intervalMs: config.lastAccessIntervalMs,
      now,
    });
    if (!config.expiry.extendTokenSecret) {
      // Right for one process (the embedded mesh); wrong for several instances.
      log[shared.kind === 'memory' ? 'info' : 'warn'](
        'LINK_EXTEND_TOKEN_SECRET is not set: extend tokens are signed with a random secret and work only on this instance until it stops',
      );
    }
    const tokens = new ExtendTokens(config.expiry.extendTokenSecret);
    // --- Expiry: the sweeper and the notice scheduler, each an actor on a timer ---
    // Unwound before the actors: a sweep in progress ends after its chunks in flight.
    const stopping = new AbortController();
    onStop('sweep', () => stopping.abort());
    const sweeper = supervisor.spawn(
      'link.sweeper',
      () =>
        new Sweeper(
          { expiry, cache, visits: shared.visits, changes, bus, log, metrics },
          {
            idleMs,
            chunk: config.expiry.sweepChunk,
            parallel: config.expiry.sweepParallel,
            ratePerSecond: config.expiry.sweepRate,
            signal: stopping.signal,
            now,
          },
        ),
      { mailbox: 1 },
    );
    supervisor.every(
      sweeper,
      config.expiry.sweepIntervalMs,
      () => 'sweep' as const,
      config.expiry.sweepDelayMs,
    );
    const notices = supervisor.spawn(
      'link.expiry-notices',
      () =>
        new ExpiryNoticeScheduler(
          { expiry, bus, tokens, nextEventId: () => ids.next() },
          {
            idleMs,
            windowMs: config.expiry.noticeWindowMs,
            leaseMs: config.expiry.noticeLeaseMs,
            extendPageUrl: config.expiry.extendPageUrl,
            now,
          },
        ),
      { mailbox: 1 },
    );
    supervisor.every(notices, config.expiry.noticeIntervalMs, () => 'notice' as const);
    const manage = { store, cache, changes, now };
    const warnings = new ThrottledLog(log);
    const binding = linkServiceBinding(
      {
        create: {
          store,
          cache,
          limiter: shared.limiter,
          ids,
          policy: {
            maxLength: config.maxUrlLength,
            allowPrivateTargets: config.allowPrivateTargets,
          },
          codeLength: config.codeLength,
          limits: { perPrincipal: config.createPerPrincipal, perIp: config.createPerIp },
          now,
          idleMs,
        },
        manage,
        resolver: new LinkResolver(store, cache, {
          now,
          idleMs,
          visits: shared.visits,
          markExhausted: (id, at) => expiry.markExhausted(id, at),
          onFailure: (error) =>
            warnings.warn(
              'database',
              { cause: (error as Error).message },
              'database reads failing; affected codes answer unavailable',
            ),
        }),
        changes,
        extend: {
          store,
          expiry,
          cache,
          changes,
          tokens,
          now,
          idleMs,
          extendDefaultMs: config.expiry.extendDefaultMs,
          extendMaxMs: config.expiry.extendMaxMs,
          visits: shared.visits,
        },
      },
      log,
    );
    return [binding];
  },
};

if (import.meta.main) await runServiceProcess(linkService);
