// Writes the benchmark report: what ran, how, and the numbers with ratios
// against the baseline measured in the same run.
import { cpus, totalmem } from 'node:os';
import type { PipelineSection } from './pipeline.ts';
import { renderPipelineSection } from './pipeline-report.ts';
import type { LoadResult, LoadSettings } from './wrk.ts';

export interface Measurement {
  scenario: string;
  server: string;
  round: number;
  result: LoadResult;
  /** CPU seconds per process during the measured run. */
  cpu: Record<string, number>;
}

export interface Scenario {
  name: string;
  codes: number;
  nearCache: boolean;
  /** Whether the gateway records clicks (published on RabbitMQ, consumed by analytics). */
  recordClicks: boolean;
  /** Minimum share of the baseline's rate. */
  target: number;
  /**
   * Every process serves GET /metrics and the bench scrapes gateway and link
   * every second during the load; otherwise the endpoints are off. Rendered
   * against the same set without it ("Metrics cost").
   */
  metrics?: boolean;
  /** Every process exports traces (default sampler) to the bench's OTLP receiver. */
  tracing?: boolean;
}

/** The most share of the baseline that serving and scraping metrics may cost. */
export const METRICS_COST_TARGET = 0.05;

/** What a tracing scenario's processes exported while it was measured. */
export interface TracingExports {
  scenario: string;
  /** OTLP export requests the receiver took. */
  exports: number;
  bytes: number;
}

/** The largest share of its rate tracing may cost a scenario. */
const TRACING_COST_TARGET = 0.1;

/** A wait before a baseline round for the consumers to store what earlier mesh rounds left. */
export interface BaselineWait {
  scenario: string;
  round: number;
  /** NaN if the backlog was not stored within the wait. */
  seconds: number;
}

/**
 * The baseline alone and beside a process that does nothing but spin at a
 * lower CPU priority (the click consumers' niceness, and the idle class),
 * round by round.
 */
export interface Headroom {
  /** Codes the load draws from (the hot set's). */
  codes: number;
  niceness: number;
  /** Seconds measured per round. */
  seconds: number;
  rounds: {
    round: number;
    alone: LoadResult;
    /** Beside the spinner at `niceness`. */
    niced: Beside;
    /** Beside the spinner in the idle scheduling class (SCHED_IDLE); undefined where chrt is missing. */
    idle?: Beside | undefined;
  }[];
}

/** The baseline's load beside a spinner, and the CPU the spinner took meanwhile. */
export interface Beside {
  result: LoadResult;
  spinnerCpu: number;
}

/** What the click pipeline did with a scenario's redirects. */
export interface PipelineResult {
  scenario: string;
  /** GET redirects the mesh answered 302 in the scenario (warm-ups included). */
  answered: number;
  /** Visits the analytics database holds for them afterwards. */
  stored: number;
  /** Seconds from the end of the load until the last visit was stored (NaN if not within the wait). */
  drainSeconds: number;
  /** How long the bench waited for the pipeline after the load. */
  waitedSeconds: number;
  /** Visits stored per second, from the scenario's first request to the end of the wait. */
  storedPerSecond: number;
  /** Clicks still waiting for the visit recorder (queued or due for a retry) when the wait ended. */
  queuedClicks: number;
  /** Clicks parked in the visit recorder's dead-letter queue. */
  deadLetters: number;
}

export const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

/** The median over rounds of the mesh's rate as a share of the baseline's in the same round. */
function medianShare(measurements: Measurement[], scenario: string): number {
  const rows = measurements.filter((m) => m.scenario === scenario);
  const shares = rows
    .filter((m) => m.server === 'mesh')
    .map((m) => {
      const base = rows.find((r) => r.round === m.round && r.server === 'baseline');
      return base ? m.result.requestsPerSecond / base.result.requestsPerSecond : Number.NaN;
    });
  return median(shares);
}

/** Each scenario with metrics on against the same one with them off: the share of the baseline they cost. */
function renderMetricsCost(scenarios: Scenario[], measurements: Measurement[]): string[] {
  const pairs = scenarios.flatMap((on) => {
    // Metrics alone against the same set without them (as for tracing above).
    const off =
      on.metrics && !on.tracing
        ? scenarios.find(
            (s) =>
              !s.metrics &&
              !s.tracing &&
              s.codes === on.codes &&
              s.nearCache === on.nearCache &&
              s.recordClicks === on.recordClicks,
          )
        : undefined;
    return off ? [{ on, off }] : [];
  });
  if (pairs.length === 0) return [];
  const lines = [
    '## Metrics cost',
    '',
    'Metrics on: every process serves `GET /metrics` and the bench scrapes the gateway and link once a second during the load (Prometheus would every 10 s). Off: the endpoints are off; the counters on the redirect path are plain integer fields either way. Compared as median shares of the baseline, measured in the same rounds.',
    '',
    '| scenario | share of baseline, metrics off | metrics on | cost | target |',
    '|---|---:|---:|---:|---|',
  ];
  for (const { on, off } of pairs) {
    const without = medianShare(measurements, off.name);
    const withMetrics = medianShare(measurements, on.name);
    const cost = 1 - withMetrics / without;
    const verdict = cost <= METRICS_COST_TARGET ? 'met' : 'NOT met';
    lines.push(
      `| ${on.name} | ${fmt(without, 2)} | ${fmt(withMetrics, 2)} | ${fmt(cost * 100, 1)} % | ≤ ${METRICS_COST_TARGET * 100} %: ${verdict} |`,
    );
  }
  lines.push('');
  return lines;
}

export function renderReport(options: {
  date: Date;
  generator: string;
  /** Node flags every process ran with (those of the npm start scripts). */
  nodeFlags: string[];
  settings: LoadSettings;
  warmupSeconds: number;
  scenarios: Scenario[];
  measurements: Measurement[];
  pipeline: PipelineResult[];
  tracingExports?: TracingExports[];
  baselineWaits?: BaselineWait[];
  headroom?: Headroom | undefined;
  /** Seconds after a full-speed run within which every click should be stored. */
  drainTargetSeconds: number;
  /** The pipeline section, when it ran. */
  section?: PipelineSection | undefined;
  notes: string[];
}): string {
  const { settings } = options;
  const lines: string[] = [];
  const redirects = options.scenarios.length > 0;
  lines.push(
    redirects
      ? '# Redirect throughput: mesh against a single-process baseline'
      : '# Click pipeline and analytics reads',
    '',
  );
  lines.push(
    `Run ${options.date.toISOString()} by \`npm run bench\`${redirects ? '' : ' with `BENCH_ONLY=pipeline`'}.`,
    '',
  );
  lines.push('## Setup', '');
  lines.push(
    `- Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${fmt(totalmem() / 2 ** 30)} GiB; shared and noisy, so only ratios from the same run mean anything.`,
  );
  if (!redirects) {
    lines.push(
      `- Node ${process.version}, each service with the node flags of its npm start script. MariaDB, Redis, RabbitMQ and every process share the same 2 cores.`,
      '',
    );
    if (options.section) lines.push(...renderPipelineSection(options.section));
    lines.push('## Notes', '', ...options.notes.map((n) => `- ${n}`), '');
    return lines.join('\n');
  }
  lines.push(
    `- Node ${process.version}, each service with the node flags of its npm start script, the baseline with the gateway's (\`${options.nodeFlags.join(' ')}\`); load generator: ${options.generator}.`,
  );
  lines.push(
    `- Load: ${settings.threads} thread, ${settings.connections} connections, ${settings.durationSeconds} s per measurement after a ${options.warmupSeconds} s warm-up; each request is GET /<code> for a code drawn at random from the scenario's set. Rounds alternate baseline and mesh.`,
  );
  lines.push(
    '- Baseline: `bench/baseline-server.ts`, node:http answering 302 from Redis (one GET per request, ioredis auto-pipelining).',
    '- Mesh: gateway and link service as separate processes (`gateway/main.ts`, `services/link/main.ts`) on the local MariaDB and Redis; the link cache is warmed through ResolveLinks before measuring, as the baseline reads from a full Redis. With click recording on, the gateway publishes every click on the local RabbitMQ and the analytics service (`services/analytics/main.ts`, its own process and database) consumes them throughout the run.',
    '- Both servers, Redis, MariaDB and wrk share the same 2 cores.',
    '',
  );
  if (options.headroom) lines.push(...renderHeadroom(options.headroom, options));
  for (const scenario of options.scenarios) {
    const rows = options.measurements.filter((m) => m.scenario === scenario.name);
    lines.push(`## ${scenario.name}`, '');
    lines.push(
      '| round | server | requests/s | p50 ms | p99 ms | errors | share of baseline | CPU s (gateway / link / analytics / baseline / redis / mariadb / rabbitmq) |',
      '|---:|---|---:|---:|---:|---:|---:|---|',
    );
    for (const m of rows) {
      const base = rows.find((r) => r.round === m.round && r.server === 'baseline');
      const share = base ? m.result.requestsPerSecond / base.result.requestsPerSecond : Number.NaN;
      const cpu = ['gateway', 'link', 'analytics', 'baseline', 'redis', 'mariadb', 'rabbitmq']
        .map((k) => fmt(m.cpu[k] ?? Number.NaN, 1))
        .join(' / ');
      lines.push(
        `| ${m.round} | ${m.server} | ${fmt(m.result.requestsPerSecond)} | ${fmt(m.result.p50Ms, 2)} | ${fmt(m.result.p99Ms, 2)} | ${m.result.errors} | ${m.server === 'baseline' ? '1.00' : fmt(share, 2)} | ${cpu} |`,
      );
    }
    const shares = meshShares(rows);
    const mesh = rows.filter((m) => m.server === 'mesh');
    const p99 = Math.max(...mesh.map((m) => m.result.p99Ms));
    const errors = mesh.reduce((sum, m) => sum + m.result.errors, 0);
    const share = median(shares);
    const verdict = share >= scenario.target && p99 <= 10 && errors === 0 ? 'met' : 'NOT met';
    lines.push(
      '',
      `Median share of baseline: **${fmt(share, 2)}** (target ≥ ${scenario.target.toFixed(2)}); worst mesh p99 ${fmt(p99, 2)} ms (target ≤ 10 ms); mesh errors ${errors} (target 0). Target ${verdict}.`,
      '',
    );
    const waits = (options.baselineWaits ?? []).filter((w) => w.scenario === scenario.name);
    if (waits.length > 0) {
      lines.push(
        `Before baseline round${waits.length > 1 ? 's' : ''} ${waits.map((w) => w.round).join(' and ')}, the bench waited until the clicks of the mesh rounds before were stored (${waits.map((w) => (Number.isFinite(w.seconds) ? `${fmt(w.seconds, 1)} s` : 'not within the wait')).join(', ')}), so no baseline round shares the machine with the consumers' backlog.`,
        '',
      );
    }
  }
  lines.push(...renderMetricsCost(options.scenarios, options.measurements));
  lines.push(...renderTracingCost(options.scenarios, options.measurements, options.tracingExports));
  if (options.pipeline.length > 0) {
    const target = options.drainTargetSeconds;
    lines.push('## Click pipeline under full load', '');
    lines.push(
      '| scenario | redirects wrk saw answered 302 | visits stored | stored − answered | last visit stored after the load (s) | drained within ' +
        `${target} s | clicks still queued when the wait ended | clicks dead-lettered | nothing lost | visits stored per second |`,
      '|---|---:|---:|---:|---:|---|---:|---:|---|---:|',
    );
    for (const p of options.pipeline) {
      const drainedIn = Number.isFinite(p.drainSeconds);
      const drained = drainedIn ? fmt(p.drainSeconds, 1) : `not within ${p.waitedSeconds}`;
      const met = drainedIn && p.drainSeconds <= target ? 'met' : 'NOT met';
      // Every answered click is stored or still queued, none parked: none lost.
      const kept = p.stored + p.queuedClicks;
      const lost =
        p.deadLetters > 0
          ? `NO: ${p.deadLetters} dead-lettered`
          : kept >= p.answered
            ? `yes: stored${p.queuedClicks > 0 ? ' + still queued' : ''} ≥ answered`
            : `NO: ${p.answered - kept} neither stored nor queued`;
      lines.push(
        `| ${p.scenario} | ${p.answered} | ${p.stored} | ${p.stored - p.answered} | ${drained} | ${met} | ${p.queuedClicks} | ${p.deadLetters} | ${lost} | ${fmt(p.storedPerSecond)} |`,
      );
    }
    lines.push(
      '',
      `Target: every click of a full-speed run (a ${options.warmupSeconds} s warm-up and a ${options.settings.durationSeconds} s measurement, ${options.warmupSeconds + options.settings.durationSeconds} s in all) stored within ${target} s of its end, none lost. The time is taken from the end of each scenario's last mesh round; what earlier rounds left was stored before the baseline round that followed them. The bench waits ${options.pipeline[0]?.waitedSeconds ?? 'n/a'} s at most, counting the analytics database's \`visits\` (COUNT(*), once a second while the visit recorder's queue holds messages, then every 100 ms).`,
      '',
      `wrk counts only the answers it read: when a run ends it drops the requests still in flight (at most ${options.settings.connections} per run, warm-up and measurement), which the gateway still answered and recorded. So up to that many more visits than wrk's count are expected (stored − answered). Clicks still queued are counted click by click on the broker once the wait ended (the gateway stopped, having published what it held, and analytics stopped, having handed back what it had taken): the pipeline's rate, not a loss. Visits are keyed by event id, so none is stored twice.`,
      '',
    );
  }
  if (options.section) lines.push(...renderPipelineSection(options.section));
  if (options.notes.length > 0) {
    lines.push('## Notes', '', ...options.notes.map((n) => `- ${n}`), '');
  }
  return lines.join('\n');
}

/**
 * The machine's headroom for background work beside the redirect path, set
 * against what the click consumers took in the hot set's mesh rounds.
 */
function renderHeadroom(
  headroom: Headroom,
  options: { scenarios: Scenario[]; measurements: Measurement[] },
): string[] {
  const idle = headroom.rounds.every((r) => r.idle !== undefined);
  const lines = [
    `## Machine headroom: the baseline beside one busy background process`,
    '',
    `Before the scenarios, the baseline on the hot set's ${headroom.codes.toLocaleString('en-US')} codes, alone and beside a process that does nothing but spin: at niceness ${headroom.niceness} (the click consumers' priority)${idle ? ', and in the idle scheduling class (SCHED_IDLE: run only when nothing else wants the CPU)' : ''}: each round alone first, then beside each spinner in turn.`,
    '',
    `| round | baseline alone, requests/s | beside the spinner at niceness ${headroom.niceness} | share | its CPU s |${idle ? ' beside the idle-class spinner | share | its CPU s |' : ''}`,
    `|---:|---:|---:|---:|---:|${idle ? '---:|---:|---:|' : ''}`,
  ];
  const share = (beside: Beside | undefined, alone: LoadResult) =>
    beside ? beside.result.requestsPerSecond / alone.requestsPerSecond : Number.NaN;
  for (const r of headroom.rounds) {
    const cells = [
      r.round,
      fmt(r.alone.requestsPerSecond),
      fmt(r.niced.result.requestsPerSecond),
      fmt(share(r.niced, r.alone), 2),
      fmt(r.niced.spinnerCpu, 1),
      ...(idle && r.idle
        ? [
            fmt(r.idle.result.requestsPerSecond),
            fmt(share(r.idle, r.alone), 2),
            fmt(r.idle.spinnerCpu, 1),
          ]
        : []),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  const besideShare = (beside: (r: Headroom['rounds'][number]) => Beside | undefined) =>
    fmt(median(headroom.rounds.map((r) => share(beside(r), r.alone))), 2);
  const besideCpu = (beside: (r: Headroom['rounds'][number]) => Beside | undefined) =>
    fmt(median(headroom.rounds.map((r) => beside(r)?.spinnerCpu ?? Number.NaN)), 1);
  lines.push(
    '',
    `Median share beside the spinner at niceness ${headroom.niceness}: **${besideShare((r) => r.niced)}**, the spinner taking ${besideCpu((r) => r.niced)} CPU s of each ${headroom.seconds} s round${idle ? `; beside the idle-class one: **${besideShare((r) => r.idle)}**, taking ${besideCpu((r) => r.idle)} CPU s` : ''}: what a process that spins whenever it gets the CPU, at a lower priority, costs the redirect rate on this machine.`,
  );
  // What the consumers took in the hot set's mesh rounds with clicks recorded and nothing else on.
  const recorded = options.scenarios.find(
    (s) => s.nearCache && s.recordClicks && !s.tracing && !s.metrics,
  );
  const plain = options.scenarios.find(
    (s) => s.nearCache && !s.recordClicks && !s.tracing && !s.metrics,
  );
  const rounds = options.measurements.filter(
    (m) => m.scenario === recorded?.name && m.server === 'mesh',
  );
  if (recorded && rounds.length > 0) {
    const consumers = median(
      rounds.map((m) =>
        ['analytics', 'mariadb', 'rabbitmq'].reduce((sum, k) => sum + (m.cpu[k] ?? 0), 0),
      ),
    );
    /** The gateway's CPU per redirect answered in a scenario's mesh rounds, µs. */
    const perRedirect = (name: string) =>
      median(
        options.measurements
          .filter((m) => m.scenario === name && m.server === 'mesh')
          .map((m) => ((m.cpu.gateway ?? Number.NaN) / m.result.requests) * 1e6),
      );
    const withClicks = median(
      meshShares(options.measurements.filter((m) => m.scenario === recorded.name)),
    );
    const without = plain
      ? median(meshShares(options.measurements.filter((m) => m.scenario === plain.name)))
      : Number.NaN;
    lines.push(
      '',
      `In the hot set's mesh rounds with clicks recorded, analytics, MariaDB and RabbitMQ took ${fmt(consumers, 1)} CPU s a round, and the gateway spent ${fmt(perRedirect(recorded.name), 1)} µs of CPU per redirect${plain ? ` (${fmt(perRedirect(plain.name), 1)} µs with clicks not recorded); the mesh's share of the baseline was ${fmt(withClicks, 2)} against ${fmt(without, 2)} without recording` : ''}.`,
    );
  }
  lines.push('');
  return lines;
}

/** Each round's mesh rate as a share of the baseline measured beside it. */
function meshShares(rows: Measurement[]): number[] {
  return rows
    .filter((m) => m.server === 'mesh')
    .map((m) => {
      const base = rows.find((r) => r.round === m.round && r.server === 'baseline');
      return base ? m.result.requestsPerSecond / base.result.requestsPerSecond : Number.NaN;
    });
}

/**
 * Each tracing scenario against its twin without tracing (same set, same
 * clicks setting, same run): the ratio of their median shares of the
 * baseline, so that drift of the machine between the two cancels out.
 */
function renderTracingCost(
  scenarios: Scenario[],
  measurements: Measurement[],
  exports: TracingExports[] = [],
): string[] {
  // Tracing alone against the same set without it (the scenario with both on has its own target).
  const traced = scenarios.filter((s) => s.tracing && !s.metrics);
  if (traced.length === 0) return [];
  const lines = [
    '## Tracing cost',
    '',
    '| scenario | median share, tracing off | median share, tracing on | on / off | exports received (requests, KiB) | target |',
    '|---|---:|---:|---:|---:|---|',
  ];
  const shareOf = (name: string) =>
    median(meshShares(measurements.filter((m) => m.scenario === name)));
  for (const scenario of traced) {
    const twin = scenarios.find(
      (s) =>
        !s.tracing &&
        !s.metrics &&
        s.codes === scenario.codes &&
        s.nearCache === scenario.nearCache &&
        s.recordClicks === scenario.recordClicks,
    );
    const off = twin ? shareOf(twin.name) : Number.NaN;
    const on = shareOf(scenario.name);
    const ratio = on / off;
    const sent = exports.find((e) => e.scenario === scenario.name);
    const verdict = ratio >= 1 - TRACING_COST_TARGET ? 'met' : 'NOT met';
    lines.push(
      `| ${scenario.name} | ${fmt(off, 2)} | ${fmt(on, 2)} | **${fmt(ratio, 2)}** | ${sent ? `${sent.exports}, ${fmt(sent.bytes / 1024)}` : 'n/a'} | ≥ ${fmt(1 - TRACING_COST_TARGET, 2)}: ${verdict} |`,
    );
  }
  lines.push(
    '',
    `Target: tracing costs at most ${TRACING_COST_TARGET * 100}% of the redirect rate (on / off ≥ ${fmt(1 - TRACING_COST_TARGET, 2)}). Exports are counted from the first measured round to the last; a receiver that took none would mean the scenario measured nothing.`,
    '',
  );
  return lines;
}
