// The link store's schema: what openDatabase needs, for the service, its tests
// and the benchmark alike. Migrations run in this order; append, never edit.
import type { Schema } from '../../../lib/db/migrations.ts';
import { HealthProbeRow } from '../../../lib/db/probe.ts';
import { GuestAdoptionRow, LinkRow } from './entities.ts';
import { createLinks } from './migrations/0001-create-links.ts';
import { createLinkHealthProbes } from './migrations/0002-create-health-probes.ts';
import { addLastAccessedAt } from './migrations/0003-add-last-accessed-at.ts';
import { createGuestAdoptions } from './migrations/0004-create-guest-adoptions.ts';
import { addExpiry } from './migrations/0005-add-expiry.ts';
import { indexSweep } from './migrations/0006-index-sweep.ts';

export const linkSchema: Schema = {
  entities: [LinkRow, GuestAdoptionRow, HealthProbeRow],
  migrations: [
    createLinks,
    createLinkHealthProbes,
    addLastAccessedAt,
    createGuestAdoptions,
    addExpiry,
    indexSweep,
  ],
};
