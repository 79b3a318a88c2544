// What the click pipeline had not stored when the bench stopped waiting:
// the visit recorder's messages still on the broker, counted click by click.
import { connect } from 'amqplib';
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
