// The analytics store's schema: what openDatabase needs, for the service and
// its tests alike. Migrations run in this order; append, never edit.
import type { Schema } from '../../../lib/db/migrations.ts';
import { HealthProbeRow } from '../../../lib/db/probe.ts';
import { LinkDayRow, VisitorSaltRow, VisitRow } from './entities.ts';
import { createVisits } from './migrations/0001-create-visits.ts';
import { createAnalyticsHealthProbes } from './migrations/0002-create-health-probes.ts';
import { createLinkDays } from './migrations/0003-link-days.ts';

export const analyticsSchema: Schema = {
  entities: [VisitRow, LinkDayRow, VisitorSaltRow, HealthProbeRow],
  migrations: [createVisits, createAnalyticsHealthProbes, createLinkDays],
};
