// The purge section's own logic: its schedule puts the one sweep inside the
// second measured run and after everything before it; the expired links are
// spread evenly; what it reports as met follows from the numbers, and a
// purged link answered from a stale cache is a miss, never a pass.
import type autocannon from 'autocannon';
import { describe, expect, test } from 'vitest';
import { toRateResult } from '../../bench/autocannon.ts';
import {
  allAre,
  type PurgeResult,
  purgeTimetable,
  purgeVerdict,
  renderPurge,
  SWEEP_LEAD_S,
  tally,
} from '../../bench/purge-report.ts';
import { isExpiredSlot } from '../../bench/purge-seed.ts';

const times = { prepSeconds: 90, probeSeconds: 5, warmupSeconds: 5, durationSeconds: 30 };

describe('the purge section of the bench', () => {
  test('when the schedule is made, then each run starts after the one before ends, and the sweep lands early in the last measured window', () => {
    const plan = purgeTimetable(times);
    expect(plan.probeAt).toBe(90);
    expect(plan.baselineAt).toBeGreaterThanOrEqual(plan.probeAt + times.probeSeconds);
    expect(plan.purgeRunAt).toBeGreaterThanOrEqual(
      plan.baselineAt + times.warmupSeconds + times.durationSeconds,
    );
    const measuredFrom = plan.purgeRunAt + times.warmupSeconds;
    expect(plan.sweepAt).toBe(measuredFrom + SWEEP_LEAD_S);
    expect(plan.sweepAt).toBeLessThan(measuredFrom + times.durationSeconds);
  });

  test.each([
    [1_100_000, 100_000],
    [110_000, 10_000],
    [1_000, 999],
    [10, 0],
  ])(
    'when %i links hold %i expired ones, then exactly that many slots are expired, spread evenly',
    (total, expired) => {
      const slots = Array.from({ length: total }, (_, i) => isExpiredSlot(i, total, expired));
      expect(slots.filter(Boolean)).toHaveLength(expired);
      if (expired > 0 && expired < total / 2) {
        const gaps: number[] = [];
        let last = -1;
        slots.forEach((slot, i) => {
          if (slot) {
            if (last >= 0) gaps.push(i - last);
            last = i;
          }
        });
        const step = total / expired;
        expect(Math.min(...gaps)).toBeGreaterThanOrEqual(Math.floor(step));
        expect(Math.max(...gaps)).toBeLessThanOrEqual(Math.ceil(step));
      }
    },
  );

  test('when statuses are tallied, then each is counted, and "all 404" needs every answer 404 and at least one', () => {
    expect(tally([404, 404, 410, 0])).toEqual({ 404: 2, 410: 1, 0: 1 });
    expect(allAre(tally([404, 404]), 404)).toBe(true);
    expect(allAre(tally([404, 410]), 404)).toBe(false);
    expect(allAre(tally([]), 404)).toBe(false);
  });

  test('when autocannon answers, then only redirects count as answered and everything else as errors', () => {
    const result = {
      requests: { total: 1_000 },
      duration: 10,
      latency: { p50: 2, p99: 9 },
      errors: 3,
      timeouts: 1,
      '1xx': 0,
      '2xx': 4,
      '3xx': 990,
      '4xx': 2,
      '5xx': 1,
      start: new Date(1_000),
      finish: new Date(11_000),
    } as unknown as autocannon.Result;
    expect(toRateResult(result)).toEqual({
      requestsPerSecond: 100,
      p50Ms: 2,
      p99Ms: 9,
      requests: 1_000,
      errors: 10,
      startedAt: 1_000,
      finishedAt: 11_000,
    });
  });

  const load = (p99Ms: number, startedAt: number) => ({
    requestsPerSecond: 2_000,
    p50Ms: 2,
    p99Ms,
    requests: 60_000,
    errors: 0,
    startedAt,
    finishedAt: startedAt + 30_000,
  });
  const result = (over: Partial<PurgeResult> = {}): PurgeResult => ({
    live: 1_000_000,
    expired: 100_000,
    hot: 1_000,
    loadCodes: 100_000,
    seedSeconds: 40,
    sweep: { chunk: 500, parallel: 3, rate: 1_000 },
    connections: 64,
    times,
    probe: load(40, 0),
    rate: 2_000,
    baseline: load(10, 100_000),
    during: load(11, 200_000),
    baselineCpu: { link: 5 },
    duringCpu: { link: 8 },
    purgeFirstSeenAt: 202_000,
    purgeDoneAt: 222_000,
    leftExpired: 0,
    purgedLive: 0,
    before: { nearCache: { 302: 500 }, sharedCache: { 302: 500 }, sharedEntries: 500 },
    after: {
      sharedEntries: 0,
      nearGateway: { 404: 6_000 },
      loadGateway: { 404: 6_000 },
      sampled: 5_000,
    },
    machine: '2 cores',
    ...over,
  });

  test('when p99 grows by 10% and every purged code answers 404, then both targets are met, at the purge rate measured', () => {
    const verdict = purgeVerdict(result());
    expect(verdict.ratio).toBeCloseTo(1.1);
    expect(verdict.ratioMet).toBe(true);
    expect(verdict.purgeSeconds).toBe(20);
    expect(verdict.linksPerSecond).toBe(5_000);
    expect(verdict.purgeInWindow).toBe(1);
    expect(verdict.nonePurgedServed).toBe(true);
    expect(verdict.cachesHeldThemBefore).toBe(true);
    expect(renderPurge(result())).toMatch(/1\.10 \(target ≤ 1\.2: met\)/);
    expect(renderPurge(result())).toContain('`LINK_SWEEP_RATE` 1000');
  });

  test('when p99 grows by 30%, then the target is reported NOT met', () => {
    const slow = result({ during: load(13, 200_000) });
    expect(purgeVerdict(slow).ratioMet).toBe(false);
    expect(renderPurge(slow)).toMatch(/1\.30 \(target ≤ 1\.2: NOT met\)/);
  });

  test.each([
    ['a stale near-cache entry', { nearGateway: { 404: 5_999, 302: 1 } }],
    ['an expired entry left in Redis', { loadGateway: { 404: 5_999, 410: 1 } }],
    ['a Redis key left behind', { sharedEntries: 1 }],
  ])('when a purged code is still answered from %s, then "none served" is NOT met', (_, change) => {
    const stale = result({ after: { ...result().after, ...change } });
    expect(purgeVerdict(stale).nonePurgedServed).toBe(false);
    expect(renderPurge(stale)).toMatch(/No purged link served from any cache.*: NOT met/);
  });

  test('when the purge outlasts the measured window, then the share of it inside the window says so', () => {
    const late = result({ purgeFirstSeenAt: 220_000, purgeDoneAt: 240_000 });
    expect(purgeVerdict(late).purgeInWindow).toBe(0.5);
  });

  test('when the caches did not hold the hot links before the purge, then the check is reported as not meaningful', () => {
    const cold = result({
      before: { nearCache: { 410: 500 }, sharedCache: { 302: 500 }, sharedEntries: 500 },
    });
    expect(purgeVerdict(cold).cachesHeldThemBefore).toBe(false);
    expect(renderPurge(cold)).toMatch(/caches holding them: NOT met/);
  });
});
