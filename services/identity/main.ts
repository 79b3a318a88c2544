// Composition root of the identity service: its store, the domain it serves
// and its gRPC handlers. The shared wiring is lib/service.ts.
import { runServiceProcess, type ServiceDefinition } from '../../lib/service.ts';
import { type IdentityConfig, identitySettings } from './config.ts';
import { identityServiceBinding } from './grpc.ts';
import { IdentityStore } from './store/identity-store.ts';
import { identitySchema } from './store/schema.ts';

export const identityService: ServiceDefinition<IdentityConfig> = {
  name: 'identity',
  settings: identitySettings,
  schema: identitySchema,
  issuesIds: true,
  async start({ log, shared, orm, ids }, config) {
    const binding = identityServiceBinding(
      {
        store: new IdentityStore(orm),
        limiter: shared.limiter,
        ids,
        guestsPerIp: config.guestsPerIp,
        tokenTtlMs: config.guestTokenTtlMs,
        now: Date.now,
      },
      log,
    );
    return [binding];
  },
};

if (import.meta.main) await runServiceProcess(identityService);
