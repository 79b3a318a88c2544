// The embedded default on a small disk of the test's own (a tmpfs, mounted as
// root): when it fills up, writes answer 503 with the cause and readiness says
// so, redirects go on; when space is freed, writes and readiness come back by
// themselves within seconds, with no restart. The same when the data folder
// is read-only from the start: the mesh waits for it instead of exiting.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startMesh } from '../../mesh.ts';
import { call, newGuest, shorten } from '../support/http.ts';
import { startTestMesh, type TestMesh, testConfig } from '../support/mesh.ts';
import { within } from '../support/wait.ts';

/** Mounts a tmpfs of `size` at a fresh folder; throws, saying why, where mounting is refused. */
function mountSmallDisk(size: string): string {
  const folder = mkdtempSync(join(tmpdir(), 'small-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', folder], {
      stdio: 'pipe',
    });
  } catch (error) {
    throw new Error(
      `this story needs a tmpfs of its own and mounting one was refused (run as root): ${(error as Error).message}`,
    );
  }
  return folder;
}

function remount(folder: string, mode: 'ro' | 'rw'): void {
  execFileSync('mount', ['-o', `remount,${mode}`, folder], { stdio: 'pipe' });
}

function unmount(folder: string): void {
  execFileSync('umount', ['-l', folder], { stdio: 'ignore' });
  rmSync(folder, { recursive: true, force: true });
}

/** Writes filler until the disk refuses more. */
function fill(folder: string): string {
  const filler = join(folder, 'filler');
  const chunk = Buffer.alloc(64 * 1024, 1);
  for (let i = 0; ; i++) {
    try {
      writeFileSync(join(folder, `filler-${i}`), chunk);
    } catch {
      return filler;
    }
  }
}

function free(folder: string): void {
  execFileSync('sh', ['-c', `rm -f ${folder}/filler-*`]);
}

describe('the embedded default on a disk that fills up', () => {
  let disk: string;
  let mesh: TestMesh;
  let token: string;
  let code: string;

  beforeAll(async () => {
    disk = mountSmallDisk('16m');
    mesh = await startTestMesh('embedded', { DATA_DIR: join(disk, 'data') });
    token = await newGuest(mesh.url);
    const link = await shorten(mesh.url, token, 'https://example.com/before-the-disk-filled');
    code = link.body.code;
  });
  afterAll(async () => {
    await mesh?.stop();
    if (disk) unmount(disk);
  });

  test('when the disk is full, then writes answer 503 with the cause, readiness says degraded, and redirects go on; when space is freed, everything comes back without a restart', async () => {
    const ready = await call(mesh.url, 'GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({
      status: 'ready',
      checks: { link: 'ok', identity: 'ok', analytics: 'ok' },
    });

    fill(disk);
    const guest = await call(mesh.url, 'POST', '/api/v1/guests');
    expect(guest.status).toBe(503);
    expect(guest.headers.get('content-type')).toContain('application/problem+json');
    expect(guest.body.code).toBe('database_unwritable');
    const link = await shorten(mesh.url, token, 'https://example.com/while-the-disk-is-full');
    expect(link.status).toBe(503);
    expect(link.body.code).toBe('database_unwritable');

    await within(10_000, async () => {
      const answer = await call(mesh.url, 'GET', '/readyz');
      return (
        answer.status === 200 &&
        JSON.stringify(answer.body) ===
          JSON.stringify({
            status: 'degraded',
            checks: {
              link: 'database_unwritable',
              identity: 'database_unwritable',
              analytics: 'database_unwritable',
            },
          })
      );
    });
    const redirect = await call(mesh.url, 'GET', `/${code}`);
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toBe('https://example.com/before-the-disk-filled');

    free(disk);
    await within(10_000, async () => {
      const answer = await call(mesh.url, 'GET', '/readyz');
      return answer.status === 200 && String(answer.body.status) === 'ready';
    });
    expect((await call(mesh.url, 'POST', '/api/v1/guests')).status).toBe(201);
    const after = await shorten(mesh.url, token, 'https://example.com/after-space-was-freed');
    expect(after.status).toBe(201);
    expect((await call(mesh.url, 'GET', `/${after.body.code}`)).status).toBe(302);
  });
});

describe('the embedded default on a data folder that is read-only at start', () => {
  test('when the data folder is read-only, then the mesh waits for it, not ready and refusing writes; once it is writable, the mesh comes up by itself', async () => {
    const disk = mountSmallDisk('16m');
    remount(disk, 'ro');
    const { config, cleanup } = testConfig('embedded', { DATA_DIR: join(disk, 'data') });
    const mesh = await startMesh(config, { waitUntilReady: false });
    try {
      const notReady = await call(mesh.gateway.url, 'GET', '/readyz');
      expect(notReady.status).toBe(503);
      expect(notReady.headers.get('content-type')).toContain('application/problem+json');
      expect(notReady.body.code).toBe('link_unavailable');
      const refused = await call(mesh.gateway.url, 'POST', '/api/v1/guests');
      expect(refused.status).toBe(503);

      remount(disk, 'rw');
      await mesh.ready;
      await within(10_000, async () => {
        const answer = await call(mesh.gateway.url, 'GET', '/readyz');
        return answer.status === 200 && String(answer.body.status) === 'ready';
      });
      const token = await newGuest(mesh.gateway.url);
      const link = await shorten(mesh.gateway.url, token, 'https://example.com/once-writable');
      expect(link.status).toBe(201);
      const redirect = await call(mesh.gateway.url, 'GET', `/${link.body.code}`);
      expect(redirect.status).toBe(302);
      expect(redirect.headers.get('location')).toBe('https://example.com/once-writable');
    } finally {
      await mesh.stop();
      await cleanup();
      unmount(disk);
    }
  });
});
