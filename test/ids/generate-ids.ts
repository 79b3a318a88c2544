// Child process for the cross-process uniqueness test: leases a worker id in
// Redis under the given prefix, then writes `count` ids, one per line.
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { RedisLeaseStore } from '../../lib/ids/lease-store-redis.ts';
import { SnowflakeGenerator } from '../../lib/ids/snowflake.ts';
import { WorkerLease } from '../../lib/ids/worker-lease.ts';
import { createRedis, waitForRedis } from '../../lib/redis/client.ts';
import { testLog } from '../support/logger.ts';

const [url, prefix, countText, outPath] = process.argv.slice(2);
if (!url || !prefix || !countText || !outPath)
  throw new Error('usage: generate-ids <redis> <prefix> <count> <out>');
const redis = createRedis({ url, log: testLog, name: 'generate-ids' });
await waitForRedis(redis, 5_000);
const lease = WorkerLease.start(new RedisLeaseStore(redis, prefix), { ttlMs: 5_000, log: testLog });
await lease.ready;
const generator = new SnowflakeGenerator(lease);
const out = createWriteStream(outPath);
const count = Number(countText);
let chunk: string[] = [];
for (let i = 0; i < count; i++) {
  chunk.push(generator.next());
  if (chunk.length === 10_000) {
    if (!out.write(`${chunk.join('\n')}\n`)) await once(out, 'drain');
    chunk = [];
  }
}
out.end(chunk.length ? `${chunk.join('\n')}\n` : '');
await once(out, 'finish');
await lease.close();
await redis.quit();
