import { createHealthProbes } from '../../../../lib/db/probe.ts';

export const createNotifierHealthProbes = createHealthProbes('0002_create_health_probes');
