// A store's schema: its entities and one ordered list of migrations. A
// migration gives its SQL once when every dialect takes the same statements,
// and per dialect only where they differ, so a new migration is written once.
import type { Options } from '@mikro-orm/core';
import { Migration } from '@mikro-orm/migrations';

export type Dialect = 'mysql' | 'sqlite';

/** Statements run in order: the same for every dialect, or one list per dialect. */
export type Statements = readonly string[] | Readonly<Record<Dialect, readonly string[]>>;

export interface MigrationStep {
  /** Stable name, recorded in schema_migrations, e.g. `0001_create_links`. */
  name: string;
  up: Statements;
  down: Statements;
}

/** What a store brings to openDatabase: exported once per store and imported wherever it is opened. */
export interface Schema {
  entities: NonNullable<Options['entities']>;
  migrations: readonly MigrationStep[];
}

export function dialectOf(url: string): Dialect {
  return url.startsWith('sqlite:') ? 'sqlite' : 'mysql';
}

function statementsFor(statements: Statements, dialect: Dialect): readonly string[] {
  return Array.isArray(statements)
    ? statements
    : (statements as Record<Dialect, readonly string[]>)[dialect];
}

/** The schema's migrations as MikroORM's migrator runs them, for one dialect. */
export function migrationsFor(schema: Schema, dialect: Dialect) {
  return schema.migrations.map((step) => {
    const up = statementsFor(step.up, dialect);
    const down = statementsFor(step.down, dialect);
    class Step extends Migration {
      override name = step.name;
      override up(): void {
        for (const sql of up) this.addSql(sql);
      }
      override down(): void {
        for (const sql of down) this.addSql(sql);
      }
    }
    return { name: step.name, class: Step };
  });
}
