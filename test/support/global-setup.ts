// Checks, once per run, that the real infrastructure the tests need is up, so a
// missing service fails with one clear message instead of many timeouts;
// removes what unfinished runs left on it (leftovers.ts); and starts the
// run's own Redis Cluster (redis-cluster.ts), handed to the tests as
// `inject('redisClusterUrl')`.

import { connect } from 'amqplib';
import { Redis } from 'ioredis';
import { createConnection } from 'mysql2/promise';
import type { TestProject } from 'vitest/node';
import { MYSQL_URL, RABBITMQ_URL, REDIS_URL } from './env.ts';
import { deleteAbandonedTopology, dropAbandonedDatabases } from './leftovers.ts';
import { startRedisCluster } from './redis-cluster.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A node of the run's own Redis Cluster. */
    redisClusterUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const problems: string[] = [];
  try {
    const connection = await createConnection({ uri: MYSQL_URL, connectTimeout: 5_000 });
    await connection.query('SELECT 1');
    await connection.end();
  } catch (error) {
    problems.push(`MySQL at ${MYSQL_URL}: ${(error as Error).message}`);
  }
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    problems.push(`Redis at ${REDIS_URL}: ${(error as Error).message}`);
  } finally {
    redis.disconnect();
  }
  try {
    const rabbitmq = await connect(RABBITMQ_URL, { timeout: 5_000 });
    await rabbitmq.close();
  } catch (error) {
    problems.push(`RabbitMQ at ${RABBITMQ_URL}: ${(error as Error).message}`);
  }
  if (problems.length > 0) {
    throw new Error(`test infrastructure is not reachable:\n  ${problems.join('\n  ')}`);
  }
  const removed =
    (await dropAbandonedDatabases(MYSQL_URL)) + (await deleteAbandonedTopology(RABBITMQ_URL));
  if (removed > 0) process.stdout.write(`removed ${removed} leftovers of unfinished test runs\n`);
  const cluster = await startRedisCluster();
  project.provide('redisClusterUrl', cluster.url);
  return () => cluster.stop();
}
