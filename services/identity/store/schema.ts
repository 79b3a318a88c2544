// The identity store's schema: entities and migrations, in order; append, never edit.
import type { Schema } from '../../../lib/db/migrations.ts';
import { HealthProbeRow } from '../../../lib/db/probe.ts';
import {
  AccessTokenRow,
  AccountTokenRow,
  ApiKeyRow,
  GuestAdoptionRow,
  GuestRow,
  MemberRow,
} from './entities.ts';
import { createGuestsAndTokens } from './migrations/0001-create-guests-and-tokens.ts';
import { createIdentityHealthProbes } from './migrations/0002-create-health-probes.ts';
import { createAccounts } from './migrations/0003-create-accounts.ts';

export const identitySchema: Schema = {
  entities: [
    GuestRow,
    AccessTokenRow,
    MemberRow,
    GuestAdoptionRow,
    ApiKeyRow,
    AccountTokenRow,
    HealthProbeRow,
  ],
  migrations: [createGuestsAndTokens, createIdentityHealthProbes, createAccounts],
};
