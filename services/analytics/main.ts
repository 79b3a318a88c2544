// Composition root of the analytics service: its store and ranking, the
// visit recorder and ranking counter (actors fed by their link.clicked
// queues), the link service it asks about ownership, and its gRPC handlers. The shared wiring
// is lib/service.ts.

import { Supervisor } from '../../lib/actors/supervisor.ts';
import { CONSUMERS } from '../../lib/bus/catalog.ts';
import { dialectOf } from '../../lib/db/migrations.ts';
import { openReplica } from '../../lib/db/open.ts';
import type { Logger } from '../../lib/log.ts';
import { createRedis } from '../../lib/redis/client.ts';
import { runServiceProcess, type ServiceDefinition } from '../../lib/service.ts';
import { type AnalyticsConfig, analyticsSettings } from './config.ts';
import { RankingCounter } from './domain/count-ranking.ts';
import { DaySummaries } from './domain/day-summaries.ts';
import { VisitRecorder } from './domain/record-visits.ts';
import { TopLinks } from './domain/top-links.ts';
import { analyticsServiceBinding } from './grpc.ts';
import { LinkServiceOwnedLinks } from './links/link-client.ts';
import { MemoryRanking } from './ranking/memory-ranking.ts';
import type { Ranking } from './ranking/ranking.ts';
import { RedisRanking } from './ranking/redis-ranking.ts';
import { analyticsSchema } from './store/schema.ts';
import { VisitStore } from './store/visit-store.ts';
import { consumeClicks } from './workers/click-consumers.ts';
import { consumeExpiredLinks } from './workers/expired-links.ts';

/** What the `link.clicked` consumers call with each batch of clicks (wired with the bus). */
export interface ClickConsumers {
  visits: VisitRecorder;
  ranking: RankingCounter;
}

export interface AnalyticsOptions {
  /** The service's clock (tests set one); Date.now otherwise. */
  now?: () => number;
  /** Handed the consumers of each instance once it has started: for tests, until the bus delivers clicks. */
  started?(consumers: ClickConsumers): void;
}

export function defineAnalyticsService(
  options: AnalyticsOptions = {},
): ServiceDefinition<AnalyticsConfig> {
  const now = options.now ?? Date.now;
  return {
    name: 'analytics',
    settings: analyticsSettings,
    schema: analyticsSchema,
    async start({ runtime, log, orm, bus, onStop, yieldGate, metrics }, config) {
      const replica = config.databaseReplicaUrl
        ? openReplica(config.databaseReplicaUrl, analyticsSchema)
        : undefined;
      if (replica) onStop('read replica', () => replica.close());
      const store = new VisitStore(orm, dialectOf(config.databaseUrl), replica);
      const links = new LinkServiceOwnedLinks(config.linkTarget, runtime.grpcDeadlineMs);
      onStop('link client', async () => links.close());
      const ranking = openRanking(config, { ...runtime, now }, log, onStop);
      const visits = new VisitRecorder(store, { prefixes: config.prefixes });
      const counter = new RankingCounter(ranking);
      const supervisor = new Supervisor({ log });
      onStop('actors', () => supervisor.stop());
      consumeClicks(
        CONSUMERS.visitRecorder.name,
        (clicks) => visits.record(clicks),
        { bus, onStop, yieldGate, metrics },
        supervisor,
      );
      consumeClicks(
        CONSUMERS.rankingCounter.name,
        (clicks) => counter.record(clicks),
        { bus, onStop, yieldGate, metrics },
        supervisor,
      );
      consumeExpiredLinks(config.expiredVisits, store, { bus, onStop }, supervisor);
      options.started?.({ visits, ranking: counter });
      const binding = analyticsServiceBinding(
        {
          stats: { store, links, summaries: new DaySummaries(), now },
          topLinks: new TopLinks({ ranking, links, cacheTtlMs: config.topLinksCacheTtlMs, now }),
        },
        log,
      );
      return [binding];
    },
  };
}

export const analyticsService = defineAnalyticsService();

/** Redis when the mesh shares it (every replica counts into the same buckets); else in process. */
function openRanking(
  config: AnalyticsConfig,
  runtime: { redisUrl: string; redisKeyPrefix: string; redisCluster: boolean; now: () => number },
  log: Logger,
  onStop: (name: string, stop: () => Promise<void>) => void,
): Ranking {
  const options = { dedupHorizonMs: config.rankingDedupHorizonMs, now: runtime.now };
  if (!runtime.redisUrl) return new MemoryRanking(options);
  const redis = createRedis({
    url: runtime.redisUrl,
    log,
    name: 'analytics:ranking',
    cluster: runtime.redisCluster,
  });
  onStop('ranking redis', async () => {
    await redis.quit().catch(() => redis.disconnect());
  });
  return new RedisRanking(redis, runtime.redisKeyPrefix, options);
}

if (import.meta.main) await runServiceProcess(analyticsService);
