// Composition root of the link service: its store, cache and change feed,
// the domain they serve, the last-access toucher (an actor fed by its
// link.clicked queue), and its gRPC handlers. Everything every service
// shares (database, worker id, gRPC server, stopping) is lib/service.ts.
import { Supervisor } from '../../lib/actors/supervisor.ts';
import { ThrottledLog } from '../../lib/log.ts';
import { runServiceProcess, type ServiceDefinition } from '../../lib/service.ts';
import { LinkChanges } from './changes/link-changes.ts';
import { type LinkConfig, linkSettings } from './config.ts';
import { adoptGuestLinks } from './domain/owner-links.ts';
import { LinkResolver } from './domain/resolve-links.ts';
import { linkServiceBinding } from './grpc.ts';
import { LinkCache } from './store/link-cache.ts';
import { LinkStore } from './store/link-store.ts';
import { linkSchema } from './store/schema.ts';
import { startLastAccessToucher } from './workers/last-access-toucher.ts';

export const linkService: ServiceDefinition<LinkConfig> = {
  name: 'link',
  settings: linkSettings,
  schema: linkSchema,
  issuesIds: true,
  async start({ log, shared, orm, ids, bus, onStop }, config) {
    const now = Date.now;
    const store = new LinkStore(orm);
    const cache = new LinkCache(shared.cache, {
      ttlMs: config.cacheTtlMs,
      negativeTtlMs: config.negativeCacheTtlMs,
      log,
    });
    const changes = new LinkChanges(shared.broadcast, log);
    changes.start();
    const supervisor = new Supervisor({ log });
    onStop('actors', () => supervisor.stop());
    startLastAccessToucher({ bus, onStop }, supervisor, store, {
      intervalMs: config.lastAccessIntervalMs,
      now,
    });
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
          adopt: (guestId, memberId) => adoptGuestLinks(manage, guestId, memberId),
          now,
        },
        manage,
        resolver: new LinkResolver(store, cache, {
          now,
          onFailure: (error) =>
            warnings.warn(
              'database',
              { cause: (error as Error).message },
              'database reads failing; affected codes answer unavailable',
            ),
        }),
        changes,
      },
      log,
    );
    return [binding];
  },
};

if (import.meta.main) await runServiceProcess(linkService);
