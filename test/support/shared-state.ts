// The two flavours of shared state every contract suite runs against.
import { memorySharedState, redisSharedState, type SharedState } from '../../lib/shared-state.ts';
import { REDIS_URL, uniqueName } from './env.ts';
import { testLog } from './logger.ts';

export interface Flavour {
  name: 'memory' | 'redis';
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
];
