// Deployments that migrate once, before the services: the migration job
// (migrate.ts, `npm run migrate`) brings each database named in its
// environment up to date, and a service started with
// DATABASE_MIGRATIONS=await applies nothing, answers NOT_SERVING while its
// database is behind, and serves as soon as the job has run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { afterAll, describe, expect, test } from 'vitest';
import { healthChecker } from '../../lib/grpc/health-client.ts';
import { dropDatabases } from '../support/databases.ts';
import { MYSQL_URL, uniqueName } from '../support/env.ts';
import { freePort } from '../support/ports.ts';
import { type NodeProcess, startNode } from '../support/processes.ts';
import { sleep, within } from '../support/wait.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'migration-job-'));
const linkDatabase = uniqueName('job_link');
const analyticsDatabase = uniqueName('job_analytics');
const started: NodeProcess[] = [];

const baseEnv = { PATH: process.env.PATH ?? '', DATA_DIR: dataDir, LOG_LEVEL: 'warn' };

async function tables(database: string): Promise<string[]> {
  const db = await createConnection({ uri: MYSQL_URL });
  try {
    const [rows] = await db.query(
      'select table_name as name from information_schema.tables where table_schema = ? order by 1',
      [database],
    );
    return (rows as { name: string }[]).map((row) => row.name);
  } finally {
    await db.end();
  }
}

async function runJob(env: Record<string, string>) {
  const job = startNode(['migrate.ts'], { ...baseEnv, ...env });
  started.push(job);
  return { ...(await job.exited), stderr: job.stderr() };
}

afterAll(async () => {
  for (const process of started) process.child.kill('SIGKILL');
  await Promise.all(started.map((process) => process.exited));
  await dropDatabases([linkDatabase, analyticsDatabase]);
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the migration job', () => {
  test('when a link service waits for migrations, then it is NOT_SERVING and creates no table until the job has run, then SERVING', async () => {
    const port = await freePort();
    const link = startNode(['services/link/main.ts'], {
      ...baseEnv,
      LINK_GRPC_LISTEN: `127.0.0.1:${port}`,
      LINK_DATABASE_URL: `${MYSQL_URL}/${linkDatabase}`,
      DATABASE_MIGRATIONS: 'await',
    });
    started.push(link);
    const checker = healthChecker(`127.0.0.1:${port}`);
    try {
      await within(15_000, async () => (await checker.status('', 1_000)) === 'NOT_SERVING');
      await sleep(1_000);
      expect(await checker.status('', 1_000)).toBe('NOT_SERVING');
      expect(await tables(linkDatabase)).not.toContain('links');

      const job = await runJob({
        LINK_DATABASE_URL: `${MYSQL_URL}/${linkDatabase}`,
        ANALYTICS_DATABASE_URL: `${MYSQL_URL}/${analyticsDatabase}`,
      });
      expect(job.code, job.stderr).toBe(0);
      expect(await tables(linkDatabase)).toEqual(
        expect.arrayContaining(['links', 'guest_adoptions', 'schema_migrations']),
      );
      expect(await tables(analyticsDatabase)).toEqual(
        expect.arrayContaining(['visits', 'link_days', 'schema_migrations']),
      );
      await within(20_000, async () => (await checker.status('', 1_000)) === 'SERVING');
      expect(link.stdout()).toContain('migrations not applied yet');
    } finally {
      checker.close();
    }
  });

  test('when the job runs again, then it changes nothing and succeeds', async () => {
    const before = await tables(linkDatabase);
    const again = await runJob({ LINK_DATABASE_URL: `${MYSQL_URL}/${linkDatabase}` });
    expect(again.code, again.stderr).toBe(0);
    expect(await tables(linkDatabase)).toEqual(before);
  });

  test('when the job is given no database, or a malformed one, then it exits 2 naming the variables', async () => {
    const none = await runJob({});
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('nothing to migrate: set one of LINK_DATABASE_URL');
    const bad = await runJob({ IDENTITY_DATABASE_URL: 'postgres://db/identity' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('IDENTITY_DATABASE_URL');
  });
});
