// Days as the rollups count them: UTC days, numbered from 1970-01-01, written
// `YYYY-MM-DD` at the edges.

export const DAY_MS = 86_400_000;

export function dayOf(ms: number): number {
  return Math.floor(ms / DAY_MS);
}

/** Days written lately (all forgotten at once when full): a year's stats write 365 of them per answer. */
const written = new Map<number, string>();
const WRITTEN_MAX = 4_096;

export function formatDay(day: number): string {
  let text = written.get(day);
  if (text === undefined) {
    text = new Date(day * DAY_MS).toISOString().slice(0, 10);
    if (written.size >= WRITTEN_MAX) written.clear();
    written.set(day, text);
  }
  return text;
}

/** The day a `YYYY-MM-DD` date names, or undefined if it is not a real date. */
export function parseDay(text: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return undefined;
  const ms = Date.parse(`${text}T00:00:00Z`);
  if (Number.isNaN(ms) || formatDay(dayOf(ms)) !== text) return undefined;
  return dayOf(ms);
}
