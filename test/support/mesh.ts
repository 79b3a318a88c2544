// Starts the whole mesh for a test, in either flavour: on the machine's MariaDB
// and Redis (fresh databases and key prefix per mesh, dropped afterwards), or
// on the embedded default (SQLite files and in-process state). Ports are
// chosen by the OS.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { topologyOf } from '../../lib/bus/open.ts';
import {
  loadMeshConfig,
  type MeshConfig,
  type MeshOptions,
  type RunningMesh,
  startMesh,
} from '../../mesh.ts';
import { removeTopology } from './bus.ts';
import { dropDatabases } from './databases.ts';
import { MYSQL_URL, RABBITMQ_URL, REDIS_URL, uniqueName } from './env.ts';
import { suiteResource } from './suite.ts';

export type MeshFlavour = 'mysql+redis' | 'embedded';
export const MESH_FLAVOURS: MeshFlavour[] = ['mysql+redis', 'embedded'];

export interface TestMesh {
  flavour: MeshFlavour;
  url: string;
  config: MeshConfig;
  mesh: RunningMesh;
  /** The link service's database URL, for tests that look at the stored state. */
  linkDatabaseUrl: string;
  stop(): Promise<void>;
}

/** Configuration for a test mesh: env overrides win over the flavour's defaults. */
export function testConfig(flavour: MeshFlavour, env: Record<string, string> = {}) {
  const name = uniqueName('mesh');
  const databases = [`${name}_link`, `${name}_identity`, `${name}_analytics`, `${name}_notifier`];
  // Also on MariaDB: the notifier's outbox (no SMTP server unless a test names one).
  const dataDir = mkdtempSync(join(tmpdir(), 'mesh-'));
  const base: Record<string, string> = {
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    LINK_GRPC_LISTEN: '127.0.0.1:0',
    IDENTITY_GRPC_LISTEN: '127.0.0.1:0',
    ANALYTICS_GRPC_LISTEN: '127.0.0.1:0',
    NOTIFIER_GRPC_LISTEN: '127.0.0.1:0',
    GATEWAY_LISTEN: '127.0.0.1:0',
    MESH_METRICS_LISTEN: '127.0.0.1:0',
    SHUTDOWN_TIMEOUT: '5s',
    ...(flavour === 'mysql+redis'
      ? {
          LINK_DATABASE_URL: `${MYSQL_URL}/${databases[0]}`,
          IDENTITY_DATABASE_URL: `${MYSQL_URL}/${databases[1]}`,
          ANALYTICS_DATABASE_URL: `${MYSQL_URL}/${databases[2]}`,
          NOTIFIER_DATABASE_URL: `${MYSQL_URL}/${databases[3]}`,
          NOTIFIER_OUTBOX_DIR: join(dataDir, 'outbox'),
          REDIS_URL,
          REDIS_KEY_PREFIX: `${name}:`,
          RABBITMQ_URL,
          BUS_EXCHANGE: `${name}.events`,
          BUS_QUEUE_PREFIX: `${name}.`,
        }
      : { DATA_DIR: dataDir }),
  };
  const config = loadMeshConfig({ ...base, ...env });
  const cleanup = async () => {
    if (flavour === 'mysql+redis') {
      await dropDatabases(databases);
      await removeTopology(topologyOf(config.bus));
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { config, cleanup };
}

export type TestMeshOptions = MeshOptions;

export async function startTestMesh(
  flavour: MeshFlavour,
  env: Record<string, string> = {},
  options: MeshOptions = {},
): Promise<TestMesh> {
  const { config, cleanup } = testConfig(flavour, env);
  const mesh = await startMesh(config, options);
  return {
    flavour,
    url: mesh.gateway.url,
    config,
    mesh,
    linkDatabaseUrl: config.link.databaseUrl,
    async stop() {
      await mesh.stop();
      await cleanup();
    },
  };
}

/** A test mesh as a describe block sees it: started and stopped for it. */
export type SuiteMesh = Omit<TestMesh, 'stop'>;

/** A mesh of `flavour` for the enclosing describe block, started before its own hooks run. */
export function meshForSuite(
  flavour: MeshFlavour,
  env: Record<string, string> = {},
  options: MeshOptions = {},
): SuiteMesh {
  return suiteResource(
    () => startTestMesh(flavour, env, options),
    (mesh) => mesh.stop(),
    ['flavour', 'url', 'config', 'mesh', 'linkDatabaseUrl'],
  );
}
