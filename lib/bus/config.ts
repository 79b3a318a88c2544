// The bus's settings, read by every process (lib/service.ts, gateway/main.ts, mesh.ts).
import { z } from 'zod';
import { defineSettings } from '../config/load.ts';
import { duration, integer } from '../config/parsers.ts';
import type { QueueType, RetryPolicy } from './topology.ts';

export interface BusConfig {
  /** Empty: the in-process bus of the embedded mesh. */
  rabbitmqUrl: string;
  exchange: string;
  /** Put before every queue name, so several meshes can share one broker (tests, say). */
  queuePrefix: string;
  /** The type every queue is declared with (topology.ts). */
  queueType: QueueType;
  publishTimeoutMs: number;
  retry: RetryPolicy;
  /**
   * How far behind its consumers may fall while a gateway on their node is
   * busy (lib/bus/yielding.ts); 0: they never yield.
   */
  yieldMaxLagMs: number;
}

export const busSettings = defineSettings(
  {
    RABBITMQ_URL: z
      .string()
      .refine(
        (v) => v === '' || /^amqps?:\/\/.+/.test(v),
        'expected amqp://user:password@host:port[/vhost]',
      )
      .default(''),
    BUS_EXCHANGE: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,200}$/, 'expected an exchange name')
      .default('shortener.events'),
    BUS_QUEUE_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9._-]{0,100}$/, 'expected letters, digits, dots, dashes or underscores')
      .default(''),
    BUS_QUEUE_TYPE: z.enum(['classic', 'quorum']).default('classic'),
    BUS_PUBLISH_TIMEOUT: duration(100, 600_000).default(5_000),
    BUS_RETRY_ATTEMPTS: integer(1, 20).default(5),
    BUS_RETRY_DELAY: duration(100, 3_600_000).default(1_000),
    BUS_RETRY_MAX_DELAY: duration(100, 86_400_000).default(60_000),
    BUS_YIELD_MAX_LAG: duration(0, 3_600_000).default(30_000),
  },
  (v): BusConfig => ({
    rabbitmqUrl: v.RABBITMQ_URL,
    exchange: v.BUS_EXCHANGE,
    queuePrefix: v.BUS_QUEUE_PREFIX,
    queueType: v.BUS_QUEUE_TYPE,
    publishTimeoutMs: v.BUS_PUBLISH_TIMEOUT,
    retry: {
      maxAttempts: v.BUS_RETRY_ATTEMPTS,
      backoff: {
        initialMs: v.BUS_RETRY_DELAY,
        maxMs: Math.max(v.BUS_RETRY_DELAY, v.BUS_RETRY_MAX_DELAY),
      },
    },
    yieldMaxLagMs: v.BUS_YIELD_MAX_LAG,
  }),
);
