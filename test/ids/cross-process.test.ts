import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { decodeSnowflake } from '../../lib/ids/snowflake.ts';
import { REDIS_URL, uniqueName } from '../support/env.ts';
import { startNode } from '../support/processes.ts';

const script = new URL('./generate-ids.ts', import.meta.url).pathname;

test('two generator processes leasing from one Redis produce no duplicate among 1M ids', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ids-'));
  const prefix = `${uniqueName('ids')}:`;
  const outputs = [join(dir, 'a.txt'), join(dir, 'b.txt')];
  const generators = outputs.map((out) =>
    startNode([script, REDIS_URL, prefix, '500000', out], process.env),
  );
  for (const generator of generators) {
    expect(await generator.exited, generator.stderr()).toEqual({ code: 0, signal: null });
  }
  const [a, b] = outputs.map((out) => readFileSync(out, 'utf8').trim().split('\n'));
  if (!a || !b) throw new Error('missing output');
  expect(a).toHaveLength(500_000);
  expect(b).toHaveLength(500_000);
  const all = new Set([...a, ...b]);
  expect(all.size).toBe(1_000_000);
  // The two processes held different worker ids.
  expect(decodeSnowflake(a[0] as string).workerId).not.toBe(
    decodeSnowflake(b[0] as string).workerId,
  );
  // Within each process, ids strictly increase.
  for (const ids of [a, b]) {
    for (let i = 1; i < ids.length; i++) {
      if (BigInt(ids[i] as string) <= BigInt(ids[i - 1] as string)) {
        throw new Error(`ids not increasing at ${i}: ${ids[i - 1]} then ${ids[i]}`);
      }
    }
  }
}, 120_000);
