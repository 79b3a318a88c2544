// The pipeline section of the benchmark report: how it was measured, the
// numbers, and each target met or missed.
import type { PipelineSection } from './pipeline.ts';

/** Pipeline rate over plain INSERTs of the same rows, at least. */
export const PIPELINE_RATIO_TARGET = 0.5;
/** GetLinkStats over a year of a link with a million visits, p99 at most. */
export const STATS_P99_TARGET_MS = 50;

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');

export function renderPipelineSection(section: PipelineSection): string[] {
  const { alone, reference, stats, settings } = section;
  const ratio = alone.storedPerSecond / reference.rowsPerSecond;
  const allStored = alone.stored >= alone.clicks;
  const lines: string[] = [];
  lines.push('## Click pipeline alone (no redirect load)', '');
  lines.push(
    `- Load: ${alone.clicks} clicks in ${alone.messages} \`LinkClickedBatch\` messages of ${settings.batchSize}, published on \`link.clicked\` by the bench itself (bench/pipeline.ts) exactly as the gateway does: its encoder and publisher (gateway/clicks/publish.ts) over lib/bus's RabbitMQ adapter, one publish at a time, each awaiting the broker's confirm, on an exchange and queues of the section's own. Event ids from the Snowflake generator; links spread over every seeded link; a handful of real browser user agents (a crawler among them), referers and Accept-Language headers; client addresses from a pool of 50,000.`,
    '- Consumers: the analytics service (`services/analytics/main.ts`, its own process and MariaDB database; visit recorder and ranking counter) and the link service (its last-access toucher), as in the redirect scenarios; no gateway and no wrk.',
    "- Measured: count(*) of the analytics database's `visits`, from the first publish until all are stored: once a second while the visit recorder's queue holds messages (each count reads the whole table, work taken from the pipeline it measures), then every 100 ms.",
    '',
    '| clicks | published in (s) | visits stored | all stored after the first publish (s) | last stored after the last publish (s) | stored per second (first publish to last stored) | sustained, 10% to 90% stored (per second) |',
    '|---:|---:|---:|---:|---:|---:|---:|',
    `| ${alone.clicks} | ${fmt(alone.publishSeconds, 1)} | ${alone.stored} | ${allStored ? fmt(alone.storedSeconds, 1) : `not within ${alone.waitSeconds}`} | ${allStored ? fmt(alone.lastPublishToStoredSeconds, 1) : 'n/a'} | ${fmt(alone.storedPerSecond)} | ${fmt(alone.sustainedPerSecond)} |`,
    '',
    `CPU seconds from the first publish until all were stored: ${Object.entries(alone.cpu)
      .map(([name, seconds]) => `${name} ${fmt(seconds, 1)} s`)
      .join(', ')} (the bench publishes; the machine has 2 cores).`,
    '',
  );
  lines.push('### Reference: plain INSERTs into MariaDB, same run', '');
  lines.push(
    `- ${reference.rows} visit rows made from the same clicks (the recorder's own parsing, outside the timing), written by plain multi-row \`INSERT\`s of ${reference.rowsPerStatement} rows each, one statement at a time, autocommit, over one connection, into a scratch table \`CREATE TABLE … LIKE visits\` in the same database (dropped afterwards).`,
    '',
    '| rows | seconds | rows per second |',
    '|---:|---:|---:|',
    `| ${reference.rows} | ${fmt(reference.seconds, 1)} | ${fmt(reference.rowsPerSecond)} |`,
    '',
    `Pipeline over reference: **${fmt(ratio, 2)}** (target ≥ ${PIPELINE_RATIO_TARGET.toFixed(2)}, all ${alone.clicks} stored). Target ${verdict(ratio >= PIPELINE_RATIO_TARGET && allStored)}.`,
    '',
  );
  const worst = Math.max(...stats.latencies.map((l) => l.p99Ms));
  const errors = stats.latencies.reduce((sum, l) => sum + l.errors, 0);
  const withBots = stats.latencies.find((l) => l.includeBots);
  const right = withBots?.total === stats.visits;
  lines.push(`## GetLinkStats on a link with ${stats.visits} visits`, '');
  lines.push(
    `- Data: one link given ${stats.visits} visits over ${stats.days} days (oldest first, evenly spread) by the visit recorder itself (\`VisitRecorder.record\`, in the bench's process, against the section's analytics database, ${stats.batch} clicks a call, as the consumer hands them over: ${fmt(stats.seedSeconds, 1)} s, ${fmt(stats.visits / stats.seedSeconds)} visits/s), with the same mix of user agents, referers and languages and 2,000 client addresses. The table also holds the ${alone.clicks} visits of the pipeline measure, of other links.`,
    `- Calls: \`GetLinkStats\` over gRPC to the running analytics service for the whole ${stats.days}-day range, ${settings.statsCalls} calls with include_bots false and then ${settings.statsCalls} with it true, ${stats.concurrency} in flight, after 20 warm-up calls each, through lib/grpc/client.ts as the gateway calls it. The caller is the link's owner (a guest principal); each call also asks the link service who owns the link.`,
    '',
    '| include_bots | calls | errors | p50 ms | p99 ms | max ms | total visits in the answer |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...stats.latencies.map(
      (l) =>
        `| ${l.includeBots} | ${l.calls} | ${l.errors} | ${fmt(l.p50Ms, 1)} | ${fmt(l.p99Ms, 1)} | ${fmt(l.maxMs, 1)} | ${fmt(l.total)} |`,
    ),
    '',
    `Worst p99: **${fmt(worst, 1)} ms** (target ≤ ${STATS_P99_TARGET_MS} ms, no errors, and with bots the answer counts all ${stats.visits} visits: ${right ? 'it does' : 'it does NOT'}). Target ${verdict(worst <= STATS_P99_TARGET_MS && errors === 0 && right)}.`,
    '',
  );
  return lines;
}
