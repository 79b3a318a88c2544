import { describe, expect, test } from 'vitest';
import { MemoryLeaseStore } from '../../lib/ids/lease-store-memory.ts';
import { SnowflakeGenerator } from '../../lib/ids/snowflake.ts';
import { WorkerLease } from '../../lib/ids/worker-lease.ts';
import { testLog } from '../support/logger.ts';
import { within } from '../support/wait.ts';

describe('worker lease', () => {
  test('when started, then it becomes valid and the generator issues ids under its worker id', async () => {
    const store = new MemoryLeaseStore();
    const lease = WorkerLease.start(store, { ttlMs: 2_000, log: testLog });
    expect(lease.isValid()).toBe(false);
    await lease.ready;
    expect(lease.isValid()).toBe(true);
    expect(new SnowflakeGenerator(lease).next()).toMatch(/^\d+$/);
    await lease.close();
  });

  test('two leases on one store never share a worker id', async () => {
    const store = new MemoryLeaseStore();
    const leases = Array.from({ length: 50 }, () =>
      WorkerLease.start(store, { ttlMs: 5_000, log: testLog }),
    );
    await Promise.all(leases.map((l) => l.ready));
    expect(new Set(leases.map((l) => l.workerId)).size).toBe(50);
    await Promise.all(leases.map((l) => l.close()));
  });

  test('when the lease is taken by someone else, then the holder stops issuing and moves to another id', async () => {
    let storeNow = 0;
    const store = new MemoryLeaseStore(() => storeNow);
    const lease = WorkerLease.start(store, { ttlMs: 1_500, log: testLog, maxDriftMs: 100 });
    await lease.ready;
    const stolen = lease.workerId;
    // The store sees the lease expire (as if renewals had stopped reaching it),
    // and a rival takes every id, ours included, then gives back all but ours.
    storeNow += 60_000;
    const rival: number[] = [];
    for (let i = 0; i <= 1023; i++) rival.push((await store.claim('rival', 1e9, 1023)).workerId);
    expect(rival).toContain(stolen);
    for (const id of rival) if (id !== stolen) await store.release(id, 'rival', 0);
    await within(3_000, () => lease.workerId !== stolen && lease.isValid());
    expect(new SnowflakeGenerator(lease).next()).toMatch(/^\d+$/);
    await lease.close();
  });

  test('when closed, then it is invalid and its id is reserved for a short while only', async () => {
    const store = new MemoryLeaseStore();
    const lease = WorkerLease.start(store, { ttlMs: 2_000, log: testLog, maxDriftMs: 50 });
    await lease.ready;
    await lease.close();
    expect(lease.isValid()).toBe(false);
    expect(() => new SnowflakeGenerator(lease).next()).toThrowError(/worker lease/);
  });
});
