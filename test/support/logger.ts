import { createLogger } from '../../lib/log.ts';

/** Services under test log only warnings and errors, so failures stay readable. */
export const testLog = createLogger(
  'test',
  (process.env.TEST_LOG_LEVEL as 'warn' | undefined) ?? 'warn',
);
