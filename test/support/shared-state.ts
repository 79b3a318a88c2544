// The flavours of shared state every contract suite runs against: in
// process, one Redis server, and a Redis Cluster (the run's own).
import { inject } from 'vitest';
import { memorySharedState, redisSharedState, type SharedState } from '../../lib/shared-state.ts';
import { REDIS_URL, uniqueName } from './env.ts';
import { testLog } from './logger.ts';
import { suiteResource } from './suite.ts';

export interface Flavour {
  name: 'memory' | 'redis' | 'redis cluster';
  open(): Promise<SharedState>;
}

export const FLAVOURS: Flavour[] = [
  { name: 'memory', open: async () => memorySharedState() },
  {
    name: 'redis',
    open: () =>
      redisSharedState({
        url: REDIS_URL,
        keyPrefix: `${uniqueName('state')}:`,
        log: testLog,
        name: 'test',
      }),
  },
  {
    name: 'redis cluster',
    open: () =>
      redisSharedState({
        url: inject('redisClusterUrl'),
        cluster: true,
        keyPrefix: `${uniqueName('state')}:`,
        log: testLog,
        name: 'test',
      }),
  },
];

/** Shared state as a describe block sees it: opened and closed for it. */
export type SuiteSharedState = Omit<SharedState, 'close'>;

/** The flavour's shared state for the enclosing describe block, open before its own hooks run. */
export function sharedStateForSuite(flavour: Flavour): SuiteSharedState {
  return suiteResource(
    () => flavour.open(),
    (state) => state.close(),
    ['kind', 'cache', 'limiter', 'leases', 'broadcast', 'visits', 'alerts'],
  );
}
