import { createHealthProbes } from '../../../../lib/db/probe.ts';

export const createAnalyticsHealthProbes = createHealthProbes('0002_create_health_probes');
