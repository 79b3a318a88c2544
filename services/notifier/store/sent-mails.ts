// Which events have had their mail sent (sent_mails), or their notice posted
// to the webhook (sent_webhooks), by event id. Written after the mail
// is handed over, so a crash between the two sends it again on redelivery
// (at least once), and read before sending, so any later redelivery sends
// nothing.
import type { SqlEntityManager } from '@mikro-orm/sql';
import { inCall } from '../../../lib/db/call-fork.ts';
import { translateDatabaseError as translate } from '../../../lib/db/errors.ts';
import type { Dialect } from '../../../lib/db/migrations.ts';
import type { Orm } from '../../../lib/db/open.ts';

export class SentMails {
  readonly #orm: Orm;
  readonly #dialect: Dialect;
  readonly #table: string;

  constructor(orm: Orm, dialect: Dialect, table: 'sent_mails' | 'sent_webhooks' = 'sent_mails') {
    this.#orm = orm;
    this.#dialect = dialect;
    this.#table = table;
  }

  async #run<T>(work: (em: SqlEntityManager) => Promise<T>): Promise<T> {
    try {
      return await inCall(this.#orm, (em) => work(em as SqlEntityManager));
    } catch (error) {
      translate(error);
    }
  }

  async wasSent(eventId: string): Promise<boolean> {
    return this.#run(async (em) => {
      const rows = await em.execute<unknown[]>(
        `select 1 from \`${this.#table}\` where \`event_id\` = ?`,
        [eventId],
      );
      return rows.length > 0;
    });
  }

  /** Records the event's mail as sent; recording it again changes nothing. */
  async record(eventId: string, kind: string, sentAt: number): Promise<void> {
    const insert = this.#dialect === 'mysql' ? 'insert ignore into' : 'insert or ignore into';
    await this.#run((em) =>
      em.execute(
        `${insert} \`${this.#table}\` (\`event_id\`, \`kind\`, \`sent_at\`) values (?, ?, ?)`,
        [eventId, kind, sentAt],
      ),
    );
  }
}
