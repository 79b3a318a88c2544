// What a link's stats add up over a range of days: its visitors (the union of
// the days' sketches) and its breakdowns (each value's visits). A year of a
// busy link is hundreds of days, and summing them on every request was most
// of GetLinkStats' time; so whole blocks of BLOCK_DAYS days are summed once
// and kept, and a range is its whole blocks' summaries plus the days at its
// edges.
//
// A kept block is used only while its days are what they were when it was
// summed. The store tells that the way it tells its own cached days apart
// (visit-store.ts, linkDays): a day changes only when visits are added to it,
// which moves its visit count, so a block is known by its days' numbers,
// flags, visits and visitors, read from the database on every request. A
// block any of whose days moved is summed again; nothing is ever stale.
import { LRUCache } from 'lru-cache';
import { BREAKDOWNS, type Breakdown, type LinkDay } from '../store/visit-store.ts';
import { VisitorSketch } from './visitor-sketch.ts';

/** Days per kept block: a year is about a dozen blocks and two partial edges. */
export const BLOCK_DAYS = 32;

/** Memory the kept blocks may hold, per process. */
const BLOCK_CACHE_BYTES = 32 * 1024 * 1024;

/** The sum of some days. Those kept are shared: callers read them, never change them. */
export interface DaySummary {
  /** Distinct visitors no sketch holds (days recorded before sketches). */
  unsketchedVisitors: number;
  /** The union of the days' visitor sketches. */
  sketch: VisitorSketch;
  /** Visits per value of each dimension. */
  facets: ReadonlyMap<Breakdown, ReadonlyMap<string, number>>;
}

interface Adding {
  unsketchedVisitors: number;
  sketch: VisitorSketch;
  facets: Map<Breakdown, Map<string, number>>;
}

function adding(): Adding {
  return {
    unsketchedVisitors: 0,
    sketch: VisitorSketch.empty(),
    facets: new Map(BREAKDOWNS.map((dimension) => [dimension, new Map<string, number>()])),
  };
}

function addCount(counts: Map<string, number>, value: string, visits: number): void {
  counts.set(value, (counts.get(value) ?? 0) + visits);
}

function addDay(sum: Adding, day: LinkDay): void {
  sum.unsketchedVisitors += day.unsketchedVisitors;
  sum.sketch.mergeStored(day.sketch);
  for (const [dimension, counts] of sum.facets) {
    // Stored facets are parsed JSON, keyed by visitor-supplied text: own entries only.
    for (const [value, visits] of Object.entries(day.facets[dimension] ?? {}))
      addCount(counts, value, visits);
  }
}

function addSummary(sum: Adding, other: DaySummary): void {
  sum.unsketchedVisitors += other.unsketchedVisitors;
  sum.sketch.merge(other.sketch);
  for (const [dimension, counts] of sum.facets) {
    for (const [value, visits] of other.facets.get(dimension) ?? [])
      addCount(counts, value, visits);
  }
}

/** The sum of `days`, none kept. */
export function summarise(days: Iterable<LinkDay>): DaySummary {
  const sum = adding();
  for (const day of days) addDay(sum, day);
  return sum;
}

/** What identifies a block's days as they are now (see the top of the file). */
function fingerprint(days: readonly LinkDay[]): string {
  let text = '';
  for (const day of days) text += `${day.day}.${day.bot ? 1 : 0}.${day.visits}.${day.visitors};`;
  return text;
}

/** Roughly what a kept block holds in memory: its fingerprint, sketch and breakdown entries. */
function sizeOf(summary: DaySummary, print: string): number {
  let entries = 0;
  for (const counts of summary.facets.values()) entries += counts.size;
  return 64 + 2 * print.length + summary.sketch.encodedLength + 80 * entries;
}

export class DaySummaries {
  readonly #blocks: LRUCache<string, { fingerprint: string; summary: DaySummary }>;

  constructor(maxBytes = BLOCK_CACHE_BYTES) {
    this.#blocks = new LRUCache({ maxSize: maxBytes });
  }

  /** Blocks kept now (for tests of reuse and of the memory bound). */
  get kept(): number {
    return this.#blocks.size;
  }

  /**
   * The sum of `days`, one link's days within `range` in day order (humans
   * only, or humans and bots, as `includeBots` says: blocks of the one are
   * kept apart from blocks of the other).
   */
  summarise(
    linkId: string,
    includeBots: boolean,
    days: readonly LinkDay[],
    range: { from: number; to: number },
  ): DaySummary {
    const sum = adding();
    for (let start = 0; start < days.length; ) {
      const block = Math.floor((days[start] as LinkDay).day / BLOCK_DAYS);
      let end = start;
      while (end < days.length && Math.floor((days[end] as LinkDay).day / BLOCK_DAYS) === block)
        end++;
      const whole = block * BLOCK_DAYS >= range.from && (block + 1) * BLOCK_DAYS - 1 <= range.to;
      if (whole) addSummary(sum, this.#block(linkId, includeBots, block, days.slice(start, end)));
      else for (let i = start; i < end; i++) addDay(sum, days[i] as LinkDay);
      start = end;
    }
    return sum;
  }

  #block(linkId: string, includeBots: boolean, block: number, days: LinkDay[]): DaySummary {
    // The fingerprint alone tells blocks apart; the key keeps a link's human
    // and all-visitor blocks from pushing each other out.
    const key = `${linkId}:${includeBots ? 1 : 0}:${block}`;
    const print = fingerprint(days);
    const kept = this.#blocks.get(key);
    if (kept?.fingerprint === print) return kept.summary;
    const summary = summarise(days);
    this.#blocks.set(key, { fingerprint: print, summary }, { size: sizeOf(summary, print) });
    return summary;
  }
}
