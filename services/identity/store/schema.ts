// The identity store's schema: entities and migrations, in order; append, never edit.
import type { Schema } from '../../../lib/db/migrations.ts';
import { HealthProbeRow } from '../../../lib/db/probe.ts';
import { AccessTokenRow, GuestRow } from './entities.ts';
import { createGuestsAndTokens } from './migrations/0001-create-guests-and-tokens.ts';
import { createIdentityHealthProbes } from './migrations/0002-create-health-probes.ts';

export const identitySchema: Schema = {
  entities: [GuestRow, AccessTokenRow, HealthProbeRow],
  migrations: [createGuestsAndTokens, createIdentityHealthProbes],
};
