// How every process runs: configuration validated once (a bad value stops the
// process naming the variable), a structured logger, start, and on SIGTERM or
// SIGINT a drain within the configured time before exiting.
import { ConfigError, type ConfigOf, loadConfig, type Settings } from './config/load.ts';
import { createLogger, flushLogs, type Logger } from './log.ts';
import { shutdownTelemetry } from './telemetry/preload.ts';

export interface Running {
  stop(): Promise<void>;
}

export async function runMain<P extends Record<string, Settings<unknown>>>(
  name: string,
  settings: P,
  start: (config: ConfigOf<P>, log: Logger) => Promise<Running>,
): Promise<void> {
  let config: ConfigOf<P>;
  try {
    config = loadConfig(settings);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${name}: ${error.message}\n`);
    process.exit(2);
  }
  const log = createLogger(name, config.logLevel);
  process.on('unhandledRejection', (reason) => log.error({ err: reason }, 'unhandled rejection'));

  let running: Running;
  try {
    running = await start(config, log);
  } catch (error) {
    log.fatal({ err: error }, 'could not start');
    flushLogs();
    process.exit(1);
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: draining in-flight work');
    const guard = setTimeout(() => {
      log.error('drain took too long; exiting');
      flushLogs();
      process.exit(1);
    }, config.shutdownTimeoutMs + 5_000);
    guard.unref();
    try {
      await running.stop();
      await shutdownTelemetry();
      log.info('stopped');
      flushLogs();
      process.exit(0);
    } catch (error) {
      log.error({ err: error }, 'error while stopping');
      flushLogs();
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}
