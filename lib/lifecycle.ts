// How every process runs: configuration validated once (a bad value stops the
// process naming the variable), a structured logger, start, and on SIGTERM or
// SIGINT a drain within the configured time before exiting.
import { type Config, ConfigError, loadConfig } from './config.ts';
import { createLogger, flushLogs, type Logger } from './log.ts';
import { openSharedState, type SharedState } from './shared-state.ts';
import { shutdownTelemetry } from './telemetry/preload.ts';

export interface Running {
  stop(): Promise<void>;
}

export async function runMain(
  name: string,
  start: (config: Config, log: Logger) => Promise<Running>,
): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
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

/** Runs one service as its own process, with its own connections to the shared state. */
export function runService(
  name: string,
  start: (config: Config, log: Logger, shared: SharedState) => Promise<Running>,
): Promise<void> {
  return runMain(name, async (config, log) => {
    const shared = await openSharedState({
      redisUrl: config.redisUrl,
      keyPrefix: config.redisKeyPrefix,
      log,
      name,
    });
    const service = await start(config, log, shared);
    return {
      async stop() {
        await service.stop();
        await shared.close();
      },
    };
  });
}
