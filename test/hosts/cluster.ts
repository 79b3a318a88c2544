// The mesh on hosts of its own: two gateways behind HAProxy, two link and two
// analytics instances, identity and the notifier, and MariaDB, Redis and
// RabbitMQ of the harness's own, each process on a host (network namespace)
// of its own. Started once per suite; every story shares it.
import { waitForHttp } from '../../bench/processes.ts';
import { haproxyMissing, startBalancer } from './balancer.ts';
import { type Infra, startInfra } from './infra.ts';
import { Network } from './network.ts';
import { MeshProcess } from './services.ts';

export const HOSTS = [
  'lb',
  'gw1',
  'gw2',
  'link1',
  'link2',
  'an1',
  'an2',
  'identity',
  'notifier',
  'mariadb',
  'redis',
  'rabbitmq',
] as const;

/** How long a stopping gateway keeps serving with /readyz failing, so the balancer stops sending first. */
export const DRAIN_DELAY = '2500ms';
/** Short, so a link instance cut off from Redis stops issuing ids within a story. */
export const LEASE_TTL_MS = 3_000;

export interface Cluster {
  network: Network;
  infra: Infra;
  /** The balancer, as users reach it. */
  url: string;
  gateways: { process: MeshProcess; url: string }[];
  links: { process: MeshProcess; address: string }[];
  analytics: MeshProcess[];
  identity: MeshProcess;
  notifier: MeshProcess;
  /** Every service process, in the order a rolling restart goes through them. */
  services(): MeshProcess[];
  stop(): Promise<void>;
}

const join = (addresses: string[]) => `ipv4:${addresses.join(',')}`;

export async function startCluster(log: (line: string) => void): Promise<Cluster> {
  const missing = haproxyMissing();
  if (missing) throw new Error(missing);
  const network = Network.create(HOSTS);
  if (network.mode === 'loopback')
    log(
      `network namespaces unavailable: ${network.fallbackReason}; running the multi-host stories on loopback`,
    );
  else log(`network namespaces: ${network.namespaces.length} (one per host and the bridge)`);
  try {
    return await build(network);
  } catch (error) {
    await network.remove();
    throw error;
  }
}

async function build(network: Network): Promise<Cluster> {
  const infra = await startInfra(network, {
    mysql: 'mariadb',
    redis: 'redis',
    rabbitmq: 'rabbitmq',
  });
  const listen = async (host: string, usual: number) =>
    `${network.host(host).ip}:${await network.port(usual)}`;
  const at = {
    gw1: await listen('gw1', 8080),
    gw2: await listen('gw2', 8080),
    link1: await listen('link1', 50051),
    link2: await listen('link2', 50051),
    an1: await listen('an1', 50053),
    an2: await listen('an2', 50053),
    identity: await listen('identity', 50052),
    notifier: await listen('notifier', 50054),
  };
  const lbPort = await network.port(80);
  const publicUrl = `http://${network.host('lb').ip}:${lbPort}`;

  const shared = async (host: string): Promise<Record<string, string>> => {
    const mysql = await infra.mysqlAt(host);
    return {
      LOG_LEVEL: 'info',
      SHUTDOWN_TIMEOUT: '10s',
      SNOWFLAKE_LEASE_TTL: `${LEASE_TTL_MS}ms`,
      REDIS_URL: await infra.redisAt(host),
      REDIS_KEY_PREFIX: 'shm:',
      RABBITMQ_URL: await infra.rabbitmqAt(host),
      LINK_DATABASE_URL: `${mysql}/shortener_link`,
      IDENTITY_DATABASE_URL: `${mysql}/shortener_identity`,
      ANALYTICS_DATABASE_URL: `${mysql}/shortener_analytics`,
      NOTIFIER_DATABASE_URL: `${mysql}/shortener_notifier`,
      NOTIFIER_OUTBOX_DIR: `${network.dir}/outbox`,
      NOTIFIER_PUBLIC_BASE_URL: publicUrl,
      PUBLIC_BASE_URL: publicUrl,
      LINK_EXTEND_TOKEN_SECRET: 'the-same-secret-on-every-link-instance',
      LINK_SWEEP_INTERVAL: '300ms',
      LINK_GRPC_TARGET: join([at.link1, at.link2]),
      IDENTITY_LINK_GRPC_TARGET: join([at.link1, at.link2]),
      ANALYTICS_LINK_GRPC_TARGET: join([at.link1, at.link2]),
      ANALYTICS_GRPC_TARGET: join([at.an1, at.an2]),
      IDENTITY_GRPC_TARGET: at.identity,
      NOTIFIER_IDENTITY_GRPC_TARGET: at.identity,
      // Every request comes from the balancer's address: limits that a crowd behind one proxy does not hit.
      RATE_LIMIT_CREATE_PER_PRINCIPAL: '100000/1m',
      RATE_LIMIT_CREATE_PER_IP: '100000/1m',
      RATE_LIMIT_GUESTS_PER_IP: '100000/1h',
      CLICKS_FLUSH_INTERVAL: '50ms',
      GATEWAY_DRAIN_DELAY: DRAIN_DELAY,
    };
  };
  const service = async (
    host: keyof typeof at,
    name: MeshProcess['service'],
    listenVariable: string,
  ) =>
    new MeshProcess(network, host, name, {
      ...(await shared(host)),
      [listenVariable]: at[host],
    });

  const links = [
    await service('link1', 'link', 'LINK_GRPC_LISTEN'),
    await service('link2', 'link', 'LINK_GRPC_LISTEN'),
  ];
  const analytics = [
    await service('an1', 'analytics', 'ANALYTICS_GRPC_LISTEN'),
    await service('an2', 'analytics', 'ANALYTICS_GRPC_LISTEN'),
  ];
  const identity = await service('identity', 'identity', 'IDENTITY_GRPC_LISTEN');
  const notifier = await service('notifier', 'notifier', 'NOTIFIER_GRPC_LISTEN');
  const gateways = [
    await service('gw1', 'gateway', 'GATEWAY_LISTEN'),
    await service('gw2', 'gateway', 'GATEWAY_LISTEN'),
  ];
  // Link first: it makes the database others' migrations do not depend on, but
  // both instances race for the migration lock, as replicas would.
  await Promise.all(links.map((link) => link.start()));
  await Promise.all([identity, notifier, ...analytics].map((part) => part.start()));
  await Promise.all(gateways.map((gateway) => gateway.start()));
  const gatewayUrls = await Promise.all(
    (['gw1', 'gw2'] as const).map(async (host) => {
      const port = Number(at[host].split(':')[1]);
      return `http://${await network.reach(host, port)}`;
    }),
  );
  for (const url of gatewayUrls) await waitForHttp(`${url}/readyz`, (s) => s === 200, 30_000);

  startBalancer(network, 'lb', lbPort, [
    { name: 'gw1', address: at.gw1 },
    { name: 'gw2', address: at.gw2 },
  ]);
  const url = `http://${await network.reach('lb', lbPort)}`;
  await waitForHttp(`${url}/readyz`, (s) => s === 200, 15_000);

  const linkAddresses = await Promise.all(
    (['link1', 'link2'] as const).map((host) =>
      network.reach(host, Number(at[host].split(':')[1])),
    ),
  );
  return {
    network,
    infra,
    url,
    gateways: gateways.map((process, i) => ({ process, url: gatewayUrls[i] ?? '' })),
    links: links.map((process, i) => ({ process, address: linkAddresses[i] ?? '' })),
    analytics,
    identity,
    notifier,
    services: () => [...links, ...analytics, identity, notifier, ...gateways],
    async stop() {
      await Promise.all(
        [...gateways, ...links, ...analytics, identity, notifier].map((p) => p.stop(5_000)),
      );
      await network.remove();
    },
  };
}
