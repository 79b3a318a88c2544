// What test runs that did not finish left on the shared servers: databases,
// queues and exchanges named by uniqueName() (`t_<label>_<pid>_<hex>`) for a
// process that no longer runs. A run that stops half-way (a timeout, a
// killed worker) never reaches its cleanup, and on a machine that keeps its
// servers the leftovers add up: a broker out of file handles takes new
// connections no more. Each run removes them first; names of processes still
// running (another run at the same time) are left alone.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { connect } from 'amqplib';
import { createConnection } from 'mysql2/promise';

const run = promisify(execFile);
const OURS = /^t_.+?_(\d+)_[0-9a-f]{8}/;

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The names that belong to a test process that is gone. */
export function abandoned(names: readonly string[]): string[] {
  return names.filter((name) => {
    const pid = OURS.exec(name)?.[1];
    return pid !== undefined && !running(Number(pid));
  });
}

export async function dropAbandonedDatabases(mysqlUrl: string): Promise<number> {
  const db = await createConnection({ uri: mysqlUrl });
  try {
    const [rows] = await db.query("SHOW DATABASES LIKE 't\\_%'");
    const names = (rows as Record<string, string>[]).map((row) => Object.values(row)[0] ?? '');
    const gone = abandoned(names);
    for (const name of gone) await db.query(`DROP DATABASE IF EXISTS \`${name}\``);
    return gone.length;
  } finally {
    await db.end();
  }
}

/** Listed with rabbitmqctl, so only for a broker on this machine. */
async function listed(kind: 'queues' | 'exchanges'): Promise<string[]> {
  const { stdout } = await run(
    'rabbitmqctl',
    ['-q', `list_${kind}`, 'name', '--no-table-headers'],
    {
      timeout: 30_000,
    },
  );
  return stdout.split('\n').map((line) => line.trim());
}

export async function deleteAbandonedTopology(rabbitmqUrl: string): Promise<number> {
  const host = new URL(rabbitmqUrl).hostname;
  if (host !== '127.0.0.1' && host !== 'localhost') return 0;
  const queues = abandoned(await listed('queues'));
  const exchanges = abandoned(await listed('exchanges'));
  if (queues.length + exchanges.length === 0) return 0;
  const connection = await connect(rabbitmqUrl);
  try {
    const channel = await connection.createChannel();
    for (const queue of queues) await channel.deleteQueue(queue);
    for (const exchange of exchanges) await channel.deleteExchange(exchange);
    return queues.length + exchanges.length;
  } finally {
    await connection.close();
  }
}
