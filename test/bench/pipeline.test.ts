// The bench's pipeline section, small, against a real mesh on MariaDB, Redis
// and RabbitMQ: what it reports must be what happened. Every click it
// publishes is stored, the reference writes every row, the stats link gets
// every visit through the recorder and GetLinkStats counts them, and the
// report says met or NOT met from those numbers.
import { createConnection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { ClickedLink } from '../../bench/clicks.ts';
import { type PipelineSection, runPipelineSection } from '../../bench/pipeline.ts';
import { renderPipelineSection } from '../../bench/pipeline-report.ts';
import { newGuest, shorten } from '../support/http.ts';
import { testLog } from '../support/logger.ts';
import { startTestMesh, type TestMesh } from '../support/mesh.ts';

const SETTINGS = {
  clicks: 3_000,
  batchSize: 500,
  waitSeconds: 60,
  statsVisits: 10_000,
  statsBatch: 4_000,
  statsCalls: 20,
  statsConcurrency: 2,
};

describe('the pipeline section of the bench', () => {
  let mesh: TestMesh | undefined;
  let section: PipelineSection;
  let links: ClickedLink[];
  let statsLink: ClickedLink;

  beforeAll(async () => {
    mesh = await startTestMesh('mysql+redis');
    const token = await newGuest(mesh.url);
    links = [];
    for (let i = 0; i < 4; i++) {
      const { body } = await shorten(mesh.url, token, `https://example.com/bench/${i}`);
      links.push({ id: body.id, code: body.code, ownerId: body.ownerId });
    }
    statsLink = links.pop() as ClickedLink;
    section = await runPipelineSection(
      {
        analyticsDatabaseUrl: mesh.config.analytics.databaseUrl,
        analyticsAddress: mesh.mesh.analytics.address,
        bus: mesh.mesh.bus,
        links,
        statsLink,
        log: testLog,
        pids: { bench: process.pid },
      },
      SETTINGS,
    );
  }, 120_000);
  afterAll(async () => {
    await mesh?.stop();
  });

  test('when it publishes clicks as the gateway does, then every one is stored, once, on the links it names, and the rates it reports come from that', async () => {
    const { alone } = section;
    expect(alone).toMatchObject({ clicks: SETTINGS.clicks, stored: SETTINGS.clicks, messages: 6 });
    expect(alone.storedSeconds).toBeGreaterThan(0);
    expect(alone.lastPublishToStoredSeconds).toBeLessThanOrEqual(alone.storedSeconds);
    expect(alone.storedPerSecond).toBeCloseTo(SETTINGS.clicks / alone.storedSeconds, 0);
    // Publishing took this process some CPU time, measured over the same span.
    expect(alone.cpu.bench).toBeGreaterThan(0);
    const db = await createConnection({ uri: (mesh as TestMesh).config.analytics.databaseUrl });
    try {
      const [rows] = await db.query(
        'SELECT CAST(link_id AS CHAR) AS link_id, COUNT(*) AS n, COUNT(DISTINCT id) AS ids, COUNT(DISTINCT browser) AS browsers FROM visits WHERE link_id IN (?) GROUP BY link_id',
        [links.map((l) => l.id)],
      );
      const counts = rows as { link_id: string; n: number; ids: number; browsers: number }[];
      expect(counts.map((r) => String(r.link_id)).sort()).toEqual(links.map((l) => l.id).sort());
      expect(counts.reduce((sum, r) => sum + Number(r.n), 0)).toBe(SETTINGS.clicks);
      for (const r of counts) {
        expect(Number(r.ids)).toBe(Number(r.n));
        expect(Number(r.browsers)).toBeGreaterThan(3);
      }
      // The reference's scratch table is gone again.
      const [tables] = await db.query("SHOW TABLES LIKE 'visits_reference'");
      expect(tables).toEqual([]);
    } finally {
      await db.end();
    }
    expect(section.reference).toMatchObject({ rows: SETTINGS.clicks, rowsPerStatement: 500 });
    expect(section.reference.rowsPerSecond).toBeGreaterThan(0);
  });

  test('when the stats link is given its visits through the recorder, then GetLinkStats over the year counts all of them with bots, fewer without, and each call is timed', () => {
    const { stats } = section;
    expect(stats.visits).toBe(SETTINGS.statsVisits);
    const [humans, all] = stats.latencies;
    expect(all).toMatchObject({
      includeBots: true,
      calls: 20,
      errors: 0,
      total: SETTINGS.statsVisits,
    });
    expect(humans?.includeBots).toBe(false);
    expect(humans?.errors).toBe(0);
    expect(humans?.total).toBeLessThan(SETTINGS.statsVisits);
    expect(humans?.total).toBeGreaterThan(SETTINGS.statsVisits / 2);
    for (const l of stats.latencies) {
      expect(l.p50Ms).toBeGreaterThan(0);
      expect(l.p99Ms).toBeGreaterThanOrEqual(l.p50Ms);
      expect(l.maxMs).toBeGreaterThanOrEqual(l.p99Ms);
    }
  });

  test('when the report is written, then each target is judged from the numbers measured', () => {
    const report = renderPipelineSection(section).join('\n');
    const ratio = section.alone.storedPerSecond / section.reference.rowsPerSecond;
    expect(report).toContain(`Pipeline over reference: **${ratio.toFixed(2)}**`);
    expect(report).toContain(`Target ${ratio >= 0.5 ? 'met' : 'NOT met'}.`);
    const worst = Math.max(...section.stats.latencies.map((l) => l.p99Ms));
    expect(report).toContain(`Worst p99: **${worst.toFixed(1)} ms**`);
    expect(report).toMatch(
      new RegExp(
        `all ${SETTINGS.statsVisits} visits: it does\\). Target ${worst <= 50 ? 'met' : 'NOT met'}\\.`,
      ),
    );
  });
});
