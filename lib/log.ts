// Structured JSON logs through pino, written asynchronously so logging never
// blocks a request. Each line carries the service name and, inside a traced
// operation, the trace and span ids.
import { trace } from '@opentelemetry/api';
import { pino } from 'pino';

export type Logger = pino.Logger;
export type LogLevel = pino.LevelWithSilent;

const destination = pino.destination({ sync: false, minLength: 0 });

export function createLogger(service: string, level: LogLevel): Logger {
  return pino(
    {
      level,
      base: { service },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      mixin() {
        const span = trace.getActiveSpan();
        if (!span) return {};
        const { traceId, spanId } = span.spanContext();
        return { trace_id: traceId, span_id: spanId };
      },
    },
    destination,
  );
}

/** Writes out buffered log lines; call before the process exits. */
export function flushLogs(): void {
  try {
    destination.flushSync();
  } catch {
    // Not yet open or already closed: nothing buffered to lose.
  }
}

/**
 * For warnings that repeat while a dependency is down (every call fails the
 * same way): one line per key at most every `everyMs`, saying how many like
 * it were held back since the last.
 */
export class ThrottledLog {
  readonly #log: Logger;
  readonly #everyMs: number;
  readonly #last = new Map<string, { at: number; held: number }>();

  constructor(log: Logger, everyMs = 10_000) {
    this.#log = log;
    this.#everyMs = everyMs;
  }

  warn(key: string, fields: Record<string, unknown>, message: string): void {
    const now = Date.now();
    const last = this.#last.get(key);
    if (last && now - last.at < this.#everyMs) {
      last.held++;
      return;
    }
    this.#last.set(key, { at: now, held: 0 });
    this.#log.warn({ ...fields, ...(last?.held ? { heldBack: last.held } : {}) }, message);
  }
}
