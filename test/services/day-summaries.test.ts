// Sums of a link's days over a range, with whole blocks of days kept between
// requests: always the same as summing the days afresh, and a block whose
// days moved is summed again.
import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import {
  BLOCK_DAYS,
  DaySummaries,
  type DaySummary,
  summarise,
} from '../../services/analytics/domain/day-summaries.ts';
import { VisitorSketch } from '../../services/analytics/domain/visitor-sketch.ts';
import { BREAKDOWNS, type LinkDay } from '../../services/analytics/store/visit-store.ts';

const hashOf = (visitor: string) => createHash('sha256').update(visitor).digest('hex').slice(0, 16);

/** A day of `visitors` (visitor numbers) with a referrer and a browser per visit. */
function day(number: number, bot: boolean, visitors: number[], unsketched = 0): LinkDay {
  const sketch = VisitorSketch.empty();
  // Without a prototype, so that `__proto__` is a key like any other.
  const referrer: Record<string, number> = Object.create(null);
  const browser: Record<string, number> = Object.create(null);
  for (const visitor of visitors) {
    sketch.add(hashOf(`visitor-${visitor}`));
    // `__proto__` is visitor-supplied text like any other.
    const host = visitor % 7 === 0 ? '__proto__' : `site-${visitor % 5}.example`;
    referrer[host] = (referrer[host] ?? 0) + 1;
    const name = bot ? 'Googlebot' : visitor % 2 === 0 ? 'Chrome' : 'Firefox';
    browser[name] = (browser[name] ?? 0) + 1;
  }
  return {
    day: number,
    bot,
    visits: visitors.length,
    visitors: sketch.estimate() + unsketched,
    unsketchedVisitors: unsketched,
    sketch: sketch.encode(),
    facets: JSON.parse(JSON.stringify({ referrer, browser })),
  };
}

/**
 * A link's days over `count` days from `first`: humans every day (`busy` of
 * them on every eleventh), bots every third; `offset` moves which visitors.
 */
function daysOf(first: number, count: number, { busy = 1_600, offset = 0 } = {}): LinkDay[] {
  const days: LinkDay[] = [];
  for (let d = first; d < first + count; d++) {
    const many = d % 11 === 0 ? busy : 20 + (d % 9);
    const visitors = Array.from({ length: many }, (_, i) => offset + ((d * 37 + i) % 2_500));
    days.push(day(d, false, visitors, d % 13 === 0 ? 3 : 0));
    if (d % 3 === 0) days.push(day(d, true, [offset + 90_000 + (d % 4)]));
  }
  return days;
}

/** A summary in plain values, comparable with toEqual. */
function plain(summary: DaySummary) {
  return {
    visitors: summary.sketch.estimate() + summary.unsketchedVisitors,
    sketch: summary.sketch.encode(),
    facets: BREAKDOWNS.map((dimension) =>
      [...(summary.facets.get(dimension) ?? [])].sort(([a], [b]) => (a < b ? -1 : 1)),
    ),
  };
}

const LINK = '9007199254740997';
const FIRST = 20_000;

describe('day summaries', () => {
  test('when ranges of any length and alignment are summed, then the kept blocks give what summing every day gives', () => {
    const all = daysOf(FIRST, 400);
    const summaries = new DaySummaries();
    for (const [from, to] of [
      [FIRST, FIRST + 399],
      [FIRST + 5, FIRST + 370],
      [FIRST + 31, FIRST + 33],
      [FIRST + 64, FIRST + 64 + 3 * BLOCK_DAYS],
      [FIRST + 5, FIRST + 370],
    ] as const) {
      for (const includeBots of [false, true]) {
        const days = all.filter((d) => d.day >= from && d.day <= to && (includeBots || !d.bot));
        const kept = summaries.summarise(LINK, includeBots, days, { from, to });
        expect(plain(kept)).toEqual(plain(summarise(days)));
        expect(kept.facets.get('referrer')?.get('__proto__')).toBeGreaterThan(0);
      }
    }
  });

  test('when the visits of a day inside a kept block change, or a day goes and comes back, then the block is summed again', () => {
    const range = { from: FIRST, to: FIRST + 199 };
    const before = daysOf(FIRST, 200).filter((d) => !d.bot);
    const summaries = new DaySummaries();
    const first = plain(summaries.summarise(LINK, false, before, range));
    expect(summaries.kept).toBeGreaterThan(0);
    // Day FIRST + 40 (inside a whole block) as the recorder leaves it after more visits.
    const target = FIRST + 40;
    const moved = before.map((d) =>
      d.day === target ? day(d.day, false, [...Array(40).keys(), 500_001, 500_002]) : d,
    );
    const after = summaries.summarise(LINK, false, moved, range);
    expect(plain(after)).toEqual(plain(summarise(moved)));
    expect(plain(after)).not.toEqual(first);
    // Without that day (its rows purged), and with it back.
    const without = moved.filter((d) => d.day !== target);
    expect(plain(summaries.summarise(LINK, false, without, range))).toEqual(
      plain(summarise(without)),
    );
    expect(plain(summaries.summarise(LINK, false, moved, range))).toEqual(plain(after));
  });

  test('when two links or humans and bots have blocks of the same days, then none is taken for another', () => {
    const range = { from: FIRST, to: FIRST + 127 };
    // Few visitors a day, so the counts are exact: the two links' days have the same counts.
    const one = daysOf(FIRST, 128, { busy: 30 });
    const other = daysOf(FIRST, 128, { busy: 30, offset: 3 });
    expect(other.map((d) => [d.day, d.visits, d.visitors])).toEqual(
      one.map((d) => [d.day, d.visits, d.visitors]),
    );
    expect(plain(summarise(other))).not.toEqual(plain(summarise(one)));
    const summaries = new DaySummaries();
    const humans = one.filter((d) => !d.bot);
    expect(plain(summaries.summarise(LINK, false, humans, range))).toEqual(
      plain(summarise(humans)),
    );
    expect(plain(summaries.summarise(LINK, true, one, range))).toEqual(plain(summarise(one)));
    expect(plain(summaries.summarise('42', true, other, range))).toEqual(plain(summarise(other)));
  });

  test('when the kept blocks outgrow their memory, then the oldest are dropped and sums stay right', () => {
    const all = daysOf(FIRST, 320);
    const range = { from: FIRST, to: FIRST + 319 };
    // Room for about two blocks of dense sketches (a block takes some 6 KB here).
    const summaries = new DaySummaries(15_000);
    for (let i = 0; i < 2; i++) {
      expect(plain(summaries.summarise(LINK, true, all, range))).toEqual(plain(summarise(all)));
      expect(summaries.kept).toBeGreaterThan(0);
      expect(summaries.kept).toBeLessThanOrEqual(2);
    }
    const roomy = new DaySummaries();
    roomy.summarise(LINK, true, all, range);
    expect(roomy.kept).toBe(10);
  });
});
