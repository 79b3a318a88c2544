// Where the test infrastructure is. Defaults match the machine's services; CI
// and contributors can point elsewhere with these variables.
import { randomBytes } from 'node:crypto';

export const MYSQL_URL = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const RABBITMQ_URL = process.env.TEST_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** A name no other test (or run) uses: for key prefixes and database names. */
export function uniqueName(label: string): string {
  return `t_${label}_${process.pid}_${randomBytes(4).toString('hex')}`;
}
