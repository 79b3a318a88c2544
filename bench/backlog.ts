// What the click pipeline had not stored when the bench stopped waiting:
// the visit recorder's messages still on the broker, counted click by click;
// and the wait for it to store what was answered, without loading the
// database that stores it.
import { connect } from 'amqplib';
import { createConnection } from 'mysql2/promise';
import { LinkClickedBatch } from '../gen/shortener/v1/events.ts';
import { CONSUMERS } from '../lib/bus/catalog.ts';
import type { BusConfig } from '../lib/bus/config.ts';
import { deadQueue, queuesOf } from '../lib/bus/topology.ts';

export interface Backlog {
  /** Clicks in the visit recorder's queue or its retry queues. */
  queuedClicks: number;
  /** Clicks in its dead-letter queue. */
  deadLetters: number;
}

/**
 * The clicks still waiting for the visit recorder (its queue and retry
 * queues) and those parked as dead letters, read off the broker and counted
 * click by click. Call it with analytics stopped: it hands back what it had
 * taken, so nothing is held unacknowledged. The messages are taken for good
 * (the bench removes the queues next).
 */
export async function recorderBacklog(config: BusConfig, url: string): Promise<Backlog> {
  const connection = await connect(url);
  let queuedClicks = 0;
  let deadLetters = 0;
  try {
    const channel = await connection.createChannel();
    const consumer = config.queuePrefix + CONSUMERS.visitRecorder.name;
    for (const queue of queuesOf(consumer, config.retry)) {
      for (;;) {
        const message = await channel.get(queue.name, { noAck: true });
        if (!message) break;
        const clicks = LinkClickedBatch.decode(message.content).clicks.length;
        if (queue.name === deadQueue(consumer)) deadLetters += clicks;
        else queuedClicks += clicks;
      }
    }
    return { queuedClicks, deadLetters };
  } finally {
    await connection.close();
  }
}

/** The visit recorder's queue, asked how many messages are ready (not those its consumer holds). */
export interface RecorderQueue {
  ready(): Promise<number>;
  close(): Promise<void>;
}

export async function recorderQueue(config: BusConfig, url: string): Promise<RecorderQueue> {
  const connection = await connect(url);
  const channel = await connection.createChannel();
  const queue = config.queuePrefix + CONSUMERS.visitRecorder.name;
  return {
    ready: async () => (await channel.checkQueue(queue)).messageCount,
    close: () => connection.close(),
  };
}

export interface StoredWait {
  /** Visits stored when the wait ended. */
  stored: number;
  /** Seconds until `expected` were stored; NaN if not within the wait. */
  seconds: number;
}

/**
 * Waits until `expected` visits are stored, for `waitMs` at most. COUNT(*)
 * reads the whole visits table (a million rows and more by a scenario's
 * end), work the database would take from the very pipeline it measures;
 * so it is asked once a second while the recorder's queue still holds
 * messages (asking the broker costs next to nothing), then every 100 ms,
 * once only the batches in the consumer's hands are left.
 */
export async function waitForStored(options: {
  databaseUrl: string;
  bus: BusConfig;
  rabbitmqUrl: string;
  expected: number;
  waitMs: number;
}): Promise<StoredWait> {
  const db = await createConnection({ uri: options.databaseUrl });
  const queue = await recorderQueue(options.bus, options.rabbitmqUrl);
  const start = performance.now();
  let stored = 0;
  let lastCount = Number.NEGATIVE_INFINITY;
  try {
    while (performance.now() - start < options.waitMs) {
      if ((await queue.ready()) === 0 || performance.now() - lastCount >= 1_000) {
        lastCount = performance.now();
        const [rows] = await db.query('SELECT COUNT(*) AS n FROM visits');
        stored = Number((rows as { n: number }[])[0]?.n ?? 0);
        if (stored >= options.expected) {
          return { stored, seconds: (performance.now() - start) / 1_000 };
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return { stored, seconds: Number.NaN };
  } finally {
    await queue.close();
    await db.end();
  }
}
