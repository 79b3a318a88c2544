// Composition root of the identity service: its stores, the password hasher,
// the mail port, the link service it hands links over to, the domain they
// serve, the handover actor, and its gRPC handlers. The shared wiring is
// lib/service.ts.
import { Supervisor } from '../../lib/actors/supervisor.ts';
import { BroadcastRevocations } from '../../lib/auth/revocations.ts';
import { runServiceProcess, type ServiceDefinition } from '../../lib/service.ts';
import { type IdentityConfig, identitySettings } from './config.ts';
import type { AccountMail } from './domain/account-mail.ts';
import type { MemberDeps } from './domain/members.ts';
import { PasswordHasher } from './domain/passwords.ts';
import { identityServiceBinding } from './grpc.ts';
import { LinkServiceMemberLinks } from './links/link-client.ts';
import { BusAccountMail } from './mail/bus-account-mail.ts';
import { AccountStore } from './store/account-store.ts';
import { ApiKeyStore } from './store/api-key-store.ts';
import { IdentityStore } from './store/identity-store.ts';
import { identitySchema } from './store/schema.ts';
import { startLinkHandovers } from './workers/link-handovers.ts';

export interface IdentityOptions {
  /** Where account mails go: events on the bus for the notifier unless given (tests capture them). */
  mail?: AccountMail;
  /** How often handovers link could not take are retried (5 s unless given). */
  handoverIntervalMs?: number;
}

export function defineIdentityService(
  options: IdentityOptions = {},
): ServiceDefinition<IdentityConfig> {
  return {
    name: 'identity',
    settings: identitySettings,
    schema: identitySchema,
    issuesIds: true,
    async start({ runtime, log, shared, orm, ids, bus, onStop }, config) {
      const now = Date.now;
      const store = new IdentityStore(orm);
      const links = new LinkServiceMemberLinks(config.linkTarget, runtime.grpcDeadlineMs);
      onStop('link client', async () => links.close());
      const revocations = new BroadcastRevocations(shared.broadcast, log);
      onStop('revocation announcer', async () => revocations.stop());
      const passwords = new PasswordHasher();
      await passwords.warm();
      const members: MemberDeps = {
        store,
        accounts: new AccountStore(orm),
        apiKeys: new ApiKeyStore(orm),
        limiter: shared.limiter,
        ids,
        passwords,
        mail: options.mail ?? new BusAccountMail({ bus, nextEventId: () => ids.next(), now }),
        links,
        rules: config.accounts,
        log,
        now,
        revocations,
      };
      const supervisor = new Supervisor({ log });
      onStop('actors', () => supervisor.stop());
      startLinkHandovers(supervisor, members, {
        intervalMs: options.handoverIntervalMs ?? 5_000,
      });
      const binding = identityServiceBinding(
        {
          guests: {
            store,
            limiter: shared.limiter,
            ids,
            guestsPerIp: config.guestsPerIp,
            tokenTtlMs: config.guestTokenTtlMs,
            now,
          },
          members,
        },
        log,
      );
      return [binding];
    },
  };
}

export const identityService = defineIdentityService();

if (import.meta.main) await runServiceProcess(identityService);
