// MariaDB, Redis and RabbitMQ of the harness's own, each on a host of its own
// (the machine's listen on 127.0.0.1 only, which no namespace reaches; see
// TOOLCHAIN.md for the recipes). Each keeps its files in the network's folder
// and is a process group the network kills at the end.
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connect } from 'amqplib';
import { Redis } from 'ioredis';
import { type Connection, createConnection } from 'mysql2/promise';
import { sleep } from '../support/wait.ts';
import type { HostProcess, Network } from './network.ts';

const exec = promisify(execFile);

/** Root runs each server as the user it expects; anyone else runs them as themselves. */
const asRoot = process.getuid?.() === 0;
const me = asRoot ? 'root' : userInfo().username;

async function until<T>(what: string, timeoutMs: number, attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what} did not start`, { cause: error });
      await sleep(100);
    }
  }
}

export interface Infra {
  /** mysql://root@host:port, without a database. */
  mysqlAt(from: string): Promise<string>;
  /** Redis as `from` reaches it, over a path the network can cut (network.cut(from, redis)). */
  redisAt(from: string): Promise<string>;
  rabbitmqAt(from: string): Promise<string>;
  /** A connection for the test to read the stored state (through the server's Unix socket). */
  sql(database: string): Promise<Connection>;
  /** A Redis connection for the test (through the server's Unix socket). */
  redis(): Redis;
  /** The broker as the test reaches it, to watch what is published. */
  rabbitmqForTest: string;
  processes: HostProcess[];
}

async function startMariaDb(network: Network, host: string) {
  const dir = join(network.dir, 'mariadb');
  const socketPath = join(dir, 'sock');
  mkdirSync(dir);
  await exec('mariadb-install-db', [
    '--no-defaults',
    `--datadir=${dir}/data`,
    `--user=${me}`,
    '--auth-root-authentication-method=normal',
  ]);
  const port = await network.port(3306);
  const server = network.spawn(
    host,
    'mariadb',
    'mariadbd',
    [
      '--no-defaults',
      `--datadir=${dir}/data`,
      `--socket=${socketPath}`,
      `--port=${port}`,
      `--bind-address=${network.host(host).ip}`,
      `--user=${me}`,
      '--skip-log-bin',
      '--skip-name-resolve',
      '--innodb-buffer-pool-size=64M',
      '--max-connections=500',
    ],
    { PATH: process.env.PATH },
  );
  const admin = await until('mariadb', 20_000, () =>
    createConnection({ socketPath, user: 'root' }),
  );
  // The services connect over the network, from hosts of their own.
  await admin.query("CREATE USER IF NOT EXISTS 'root'@'%'");
  await admin.query("GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION");
  await admin.end();
  return { server, port, socketPath };
}

async function startRedis(network: Network, host: string) {
  const socketPath = join(network.dir, 'redis.sock');
  const port = await network.port(6379);
  const server = network.spawn(
    host,
    'redis',
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      network.host(host).ip,
      '--protected-mode',
      'no',
      '--unixsocket',
      socketPath,
      '--unixsocketperm',
      '700',
      '--save',
      '',
      '--appendonly',
      'no',
    ],
    { PATH: process.env.PATH },
  );
  await until('redis', 10_000, async () => {
    const probe = new Redis({ path: socketPath, lazyConnect: true, maxRetriesPerRequest: 0 });
    probe.on('error', () => {});
    try {
      await probe.connect();
      await probe.ping();
    } finally {
      probe.disconnect();
    }
  });
  return { server, port, socketPath };
}

const SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';

/** The recipe of TOOLCHAIN.md, run in the foreground (so it is one process group the network can kill). */
async function startRabbitMq(network: Network, host: string) {
  const dir = join(network.dir, 'rabbitmq');
  mkdirSync(dir);
  const port = await network.port(5672);
  const distPort = await network.port(25672);
  const ip = network.host(host).ip;
  // guest may connect only over loopback unless told otherwise; the services are on other hosts.
  writeFileSync(
    join(dir, 'rabbitmq.conf'),
    `listeners.tcp.1 = ${ip}:${port}\nloopback_users.guest = false\n`,
  );
  writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
  const node = `shm_${network.namespaceOf(host).replace(/-/g, '_')}@localhost`;
  // As root, the broker runs as its own user, its folders given to it;
  // anyone else runs it as themselves, with an Erlang cookie of the run's own.
  if (asRoot) await exec('chown', ['-R', 'rabbitmq:rabbitmq', dir]);
  const [command, args] = asRoot
    ? ['setpriv', ['--reuid=rabbitmq', '--regid=rabbitmq', '--init-groups', SERVER]]
    : [SERVER, []];
  const broker = network.spawn(
    host,
    'rabbitmq',
    command,
    args,
    {
      PATH: process.env.PATH,
      HOME: asRoot ? '/var/lib/rabbitmq' : dir,
      RABBITMQ_NODENAME: node,
      RABBITMQ_NODE_PORT: String(port),
      RABBITMQ_DIST_PORT: String(distPort),
      RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(dir, 'log'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
      RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    },
    asRoot ? '/var/lib/rabbitmq' : dir,
  );
  const reachable = await network.reach(host, port);
  await until('rabbitmq', 60_000, async () => {
    if (broker.child.exitCode !== null) throw new Error(`rabbitmq exited: ${broker.output()}`);
    const probe = await connect(`amqp://guest:guest@${reachable}`, { timeout: 1_000 });
    await probe.close();
  }).catch((error: Error) => {
    throw new Error(`${error.message}: ${broker.output().slice(-2_000)}`, { cause: error });
  });
  return { server: broker, port, reachable };
}

export async function startInfra(
  network: Network,
  hosts: { mysql: string; redis: string; rabbitmq: string },
): Promise<Infra> {
  const [mariadb, redis, rabbitmq] = await Promise.all([
    startMariaDb(network, hosts.mysql),
    startRedis(network, hosts.redis),
    startRabbitMq(network, hosts.rabbitmq),
  ]);
  return {
    mysqlAt: async (from) => `mysql://root@${await network.route(from, hosts.mysql, mariadb.port)}`,
    redisAt: async (from) => `redis://${await network.route(from, hosts.redis, redis.port, true)}`,
    rabbitmqAt: async (from) =>
      `amqp://guest:guest@${await network.route(from, hosts.rabbitmq, rabbitmq.port)}`,
    sql: (database) => createConnection({ socketPath: mariadb.socketPath, user: 'root', database }),
    redis: () => new Redis({ path: redis.socketPath }),
    rabbitmqForTest: `amqp://guest:guest@${rabbitmq.reachable}`,
    processes: [mariadb.server, redis.server, rabbitmq.server],
  };
}
