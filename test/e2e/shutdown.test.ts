// Stopping drains: work already accepted finishes, new work is refused, and a
// SIGTERM ends the process cleanly.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { found, startFakeLinkService, startGatewayFor } from '../support/fake-link-service.ts';
import { linkClientForTest } from '../support/grpc.ts';
import { freePort } from '../support/ports.ts';
import { startNode } from '../support/processes.ts';
import { sleep, within } from '../support/wait.ts';

/** A link service that takes `delayMs` to resolve anything (always to the same target). */
const slowLinkService = (delayMs: number) =>
  startFakeLinkService({ delayMs, resolve: () => found('https://example.com/slow') });

describe('draining', () => {
  test('when the gateway stops with redirects in flight, then they all finish and new ones are refused', async () => {
    const link = await slowLinkService(400);
    const gateway = await startGatewayFor(link, { NEAR_CACHE_SIZE: '0' });
    try {
      const inFlight = Array.from({ length: 20 }, (_, i) =>
        fetch(`${gateway.url}/code${i}`, { redirect: 'manual' }).then((r) => r.status),
      );
      // In flight: every request has reached the link service (the machine may be slow to get there).
      await within(5_000, () => link.calls.flat().length === 20);
      const stopping = gateway.stop();
      const statuses = await Promise.all(inFlight);
      expect(statuses).toEqual(Array(20).fill(302));
      await stopping;
      await expect(fetch(`${gateway.url}/late`, { redirect: 'manual' })).rejects.toThrow();
    } finally {
      await link.server.shutdown(1_000);
    }
  });

  test('when a gateway with a drain delay is stopped, then /readyz fails at once while redirects are still answered, and only after the delay are requests refused', async () => {
    const link = await slowLinkService(0);
    const gateway = await startGatewayFor(link, {
      NEAR_CACHE_SIZE: '0',
      GATEWAY_DRAIN_DELAY: '1s',
    });
    try {
      expect((await fetch(`${gateway.url}/readyz`)).status).toBe(200);
      const startedAt = performance.now();
      const stopping = gateway.stop();
      const ready = await fetch(`${gateway.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ code: 'shutting_down' });
      // Draining: a balancer that has not noticed yet still gets its redirects.
      const during = await fetch(`${gateway.url}/during`, { redirect: 'manual' });
      expect(during.status).toBe(302);
      expect(during.headers.get('location')).toBe('https://example.com/slow');
      await stopping;
      expect(performance.now() - startedAt).toBeGreaterThanOrEqual(950);
      await expect(fetch(`${gateway.url}/late`, { redirect: 'manual' })).rejects.toThrow();
    } finally {
      await link.server.shutdown(1_000);
    }
  });

  test('when a gRPC server shuts down with a call in flight, then the call completes and later calls fail', async () => {
    const link = await slowLinkService(300);
    const client = linkClientForTest(link.address, 5_000);
    const call = client.resolveLinks({ items: [{ code: 'abc', head: false }] });
    await sleep(100);
    const shutdown = link.server.shutdown(5_000);
    const answer = await call;
    expect(answer.results[0]?.targetUrl).toBe('https://example.com/slow');
    await shutdown;
    await expect(client.resolveLinks({ items: [] })).rejects.toMatchObject({ kind: 'unavailable' });
  });

  test('when the mesh process gets SIGTERM, then it drains and exits 0', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sigterm-'));
    const gatewayPort = await freePort();
    const mesh = startNode(['--import', './lib/telemetry/preload.ts', 'mesh.ts'], {
      ...process.env,
      DATA_DIR: dataDir,
      GATEWAY_LISTEN: `127.0.0.1:${gatewayPort}`,
      LINK_GRPC_LISTEN: `127.0.0.1:${await freePort()}`,
      IDENTITY_GRPC_LISTEN: `127.0.0.1:${await freePort()}`,
      ANALYTICS_GRPC_LISTEN: `127.0.0.1:${await freePort()}`,
      NOTIFIER_GRPC_LISTEN: `127.0.0.1:${await freePort()}`,
      MESH_METRICS_LISTEN: '127.0.0.1:0',
      LOG_LEVEL: 'info',
    });
    try {
      await within(15_000, () =>
        fetch(`http://127.0.0.1:${gatewayPort}/readyz`).then(
          (r) => r.status === 200,
          () => false,
        ),
      ).catch(() => {
        throw new Error(`mesh did not become ready:\n${mesh.stdout()}`);
      });
      mesh.child.kill('SIGTERM');
      const { code } = await mesh.exited;
      expect(code).toBe(0);
      expect(mesh.stdout()).toMatch(/"msg":"stopped"/);
    } finally {
      if (mesh.child.exitCode === null) mesh.child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
