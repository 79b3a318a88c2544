// Starts the whole mesh for a test, in either flavour: on the machine's MariaDB
// and Redis (fresh databases and key prefix per mesh, dropped afterwards), or
// on the embedded default (SQLite files and in-process state). Ports are
// chosen by the OS.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { type RunningGateway, startGateway } from '../../gateway/main.ts';
import type { Logger } from '../../lib/log.ts';
import { loadMeshConfig, type MeshConfig, type RunningMesh, startMesh } from '../../mesh.ts';
import { MYSQL_URL, REDIS_URL, uniqueName } from './env.ts';

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

export async function dropDatabases(names: string[]): Promise<void> {
  const connection = await createConnection({ uri: MYSQL_URL });
  try {
    for (const name of names) await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
  } finally {
    await connection.end();
  }
}

/** Configuration for a test mesh: env overrides win over the flavour's defaults. */
export function testConfig(flavour: MeshFlavour, env: Record<string, string> = {}) {
  const name = uniqueName('mesh');
  const databases = [`${name}_link`, `${name}_identity`];
  const dataDir = flavour === 'embedded' ? mkdtempSync(join(tmpdir(), 'mesh-')) : '';
  const base: Record<string, string> = {
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    LINK_GRPC_LISTEN: '127.0.0.1:0',
    IDENTITY_GRPC_LISTEN: '127.0.0.1:0',
    GATEWAY_LISTEN: '127.0.0.1:0',
    SHUTDOWN_TIMEOUT: '5s',
    ...(flavour === 'mysql+redis'
      ? {
          LINK_DATABASE_URL: `${MYSQL_URL}/${databases[0]}`,
          IDENTITY_DATABASE_URL: `${MYSQL_URL}/${databases[1]}`,
          REDIS_URL,
          REDIS_KEY_PREFIX: `${name}:`,
        }
      : { DATA_DIR: dataDir }),
  };
  const config = loadMeshConfig({ ...base, ...env });
  const cleanup = async () => {
    if (flavour === 'mysql+redis') await dropDatabases(databases);
    else rmSync(dataDir, { recursive: true, force: true });
  };
  return { config, cleanup };
}

export async function startTestMesh(
  flavour: MeshFlavour,
  env: Record<string, string> = {},
): Promise<TestMesh> {
  const { config, cleanup } = testConfig(flavour, env);
  const mesh = await startMesh(config);
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

/** A gateway on its own, configured from `env` as its process would be. */
export function startGatewayWith(
  env: Record<string, string>,
  log: Logger,
): Promise<RunningGateway> {
  const config = loadMeshConfig(env);
  return startGateway(config.gateway, config, log);
}
