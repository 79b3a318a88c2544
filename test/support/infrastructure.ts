// In-process shared state and bus for a part started on its own in a test.
import { openBus } from '../../lib/bus/open.ts';
import type { Infrastructure } from '../../lib/service.ts';
import { memorySharedState } from '../../lib/shared-state.ts';
import type { MeshConfig } from '../../mesh.ts';
import { testLog } from './logger.ts';

export function inProcessInfrastructure(config: Pick<MeshConfig, 'bus'>): Infrastructure {
  return { shared: memorySharedState(), bus: openBus({ ...config.bus, rabbitmqUrl: '' }, testLog) };
}
