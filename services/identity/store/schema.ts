// The identity store's schema: entities and migrations, in order; append, never edit.
import type { Schema } from '../../../lib/db/migrations.ts';
import { AccessTokenRow, GuestRow } from './entities.ts';
import { createGuestsAndTokens } from './migrations/0001-create-guests-and-tokens.ts';

export const identitySchema: Schema = {
  entities: [GuestRow, AccessTokenRow],
  migrations: [createGuestsAndTokens],
};
