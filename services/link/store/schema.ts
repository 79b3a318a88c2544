// The link store's schema: what openDatabase needs, for the service, its tests
// and the benchmark alike. Migrations run in this order; append, never edit.
import type { Schema } from '../../../lib/db/migrations.ts';
import { LinkRow } from './entities.ts';
import { createLinks } from './migrations/0001-create-links.ts';

export const linkSchema: Schema = {
  entities: [LinkRow],
  migrations: [createLinks],
};
