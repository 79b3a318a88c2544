import { createHealthProbes } from '../../../../lib/db/probe.ts';

export const createIdentityHealthProbes = createHealthProbes('0002_create_health_probes');
