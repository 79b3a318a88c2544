// GET /metrics on a port of its own (`<SERVICE>_METRICS_LISTEN`), a plain
// node:http server beside the service's own: scraping never queues behind
// the gateway's traffic, and the service's API never shows its metrics. The
// process's own metrics (CPU, memory, event-loop delay, GC) are registered
// once per process, whichever parts it runs.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Logger } from '../log.ts';
import type { Metrics } from './metrics.ts';

/** The listen value that turns the endpoint off. */
export const METRICS_OFF = 'off';

let processMetrics: Registry | undefined;

function processRegistry(): Registry {
  if (!processMetrics) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics });
  }
  return processMetrics;
}

export interface MetricsServer {
  /** http://host:port/metrics as bound; undefined when the endpoint is off. */
  readonly url: string | undefined;
  close(): Promise<void>;
}

/** The text Prometheus scrapes: the process's metrics, then the parts'. */
export async function exposition(metrics: Metrics): Promise<string> {
  const [own, parts] = await Promise.all([processRegistry().metrics(), metrics.registry.metrics()]);
  return `${own}\n${parts}`;
}

/**
 * Serves `metrics` at `listen` (host:port, port 0 for any free one, or `off`).
 * A port that cannot be bound is logged, not fatal: a service without its
 * metrics endpoint still serves its users.
 */
export async function startMetricsServer(
  listen: string,
  metrics: Metrics,
  log: Logger,
): Promise<MetricsServer> {
  if (listen === METRICS_OFF) return { url: undefined, close: async () => {} };
  processRegistry();
  const server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response
        .writeHead(404, { 'content-type': 'text/plain' })
        .end('not found: try GET /metrics\n');
      return;
    }
    exposition(metrics).then(
      (text) => response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (error: unknown) => {
        log.warn({ err: error }, 'metrics could not be collected');
        response.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
      },
    );
  });
  const index = listen.lastIndexOf(':');
  const host = listen.slice(0, index).replace(/^\[|\]$/g, '');
  const port = Number(listen.slice(index + 1));
  const bound = await new Promise<boolean>((resolve) => {
    server.once('error', (error) => {
      log.error({ err: error, listen }, 'metrics endpoint cannot listen; serving without it');
      resolve(false);
    });
    server.listen(port, host, () => resolve(true));
  });
  if (!bound) return { url: undefined, close: async () => {} };
  server.unref();
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${shown}:${address.port}/metrics`;
  log.info({ url }, 'metrics endpoint listening');
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
