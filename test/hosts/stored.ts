// What the harness's own MariaDB holds, read as the stories check it: the
// visits analytics stored per code, and its per-day rollups of them.
import type { RowDataPacket } from 'mysql2/promise';
import { sleep } from '../support/wait.ts';
import type { Infra } from './infra.ts';

export interface StoredVisits {
  /** Visit rows, per code. */
  rows: Record<string, number>;
  /** The daily rollups' visit counts, per code: a batch recorded twice would show here. */
  rollups: Record<string, number>;
}

export async function storedVisits(infra: Infra, codes: readonly string[]): Promise<StoredVisits> {
  const sql = await infra.sql('shortener_analytics');
  try {
    const [rows] = await sql.query<RowDataPacket[]>(
      'SELECT code, COUNT(*) AS n FROM visits WHERE code IN (?) GROUP BY code',
      [codes],
    );
    const [rollups] = await sql.query<RowDataPacket[]>(
      `SELECT v.code, SUM(d.visits) AS n FROM link_days d
         JOIN (SELECT DISTINCT link_id, code FROM visits WHERE code IN (?)) v ON v.link_id = d.link_id
       GROUP BY v.code`,
      [codes],
    );
    const byCode = (list: RowDataPacket[]) =>
      Object.fromEntries(
        codes.map((code) => [code, Number(list.find((r) => r.code === code)?.n ?? 0)]),
      );
    return { rows: byCode(rows), rollups: byCode(rollups) };
  } finally {
    await sql.end();
  }
}

/** Waits until every code has at least `expected` visit rows, then a moment more; the stored visits then. */
export async function settledVisits(
  infra: Infra,
  expected: ReadonlyMap<string, number>,
  timeoutMs = 30_000,
): Promise<StoredVisits> {
  const codes = [...expected.keys()];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stored = await storedVisits(infra, codes);
    if (codes.every((code) => (stored.rows[code] ?? 0) >= (expected.get(code) ?? 0))) break;
    if (Date.now() > deadline) return stored;
    await sleep(250);
  }
  // Anything recorded twice would arrive late: look again after a while.
  await sleep(1_500);
  return storedVisits(infra, codes);
}
