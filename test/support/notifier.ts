// The notifier on its own, as its process runs it (lib/service.ts), for the
// mail stories: on RabbitMQ and MariaDB (a topology and a database of its own,
// removed afterwards) or on the embedded default (the in-process bus, SQLite
// and the outbox folder in a temporary data directory). The test publishes
// identity's events on the same bus and reads what the notifier did.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  EmailVerificationRequested,
  PasswordResetRequested,
} from '../../gen/shortener/v1/events.ts';
import { EVENTS } from '../../lib/bus/catalog.ts';
import { busSettings } from '../../lib/bus/config.ts';
import { topologyOf } from '../../lib/bus/open.ts';
import { type ConfigOf, loadConfig } from '../../lib/config/load.ts';
import { createLogger } from '../../lib/log.ts';
import {
  type Infrastructure,
  openInfrastructure,
  type RunningService,
  startService,
} from '../../lib/service.ts';
import { notifierService } from '../../services/notifier/main.ts';
import { removeTopology } from './bus.ts';
import { dropDatabases } from './databases.ts';
import { MYSQL_URL, RABBITMQ_URL, uniqueName } from './env.ts';

export type NotifierFlavour = 'rabbitmq+mysql' | 'embedded';

const SETTINGS = { notifier: notifierService.settings, bus: busSettings };
export type NotifierTestConfig = ConfigOf<typeof SETTINGS>;

export interface TestNotifier extends Infrastructure {
  config: NotifierTestConfig;
  service: RunningService;
  dataDir: string;
  /** Stops it; unless `keep`, removes its database, topology and data folder too. */
  stop(options?: { keep?: boolean }): Promise<void>;
}

/** What a notifier started after `previous` needs to take over its database and queues. */
export function takeOver(previous: TestNotifier): Record<string, string> {
  return {
    NOTIFIER_DATABASE_URL: previous.config.notifier.databaseUrl,
    BUS_EXCHANGE: previous.config.bus.exchange,
    BUS_QUEUE_PREFIX: previous.config.bus.queuePrefix,
  };
}

/** Starts a notifier; `env` overrides the flavour's settings (NOTIFIER_SMTP_URL, BUS_RETRY_*…). */
export async function startTestNotifier(
  flavour: NotifierFlavour,
  env: Record<string, string> = {},
  options: { waitUntilReady?: boolean } = {},
): Promise<TestNotifier> {
  const name = uniqueName('notifier');
  const dataDir = mkdtempSync(join(tmpdir(), 'notifier-'));
  const config = loadConfig(SETTINGS, {
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    DATA_DIR: dataDir,
    NOTIFIER_GRPC_LISTEN: '127.0.0.1:0',
    NOTIFIER_PUBLIC_BASE_URL: 'https://sho.rt.example',
    SHUTDOWN_TIMEOUT: '5s',
    BUS_RETRY_ATTEMPTS: '3',
    BUS_RETRY_DELAY: '100ms',
    BUS_RETRY_MAX_DELAY: '200ms',
    ...(flavour === 'rabbitmq+mysql'
      ? {
          NOTIFIER_DATABASE_URL: `${MYSQL_URL}/${name}`,
          RABBITMQ_URL,
          BUS_EXCHANGE: `${name}.events`,
          BUS_QUEUE_PREFIX: `${name}.`,
        }
      : {}),
    ...env,
  });
  const log = createLogger('notifier', config.logLevel);
  const infrastructure = await openInfrastructure(config, config.bus, log, 'notifier');
  const service = await startService(notifierService, config.notifier, config, log, infrastructure);
  if (options.waitUntilReady ?? true) await service.ready;
  let stopped = false;
  return {
    ...infrastructure,
    config,
    service,
    dataDir,
    async stop({ keep = false } = {}) {
      if (stopped) return;
      stopped = true;
      await service.stop();
      await infrastructure.close();
      if (keep) return;
      if (flavour === 'rabbitmq+mysql') {
        await removeTopology(topologyOf(config.bus));
        const database = new URL(config.notifier.databaseUrl).pathname.slice(1);
        if (database) await dropDatabases([database]);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

let nextEventId = 7_300_000_000_000_000_001n; // above 2^53: ids must survive exactly

export interface TokenEvent {
  eventId: string;
  userId: string;
  email: string;
  token: string;
  expiresAt: Date;
  occurredAt: Date;
}

/** An event as identity would publish it; fields may be overridden. */
export function tokenEvent(overrides: Partial<TokenEvent> = {}): TokenEvent {
  nextEventId += 2n;
  return {
    eventId: String(nextEventId),
    userId: '700000000000000123',
    email: 'ada@example.com',
    token: `tok_${nextEventId.toString(36)}-Zz_9`,
    expiresAt: new Date(Date.now() + 30 * 60_000),
    occurredAt: new Date(),
    ...overrides,
  };
}

export type TokenEventKind = 'password_reset' | 'email_verification';

export const ROUTING_KEYS: Record<TokenEventKind, string> = {
  password_reset: EVENTS.passwordResetRequested,
  email_verification: EVENTS.emailVerificationRequested,
};

export function encodeTokenEvent(kind: TokenEventKind, event: TokenEvent): Uint8Array {
  const message = kind === 'password_reset' ? PasswordResetRequested : EmailVerificationRequested;
  return message.encode(event).finish();
}

/** Publishes an event of `kind` on the bus, confirmed. */
export async function publishTokenEvent(
  bus: Infrastructure['bus'],
  kind: TokenEventKind,
  event: TokenEvent,
): Promise<void> {
  await bus.publish(ROUTING_KEYS[kind], encodeTokenEvent(kind, event));
}
