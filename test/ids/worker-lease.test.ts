import { describe, expect, test } from 'vitest';
import { AlertState, OpsAlert } from '../../gen/shortener/v1/events.ts';
import { Alerts } from '../../lib/alerts/alerts.ts';
import { MemoryLeaseStore } from '../../lib/ids/lease-store-memory.ts';
import { SnowflakeGenerator } from '../../lib/ids/snowflake.ts';
import { startIdGenerator } from '../../lib/ids/start.ts';
import { WorkerLease } from '../../lib/ids/worker-lease.ts';
import { Metrics } from '../../lib/metrics/metrics.ts';
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

  test('when the lease is lost, then the loss is counted and alerted, resolved once another id is leased, and the lease is reported valid again', async () => {
    let storeNow = 0;
    const store = new MemoryLeaseStore(() => storeNow);
    const metrics = new Metrics();
    const alerts: string[] = [];
    const raiser = new Alerts({
      publish: async (_key, body) => {
        const alert = OpsAlert.decode(body);
        alerts.push(
          `${alert.state === AlertState.ALERT_STATE_RESOLVED ? 'resolved' : 'firing'} ${alert.fingerprint}`,
        );
      },
      service: 'link',
      log: testLog,
      dependencyThresholdMs: 60_000,
    });
    const { lease } = await startIdGenerator(store, 1_500, testLog, {
      part: 'link',
      metrics,
      alerts: raiser,
    });
    const valid = async () =>
      (await metrics.registry.getSingleMetric('shortener_worker_id_lease_valid')?.get())?.values;
    expect(await valid()).toEqual([
      expect.objectContaining({
        labels: { part: 'link', worker_id: String(lease.workerId) },
        value: 1,
      }),
    ]);
    const stolen = lease.workerId;
    storeNow += 60_000;
    const rival: number[] = [];
    for (let i = 0; i <= 1023; i++) rival.push((await store.claim('rival', 1e9, 1023)).workerId);
    for (const id of rival) if (id !== stolen) await store.release(id, 'rival', 0);
    await within(3_000, () => lease.workerId !== stolen && lease.isValid());
    await within(1_000, () => alerts.length === 2);
    expect(alerts).toEqual([
      'firing worker_id_lease_lost/link',
      'resolved worker_id_lease_lost/link',
    ]);
    expect((await metrics.leaseLosses.get()).values[0]?.value).toBe(1);
    expect(await valid()).toEqual([
      expect.objectContaining({
        labels: { part: 'link', worker_id: String(lease.workerId) },
        value: 1,
      }),
    ]);
    await lease.close();
    expect(await valid()).toEqual([expect.objectContaining({ value: 0 })]);
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
