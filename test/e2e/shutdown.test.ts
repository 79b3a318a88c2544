// Stopping drains: work already accepted finishes, new work is refused, and a
// SIGTERM ends the process cleanly.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { describe, expect, test } from 'vitest';
import {
  LinkServiceClient,
  LinkServiceService,
  type ResolveLinksRequest,
  type ResolveLinksResponse,
  ResolveStatus,
} from '../../gen/shortener/v1/link.ts';
import { connect, promiseClient } from '../../lib/grpc/client.ts';
import { unary } from '../../lib/grpc/handlers.ts';
import { startGrpcServer } from '../../lib/grpc/server.ts';
import { testLog } from '../support/logger.ts';
import { startGatewayWith } from '../support/mesh.ts';
import { freePort } from '../support/ports.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A link service that takes `delayMs` to resolve anything (always to the same target). */
async function slowLinkService(delayMs: number) {
  const implementation = {
    resolveLinks: unary<ResolveLinksRequest, ResolveLinksResponse>(
      'ResolveLinks',
      testLog,
      async (request) => {
        await sleep(delayMs);
        return {
          results: request.items.map(() => ({
            status: ResolveStatus.RESOLVE_STATUS_FOUND,
            linkId: '1',
            targetUrl: 'https://example.com/slow',
            expiresAt: undefined,
            errorCode: '',
            errorMessage: '',
          })),
        };
      },
    ),
  } as unknown as UntypedServiceImplementation;
  return startGrpcServer({
    listen: '127.0.0.1:0',
    services: [
      { name: 'shortener.v1.LinkService', definition: LinkServiceService, implementation },
    ],
    log: testLog,
  });
}

describe('draining', () => {
  test('when the gateway stops with redirects in flight, then they all finish and new ones are refused', async () => {
    const link = await slowLinkService(400);
    const gateway = await startGatewayWith(
      {
        GATEWAY_LISTEN: '127.0.0.1:0',
        LINK_GRPC_TARGET: link.address,
        IDENTITY_GRPC_TARGET: '127.0.0.1:1',
        NEAR_CACHE_SIZE: '0',
        LOG_LEVEL: 'error',
      },
      testLog,
    );
    try {
      const inFlight = Array.from({ length: 20 }, (_, i) =>
        fetch(`${gateway.url}/code${i}`, { redirect: 'manual' }).then((r) => r.status),
      );
      await sleep(100);
      const stopping = gateway.stop();
      const statuses = await Promise.all(inFlight);
      expect(statuses).toEqual(Array(20).fill(302));
      await stopping;
      await expect(fetch(`${gateway.url}/late`, { redirect: 'manual' })).rejects.toThrow();
    } finally {
      await link.shutdown(1_000);
    }
  });

  test('when a gRPC server shuts down with a call in flight, then the call completes and later calls fail', async () => {
    const link = await slowLinkService(300);
    const client = promiseClient(
      connect(LinkServiceClient, link.address, 5_000),
      LinkServiceService,
    );
    const call = client.resolveLinks({ items: [{ code: 'abc', head: false }] });
    await sleep(100);
    const shutdown = link.shutdown(5_000);
    const answer = await call;
    expect(answer.results[0]?.targetUrl).toBe('https://example.com/slow');
    await shutdown;
    await expect(client.resolveLinks({ items: [] })).rejects.toMatchObject({ kind: 'unavailable' });
  });

  test('when the mesh process gets SIGTERM, then it drains and exits 0', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sigterm-'));
    const gatewayPort = await freePort();
    const child = spawn(process.execPath, ['--import', './lib/telemetry/preload.ts', 'mesh.ts'], {
      cwd: new URL('../..', import.meta.url).pathname,
      env: {
        ...process.env,
        DATA_DIR: dataDir,
        GATEWAY_LISTEN: `127.0.0.1:${gatewayPort}`,
        LINK_GRPC_LISTEN: `127.0.0.1:${await freePort()}`,
        IDENTITY_GRPC_LISTEN: `127.0.0.1:${await freePort()}`,
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    try {
      for (let i = 0; ; i++) {
        const ready = await fetch(`http://127.0.0.1:${gatewayPort}/readyz`).then(
          (r) => r.status === 200,
          () => false,
        );
        if (ready) break;
        if (i > 200) throw new Error(`mesh did not become ready:\n${output}`);
        await sleep(50);
      }
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code).toBe(0);
      expect(output).toMatch(/"msg":"stopped"/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
