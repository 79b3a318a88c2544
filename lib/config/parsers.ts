// How settings are spelled: the parsers every service's config schema is
// built from. Each refuses a malformed value with a message saying what it
// expected; loadConfig names the variable.
import { z } from 'zod';

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `250ms`, `30s`, `10m`, `1h`, `180d`, or a plain number of milliseconds. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * (UNITS[match[2] ?? 'ms'] ?? 1);
}

export interface RateRule {
  /** Requests admitted per window. */
  limit: number;
  windowMs: number;
}

/** A duration between min and max milliseconds. */
export const duration = (min: number, max: number) =>
  z
    .string()
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: 'expected a duration like 500ms, 30s, 10m, 1h or 7d',
        });
        return z.NEVER;
      }
      return ms;
    })
    .pipe(z.number().min(min).max(max));

/** `<count>/<duration>` and nothing else: trailing text is a typo, not a rule. */
export const rate = z.string().transform((text, ctx): RateRule => {
  const match = /^(\d+)\/(\d+(?:ms|s|m|h|d)?)$/.exec(text.trim());
  const limit = match ? Number(match[1]) : 0;
  const windowMs = match?.[2] === undefined ? undefined : parseDuration(match[2]);
  if (!Number.isSafeInteger(limit) || limit < 1 || windowMs === undefined || windowMs < 1) {
    ctx.addIssue({ code: 'custom', message: 'expected <count>/<duration>, e.g. 60/1m' });
    return z.NEVER;
  }
  return { limit, windowMs };
});

export const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'expected a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

export const boolean = z
  .enum(['true', 'false', '1', '0'])
  .transform((v) => v === 'true' || v === '1');

/** Every `:port` a text ends in (a list of addresses ends each in one) is at most 65535 and at least `min`. */
function portsWithin(text: string, min: number): boolean {
  return [...text.matchAll(/:(\d+)(?=,|$)/g)].every(
    (m) => Number(m[1]) >= min && Number(m[1]) <= 65_535,
  );
}

/** `host:port`, `[v6]:port`; port 0 asks the OS for a free one. */
export const address = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:8080')
  .refine((v) => portsWithin(v, 0), 'expected a port from 0 (any free port) to 65535');

/** Where a metrics endpoint listens: an address, or `off` for none. */
export const metricsListen = z.union([z.literal('off'), address]);

/** Where a client dials: host:port, or a gRPC target URI (dns:///name:port, ipv4:, unix:). */
export const target = z
  .string()
  .regex(
    /^((dns|ipv4|ipv6|unix|unix-abstract):\S+|(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5})$/,
    'expected host:port or a gRPC target such as dns:///link:50051',
  )
  .refine((v) => /^unix/.test(v) || portsWithin(v, 1), 'expected a port from 1 to 65535');

export const databaseUrl = z
  .string()
  .refine(
    (v) => /^sqlite:.+/.test(v) || /^mysql:\/\/[^/]+\/[A-Za-z0-9_]+(\?.*)?$/.test(v),
    'expected sqlite:<path> or mysql://user[:password]@host[:port]/database',
  );

export const redisUrl = z
  .string()
  .refine((v) => v === '' || /^rediss?:\/\/.+/.test(v), 'expected redis://host:port[/db]');

/** A listen address as a client would dial it: a wildcard host becomes loopback. */
export function dialable(listen: string): string {
  return listen.replace(/^(0\.0\.0\.0|\[::\]):/, (_, host: string) =>
    host === '0.0.0.0' ? '127.0.0.1:' : '[::1]:',
  );
}
