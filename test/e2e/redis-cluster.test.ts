// The whole mesh on a Redis Cluster (REDIS_CLUSTER=true, the run's own three
// nodes) instead of one server: worker-id leases, the link cache, rate
// limits, link changes and the live ranking all live there, their keys spread
// over the nodes' slots.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { call, newGuest, shorten } from '../support/http.ts';
import { startTestMesh, type TestMesh } from '../support/mesh.ts';
import { within } from '../support/wait.ts';

const BROWSER = {
  'user-agent':
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
};

/** Keys under the mesh's prefix on every primary of the cluster, by node. */
async function keysPerNode(url: string, prefix: string): Promise<number[]> {
  const seed = new Redis(url);
  try {
    const nodes = (await seed.cluster('NODES')) as string;
    const addresses = nodes
      .split('\n')
      .filter((line) => line.includes('master'))
      .map((line) => (line.split(' ')[1] ?? '').split('@')[0] ?? '');
    const counts: number[] = [];
    for (const address of addresses) {
      const node = new Redis(`redis://${address}`);
      try {
        counts.push((await node.keys(`${prefix}*`)).length);
      } finally {
        node.disconnect();
      }
    }
    return counts;
  } finally {
    seed.disconnect();
  }
}

describe('the mesh on a Redis Cluster', () => {
  const clusterUrl = inject('redisClusterUrl');
  let mesh: TestMesh | undefined;
  let token: string;
  const codes: string[] = [];

  beforeAll(async () => {
    mesh = await startTestMesh('mysql+redis', { REDIS_URL: clusterUrl, REDIS_CLUSTER: 'true' });
    token = await newGuest(mesh.url);
    for (let i = 0; i < 20; i++) {
      codes.push((await shorten(mesh.url, token, `https://example.com/cluster/${i}`)).body.code);
    }
  });
  afterAll(() => mesh?.stop());

  test('when links are made and followed, then they redirect, and their cache and leases are spread over the nodes', async () => {
    const base = (mesh as TestMesh).url;
    for (const [i, code] of codes.entries()) {
      const answer = await call(base, 'GET', `/${code}`, { headers: BROWSER });
      expect(answer.status).toBe(302);
      expect(answer.headers.get('location')).toBe(`https://example.com/cluster/${i}`);
    }
    const perNode = await keysPerNode(clusterUrl, (mesh as TestMesh).config.redisKeyPrefix);
    expect(perNode).toHaveLength(3);
    // Twenty links' cache entries (and more) cannot all hash to one node's slots.
    expect(perNode.filter((count) => count > 0).length).toBeGreaterThan(1);
  });

  test('when links are followed, then the live ranking counts every visit', async () => {
    const base = (mesh as TestMesh).url;
    const [first, second] = codes as [string, string];
    for (let i = 0; i < 3; i++) await call(base, 'GET', `/${first}`, { headers: BROWSER });
    await call(base, 'GET', `/${second}`, { headers: BROWSER });
    await within(15_000, async () => {
      const top = await call(base, 'GET', '/api/v1/top?window=5m', { token });
      const ranked = (top.body.links ?? []) as unknown as { code: string; visits: number }[];
      return ranked[0]?.code === first && ranked[0]?.visits === 4;
    });
  });

  test('when a link is deleted, then it stops redirecting at once and creating goes on', async () => {
    const base = (mesh as TestMesh).url;
    const code = codes[5] as string;
    const deleted = await call(base, 'DELETE', `/api/v1/links/${code}`, { token });
    expect(deleted.status).toBe(204);
    await within(1_000, async () => (await call(base, 'GET', `/${code}`)).status === 404);
    const made = await shorten(base, token, 'https://example.com/cluster/after');
    expect(made.status).toBe(201);
  });
});
