// With ANALYTICS_DATABASE_REPLICA_URL set, what owners read (stats, visit
// lists) comes from the read replica and everything else from the database
// itself. Here the "replica" is the same database reached through a relay the
// test can cut: with it cut, those reads answer 503 while the recorder goes on
// storing visits in the database, and once it is back the reads count them.
import { createConnection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { dropDatabases } from '../support/databases.ts';
import { MYSQL_URL, uniqueName } from '../support/env.ts';
import { call, newGuest, shorten } from '../support/http.ts';
import { startTestMesh, type TestMesh } from '../support/mesh.ts';
import { TcpRelay } from '../support/tcp-relay.ts';
import { within } from '../support/wait.ts';

const target = new URL(MYSQL_URL);
const relay = new TcpRelay(target.hostname, Number(target.port || 3306));
const database = uniqueName('replica_analytics');
const BROWSER = {
  'user-agent':
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
};

async function storedVisits(): Promise<number> {
  const db = await createConnection({ uri: `${MYSQL_URL}/${database}` });
  try {
    const [rows] = await db.query('select count(*) as n from `visits`');
    return Number((rows as { n: number }[])[0]?.n);
  } finally {
    await db.end();
  }
}

describe('analytics reading from a replica', () => {
  let mesh: TestMesh | undefined;
  let token: string;
  let code: string;

  beforeAll(async () => {
    await relay.start();
    const replica = new URL(MYSQL_URL);
    replica.host = `127.0.0.1:${relay.port}`;
    mesh = await startTestMesh('mysql+redis', {
      ANALYTICS_DATABASE_URL: `${MYSQL_URL}/${database}`,
      ANALYTICS_DATABASE_REPLICA_URL: `${replica.href.replace(/\/$/, '')}/${database}`,
    });
    token = await newGuest(mesh.url);
    code = (await shorten(mesh.url, token, 'https://example.com/replica')).body.code;
  });
  afterAll(async () => {
    await relay.start().catch(() => {});
    await mesh?.stop();
    await relay.cut();
    await dropDatabases([database]);
  });

  const totalOf = async (): Promise<number | null> => {
    const answer = await call((mesh as TestMesh).url, 'GET', `/api/v1/links/${code}/stats`, {
      token,
    });
    const { total } = answer.body as { total?: number };
    return answer.status === 200 ? Number(total) : answer.status === 503 ? -1 : null;
  };
  const visit = () => call((mesh as TestMesh).url, 'GET', `/${code}`, { headers: BROWSER });

  test('when the replica is reachable, then stats count every visit', async () => {
    for (let i = 0; i < 3; i++) expect((await visit()).status).toBe(302);
    await within(15_000, async () => (await totalOf()) === 3);
  });

  test('when the replica is cut off, then stats answer 503 while visits are still stored, and once it is back they count them', async () => {
    await relay.cut();
    try {
      await within(10_000, async () => (await totalOf()) === -1);
      for (let i = 0; i < 2; i++) expect((await visit()).status).toBe(302);
      // The recorder writes to the database itself, not through the replica.
      await within(15_000, async () => (await storedVisits()) === 5);
      expect(await totalOf()).toBe(-1);
    } finally {
      await relay.start();
    }
    await within(15_000, async () => (await totalOf()) === 5);
  });
});
