// The migration job: brings every service database named in the environment
// up to date, then exits (0 when all are current, 1 otherwise). Deployments
// run it once before the services, which then start with
// DATABASE_MIGRATIONS=await and apply nothing themselves. `npm run migrate`
// runs this; the variables are the services' own.
import { ConfigError, defineSettings, loadConfig } from './lib/config/load.ts';
import { databaseUrl } from './lib/config/parsers.ts';
import type { Schema } from './lib/db/migrations.ts';
import { describeDatabase, openDatabase } from './lib/db/open.ts';
import { createLogger, flushLogs, type Logger } from './lib/log.ts';
import { analyticsSchema } from './services/analytics/store/schema.ts';
import { identitySchema } from './services/identity/store/schema.ts';
import { linkSchema } from './services/link/store/schema.ts';
import { notifierSchema } from './services/notifier/store/schema.ts';

const SCHEMAS: Record<string, Schema> = {
  LINK_DATABASE_URL: linkSchema,
  IDENTITY_DATABASE_URL: identitySchema,
  ANALYTICS_DATABASE_URL: analyticsSchema,
  NOTIFIER_DATABASE_URL: notifierSchema,
};

export const migrationSettings = defineSettings(
  Object.fromEntries(Object.keys(SCHEMAS).map((name) => [name, databaseUrl.optional()])),
  (v) => {
    const targets = Object.entries(SCHEMAS).flatMap(([variable, schema]) => {
      const url = v[variable];
      return typeof url === 'string' ? [{ variable, url, schema }] : [];
    });
    if (targets.length === 0) {
      throw new ConfigError(`nothing to migrate: set one of ${Object.keys(SCHEMAS).join(', ')}`);
    }
    return targets;
  },
);

/** Applies each database's pending migrations (one process at a time per database); the names applied. */
export async function migrateAll(
  targets: readonly { variable: string; url: string; schema: Schema }[],
  log: Logger,
): Promise<string[]> {
  const applied: string[] = [];
  for (const { variable, url, schema } of targets) {
    const orm = await openDatabase({ url, schema, log, migrations: 'apply' });
    await orm.close();
    log.info({ variable, database: describeDatabase(url) }, 'database is up to date');
    applied.push(variable);
  }
  return applied;
}

if (import.meta.main) {
  let config: ReturnType<typeof loadConfig<{ migrate: typeof migrationSettings }>>;
  try {
    config = loadConfig({ migrate: migrationSettings });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`migrate: ${error.message}\n`);
    process.exit(2);
  }
  const log = createLogger('migrate', config.logLevel);
  try {
    await migrateAll(config.migrate, log);
    flushLogs();
    process.exit(0);
  } catch (error) {
    log.fatal({ err: error }, 'migration failed');
    flushLogs();
    process.exit(1);
  }
}
