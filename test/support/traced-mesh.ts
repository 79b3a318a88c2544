// The mesh as separate processes, each started as `npm start:<part>` starts
// it (the telemetry preload first), on the machine's MariaDB, Redis and
// RabbitMQ (databases, key prefix and bus names of its own, removed
// afterwards), with the environment a test gives every process: the
// OpenTelemetry variables of the story.

import { busSettings } from '../../lib/bus/config.ts';
import { topologyOf } from '../../lib/bus/open.ts';
import { loadConfig } from '../../lib/config/load.ts';
import { removeTopology } from './bus.ts';
import { dropDatabases } from './databases.ts';
import { MYSQL_URL, RABBITMQ_URL, REDIS_URL, uniqueName } from './env.ts';
import { freePort } from './ports.ts';
import { type NodeProcess, startNode } from './processes.ts';
import { within } from './wait.ts';

const PARTS = {
  link: 'services/link/main.ts',
  identity: 'services/identity/main.ts',
  analytics: 'services/analytics/main.ts',
  notifier: 'services/notifier/main.ts',
  gateway: 'gateway/main.ts',
} as const;
type Part = keyof typeof PARTS;

export interface ProcessMesh {
  url: string;
  processes: Record<Part, NodeProcess>;
  /** Everything every process wrote to stderr. */
  stderr(): string;
  stop(): Promise<void>;
}

async function ready(url: string, processes: Record<Part, NodeProcess>): Promise<void> {
  await within(60_000, () =>
    fetch(`${url}/readyz`).then(
      async (answer) =>
        answer.status === 200 && ((await answer.json()) as { status: string }).status === 'ready',
      () => false,
    ),
  ).catch(() => {
    const output = Object.entries(processes)
      .map(([part, p]) => `--- ${part}\n${p.stdout()}${p.stderr()}`)
      .join('\n');
    throw new Error(`the mesh did not become ready:\n${output}`);
  });
}

/** Starts every part as a process of its own with `env` on top of its settings. */
export async function startProcessMesh(env: Record<string, string>): Promise<ProcessMesh> {
  const name = uniqueName('traced');
  const databases = ['link', 'identity', 'analytics', 'notifier'].map((p) => `${name}_${p}`);
  const [link, identity, analytics, notifier, gateway] = await Promise.all(
    Array.from({ length: 5 }, () => freePort()),
  );
  const shared: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    LOG_LEVEL: 'warn',
    SHUTDOWN_TIMEOUT: '5s',
    REDIS_URL,
    REDIS_KEY_PREFIX: `${name}:`,
    RABBITMQ_URL,
    BUS_EXCHANGE: `${name}.events`,
    BUS_QUEUE_PREFIX: `${name}.`,
    LINK_DATABASE_URL: `${MYSQL_URL}/${databases[0]}`,
    IDENTITY_DATABASE_URL: `${MYSQL_URL}/${databases[1]}`,
    ANALYTICS_DATABASE_URL: `${MYSQL_URL}/${databases[2]}`,
    NOTIFIER_DATABASE_URL: `${MYSQL_URL}/${databases[3]}`,
    LINK_GRPC_LISTEN: `127.0.0.1:${link}`,
    IDENTITY_GRPC_LISTEN: `127.0.0.1:${identity}`,
    ANALYTICS_GRPC_LISTEN: `127.0.0.1:${analytics}`,
    NOTIFIER_GRPC_LISTEN: `127.0.0.1:${notifier}`,
    GATEWAY_LISTEN: `127.0.0.1:${gateway}`,
    LINK_GRPC_TARGET: `127.0.0.1:${link}`,
    IDENTITY_GRPC_TARGET: `127.0.0.1:${identity}`,
    ANALYTICS_GRPC_TARGET: `127.0.0.1:${analytics}`,
    IDENTITY_LINK_GRPC_TARGET: `127.0.0.1:${link}`,
    ANALYTICS_LINK_GRPC_TARGET: `127.0.0.1:${link}`,
    NOTIFIER_IDENTITY_GRPC_TARGET: `127.0.0.1:${identity}`,
    PUBLIC_BASE_URL: `http://127.0.0.1:${gateway}`,
    ...env,
  };
  const start = (part: Part) =>
    startNode(['--import', './lib/telemetry/preload.ts', PARTS[part]], shared);
  // Link first: the others dial it.
  const processes = { link: start('link') } as Record<Part, NodeProcess>;
  for (const part of ['identity', 'analytics', 'notifier', 'gateway'] as const) {
    processes[part] = start(part);
  }
  const url = `http://127.0.0.1:${gateway}`;
  const stop = async () => {
    const order: Part[] = ['gateway', 'notifier', 'analytics', 'identity', 'link'];
    for (const part of order) {
      const child = processes[part].child;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await processes[part].exited;
    }
    await dropDatabases(databases);
    const bus = loadConfig({ bus: busSettings }, shared).bus;
    await removeTopology(topologyOf(bus));
  };
  try {
    await ready(url, processes);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    processes,
    stderr: () =>
      Object.values(processes)
        .map((p) => p.stderr())
        .join(''),
    stop,
  };
}
