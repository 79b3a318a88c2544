// A process started with a malformed variable stops at once with exit code 2
// and a message naming the variable, instead of starting half-configured.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { type Exit, startNode } from '../support/processes.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'config-errors-'));

/** Runs an entry point with only the given variables (and safe defaults, should it start after all). */
async function run(
  entry: string,
  variables: Record<string, string>,
): Promise<Exit & { stderr: string }> {
  const started = startNode([entry], {
    PATH: process.env.PATH ?? '',
    DATA_DIR: dataDir,
    LINK_GRPC_LISTEN: '127.0.0.1:0',
    IDENTITY_GRPC_LISTEN: '127.0.0.1:0',
    ANALYTICS_GRPC_LISTEN: '127.0.0.1:0',
    NOTIFIER_GRPC_LISTEN: '127.0.0.1:0',
    GATEWAY_LISTEN: '127.0.0.1:0',
    MESH_METRICS_LISTEN: '127.0.0.1:0',
    GATEWAY_METRICS_LISTEN: '127.0.0.1:0',
    LINK_METRICS_LISTEN: '127.0.0.1:0',
    IDENTITY_METRICS_LISTEN: '127.0.0.1:0',
    ANALYTICS_METRICS_LISTEN: '127.0.0.1:0',
    NOTIFIER_METRICS_LISTEN: '127.0.0.1:0',
    LOG_LEVEL: 'warn',
    ...variables,
  });
  // A process that starts despite the bad value would never exit: stop it.
  const guard = setTimeout(() => started.child.kill('SIGKILL'), 20_000);
  try {
    return { ...(await started.exited), stderr: started.stderr() };
  } finally {
    clearTimeout(guard);
  }
}

const CASES: { entry: string; variable: string; value: string }[] = [
  { entry: 'services/link/main.ts', variable: 'LINK_CODE_LENGTH', value: 'abc' },
  { entry: 'services/link/main.ts', variable: 'LINK_CODE_LENGTH', value: '4' },
  { entry: 'services/link/main.ts', variable: 'RATE_LIMIT_CREATE_PER_IP', value: 'lots' },
  { entry: 'services/link/main.ts', variable: 'LINK_DATABASE_URL', value: 'postgres://db/links' },
  { entry: 'services/identity/main.ts', variable: 'GUEST_TOKEN_TTL', value: 'forever' },
  { entry: 'services/analytics/main.ts', variable: 'ANALYTICS_IPV4_PREFIX', value: '33' },
  { entry: 'services/notifier/main.ts', variable: 'NOTIFIER_SMTP_URL', value: 'http://mail:25' },
  { entry: 'services/notifier/main.ts', variable: 'NOTIFIER_MAIL_FROM', value: 'nobody' },
  {
    entry: 'services/notifier/main.ts',
    variable: 'NOTIFIER_PUBLIC_BASE_URL',
    value: 'ftp://short.example',
  },
  { entry: 'gateway/main.ts', variable: 'GATEWAY_LISTEN', value: 'nowhere' },
  { entry: 'gateway/main.ts', variable: 'GRPC_DEADLINE', value: 'soon' },
  { entry: 'gateway/main.ts', variable: 'TRUSTED_PROXIES', value: 'yes' },
  { entry: 'gateway/main.ts', variable: 'GATEWAY_LISTEN', value: '127.0.0.1:65536' },
  { entry: 'services/link/main.ts', variable: 'RATE_LIMIT_CREATE_PER_IP', value: '60/1m/x' },
];

describe('malformed configuration', () => {
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  test.each(CASES)(
    'when $entry starts with $variable=$value, then it exits with code 2 naming the variable',
    async ({ entry, variable, value }) => {
      const exit = await run(entry, { [variable]: value });
      expect(exit.signal, exit.stderr).toBeNull();
      expect(exit.code, exit.stderr).toBe(2);
      expect(exit.stderr).toContain(variable);
      expect(exit.stderr).toContain(JSON.stringify(value));
    },
  );

  test('when the mesh starts with two malformed variables, then it exits with code 2 naming both', async () => {
    const exit = await run('mesh.ts', { LINK_CODE_LENGTH: 'abc', GATEWAY_LISTEN: 'nowhere' });
    expect(exit.signal, exit.stderr).toBeNull();
    expect(exit.code, exit.stderr).toBe(2);
    expect(exit.stderr).toContain('LINK_CODE_LENGTH');
    expect(exit.stderr).toContain('GATEWAY_LISTEN');
  });
});
