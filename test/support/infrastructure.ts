// In-process shared state and bus for a part started on its own in a test.
import { Alerts } from '../../lib/alerts/alerts.ts';
import type { Bus } from '../../lib/bus/bus.ts';
import { openBus } from '../../lib/bus/open.ts';
import { Metrics } from '../../lib/metrics/metrics.ts';
import type { Infrastructure } from '../../lib/service.ts';
import { memorySharedState } from '../../lib/shared-state.ts';
import type { MeshConfig } from '../../mesh.ts';
import { testLog } from './logger.ts';

/** Metrics of their own, and alerts published on `bus`, for parts a test starts beside a mesh. */
export function testObservers(
  bus: Pick<Bus, 'publish'>,
): Pick<Infrastructure, 'metrics' | 'alerts'> {
  const metrics = new Metrics();
  const alerts = new Alerts({
    publish: (routingKey, body, options) => bus.publish(routingKey, body, options),
    service: 'test',
    log: testLog,
    metrics,
    dependencyThresholdMs: 60_000,
  });
  return { metrics, alerts };
}

export function inProcessInfrastructure(config: Pick<MeshConfig, 'bus'>): Infrastructure {
  const bus = openBus({ ...config.bus, rabbitmqUrl: '' }, testLog);
  return { shared: memorySharedState(), bus, ...testObservers(bus) };
}
