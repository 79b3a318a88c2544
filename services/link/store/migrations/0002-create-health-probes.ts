import { createHealthProbes } from '../../../../lib/db/probe.ts';

export const createLinkHealthProbes = createHealthProbes('0002_create_health_probes');
