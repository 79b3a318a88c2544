// The deployment files in deploy/ checked against the code they run, with no
// Docker engine and no cluster: every variable they set is one the services
// read and holds a value the services accept, the ports agree across listen
// addresses, published ports, probes and Services, commands name entry points
// the image contains, and every kustomization lists the manifests beside it.
// The files are parsed here, not applied; the kustomize features resolved are
// the ones deploy/k8s uses (the test says so when it meets another).
import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import {
  addressOf,
  checkHealth,
  ENTRY_POINTS,
  HEALTH_SERVICES,
  type Role,
  roleOf,
} from '../../deploy/healthcheck.ts';
import { parseDuration } from '../../lib/config/parsers.ts';
import { Metrics } from '../../lib/metrics/metrics.ts';
import { exposition } from '../../lib/metrics/server.ts';
import { loadMeshConfig as loadConfig, MESH_VARIABLES, type MeshConfig } from '../../mesh.ts';
import { startTestMesh } from '../support/mesh.ts';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname.replace(/\/$/, '');
const DEPLOY = join(ROOT, 'deploy');
const K8S = join(DEPLOY, 'k8s');
const OVERLAYS = ['production', 'dev'];
const KNOWN = new Set<string>(MESH_VARIABLES);

type Env = Record<string, string>;

const read = (path: string) => readFileSync(path, 'utf8');
const portOf = (address: string) => Number(address.slice(address.lastIndexOf(':') + 1));
const hostOf = (address: string) => address.slice(0, address.lastIndexOf(':'));

function listenOf(role: Role, config: MeshConfig): string {
  return role === 'gateway' ? config.gateway.listen : config[role].listen;
}

/** Which processes each gRPC service admits: the gateway, and its callers inside the mesh. */
const CALLERS: Record<Exclude<Role, 'gateway'>, Role[]> = {
  link: ['gateway', 'analytics', 'identity'],
  identity: ['gateway', 'notifier'],
  analytics: ['gateway'],
  // No API of its own: nobody calls it (kubelet's probes come from the node).
  notifier: [],
};

/** Computed on first use, so a file that does not load fails the tests that need it, by name. */
function once<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => {
    made ??= { value: make() };
    return made.value;
  };
}

function unknownVariables(env: Env): string[] {
  return Object.keys(env).filter((name) => !KNOWN.has(name) && !name.startsWith('OTEL_'));
}

// ---------------------------------------------------------------- Dockerfile

interface Instruction {
  op: string;
  args: string;
}

/** Every instruction, comments dropped and continuation lines joined. */
function dockerfile(): Instruction[] {
  const lines = read(join(DEPLOY, 'Dockerfile'))
    .split('\n')
    .filter((line) => !line.trim().startsWith('#'));
  return lines
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [op = '', ...rest] = line.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(' ') };
    });
}

const instructions = dockerfile();
/** The final stage: what the image is. */
const stage = instructions.slice(instructions.map((i) => i.op).lastIndexOf('FROM'));
const only = (op: string) => stage.filter((i) => i.op === op);
const jsonArgs = (op: string): string[] => JSON.parse(only(op).at(-1)?.args ?? '[]');

/** Image path (relative to WORKDIR) → repository path, for each COPY from the build context. */
function copies(from: Instruction[]): Map<string, string> {
  const files = new Map<string, string>();
  for (const copy of from.filter((i) => i.op === 'COPY')) {
    const words = copy.args.split(/\s+/);
    if (words.some((word) => word.startsWith('--from'))) continue;
    const [destination = '', ...sources] = words.filter((w) => !w.startsWith('--')).reverse();
    for (const source of sources.reverse()) {
      const target = destination.endsWith('/') ? `${destination}${basename(source)}` : destination;
      files.set(target.replace(/^\.\//, ''), source);
    }
  }
  return files;
}

const IMAGE_FILES = copies(stage);

const IMAGE_ENV: Env = Object.fromEntries(
  only('ENV').flatMap((env) =>
    env.args.split(/\s+/).map((pair) => {
      const index = pair.indexOf('=');
      if (index < 0) throw new Error(`ENV ${pair}: write ENV NAME=value`);
      return [pair.slice(0, index), pair.slice(index + 1)];
    }),
  ),
);

const ENTRYPOINT = jsonArgs('ENTRYPOINT');

function inImage(path: string): boolean {
  const clean = path.replace(/^\.\//, '');
  return [...IMAGE_FILES.keys()].some((p) => clean === p || clean.startsWith(`${p}/`));
}

/** The entry point a container runs, checked to exist in the repository and the image. */
function entryOf(command: string[]): { role: Role; file: string } {
  const role = roleOf(command);
  const file = command.find((arg) => Object.keys(ENTRY_POINTS).includes(arg.replace(/^\.\//, '')));
  if (!role || !file) throw new Error(`${command.join(' ')} runs none of our entry points`);
  expect(existsSync(join(ROOT, file)), `${file} exists`).toBe(true);
  expect(inImage(file), `${file} is in the image`).toBe(true);
  return { role, file };
}

/**
 * Node's options in a command line before the entry file, the last of each
 * name winning, as node and V8 take them (`--import` takes the next argument).
 */
function nodeOptions(argv: readonly string[]): Map<string, string> {
  const options = new Map<string, string>();
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) break;
    if (arg === '--import') options.set(arg, argv[++i] ?? '');
    else {
      const equals = arg.indexOf('=');
      options.set(equals < 0 ? arg : arg.slice(0, equals), equals < 0 ? '' : arg.slice(equals + 1));
    }
  }
  return options;
}

/** The command line of `npm run start:<role>`, word by word. */
function startScript(role: Role): string[] {
  const scripts = (
    JSON.parse(read(join(ROOT, 'package.json'))) as { scripts: Record<string, string> }
  ).scripts;
  return (scripts[`start:${role}`] ?? '').split(/\s+/);
}

/** The node options `npm run start:<role>` runs the role with. */
function startScriptOptions(role: Role): Map<string, string> {
  return nodeOptions(startScript(role));
}

describe('the image', () => {
  test('when it is built, then every file it copies exists, keeps its place, and passes the ignore file', () => {
    expect(IMAGE_FILES.size).toBeGreaterThan(0);
    const ignore = read(join(DEPLOY, 'Dockerfile.dockerignore'))
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    // Only the allow-list form is understood here: everything out, then exceptions.
    expect(ignore[0]).toBe('*');
    const allowed = ignore.slice(1).map((line) => {
      expect(line.startsWith('!'), line).toBe(true);
      return line.slice(1).replace(/\/$/, '');
    });
    for (const [target, source] of copies(instructions)) {
      expect(existsSync(join(ROOT, source)), `${source} exists`).toBe(true);
      // Modules find their neighbours (gen/descriptor.binpb, …) by relative paths.
      expect(target, `${source} keeps its path in the image`).toBe(source);
      expect(
        allowed.some((a) => source === a || source.startsWith(`${a}/`)),
        `${source} passes deploy/Dockerfile.dockerignore`,
      ).toBe(true);
    }
    // Dependencies are installed from the lockfile.
    expect([...copies(instructions).values()]).toContain('package-lock.json');
  });

  test('when it starts, then it runs node as the npm start scripts do, with a default entry point and a health check', () => {
    // The same node flags as `npm run start:gateway` (and so as the benchmark).
    const startFlags = startScript('gateway').slice(0, -1);
    expect(ENTRYPOINT).toEqual(startFlags);
    const preload = ENTRYPOINT[ENTRYPOINT.indexOf('--import') + 1] ?? '';
    expect(existsSync(join(ROOT, preload))).toBe(true);
    expect(inImage(preload)).toBe(true);
    expect(entryOf([...ENTRYPOINT, ...jsonArgs('CMD')]).role).toBe('gateway');
    const healthcheck = only('HEALTHCHECK').at(-1)?.args ?? '';
    const check = JSON.parse(healthcheck.slice(healthcheck.indexOf('CMD') + 3)) as string[];
    expect(check[0]).toBe('node');
    expect(inImage(check[1] ?? '')).toBe(true);
    expect(only('USER').at(-1)?.args).toBe('node');
    expect(unknownVariables(IMAGE_ENV)).toEqual([]);
    expect(() => loadConfig(IMAGE_ENV)).not.toThrow();
  });

  test('when only what the image copies is present, then every entry point loads its whole import graph', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'image-'));
    try {
      for (const [target, source] of IMAGE_FILES) {
        cpSync(join(ROOT, source), join(dir, target), { recursive: true });
      }
      symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
      const modules = [...Object.keys(ENTRY_POINTS), MIGRATE, 'deploy/healthcheck.ts'];
      const script = `for (const m of ${JSON.stringify(modules)}) await import('./' + m); process.exit(0);`;
      const { stderr } = await run(
        process.execPath,
        [...ENTRYPOINT.slice(1), '--input-type=module', '-e', script],
        { cwd: dir, env: { PATH: process.env.PATH ?? '' }, timeout: 60_000 },
      );
      expect(stderr).not.toMatch(/ERR_MODULE_NOT_FOUND|Cannot find/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  test('when it installs only production dependencies, then every package its code imports is one', () => {
    const { dependencies } = JSON.parse(read(join(ROOT, 'package.json'))) as {
      dependencies: Record<string, string>;
    };
    const files = [...IMAGE_FILES.values()].flatMap(function walk(path: string): string[] {
      const full = join(ROOT, path);
      if (statSync(full).isDirectory()) {
        return readdirSync(full).flatMap((name) => walk(join(path, name)));
      }
      return path.endsWith('.ts') ? [path] : [];
    });
    const runtimeImport =
      /^(?:import|export)(\s+type)?[^;'"]*?from\s+'([^']+)'|^import\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/gm;
    const missing = new Set<string>();
    for (const file of files) {
      for (const match of read(join(ROOT, file)).matchAll(runtimeImport)) {
        if (match[1]) continue;
        const specifier = match[2] ?? match[3] ?? match[4] ?? '';
        if (specifier.startsWith('.') || specifier.startsWith('node:')) continue;
        const parts = specifier.split('/');
        const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? '');
        if (!(name in dependencies)) missing.add(`${name} (${file})`);
      }
    }
    expect([...missing]).toEqual([]);
  });
});

// ---------------------------------------------------------------- compose

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string | number | boolean> | string[];
  ports?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  stop_grace_period?: string;
  volumes?: string[];
  restart?: string;
}

/** The migration job's entry point: it runs once and exits, so it is no service. */
const MIGRATE = 'migrate.ts';
const runsMigrations = (command: readonly string[] = []) =>
  command.some((arg) => arg.replace(/^\.\//, '') === MIGRATE);

/** Compose's ${NAME}, ${NAME:-default}, ${NAME-default} and $$, with no variables set. */
function interpolate(value: unknown): unknown {
  if (typeof value === 'string') {
    return value.replace(
      /\$\$|\$\{([A-Za-z_]\w*)(?:(:?[-?])([^}]*))?\}/g,
      (match, name: string | undefined, operator: string | undefined, fallback = '') => {
        if (match === '$$') return '$';
        if (operator?.endsWith('?')) throw new Error(`${name} is required: ${fallback}`);
        return operator ? fallback : '';
      },
    );
  }
  if (Array.isArray(value)) return value.map(interpolate);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v)]));
  }
  return value;
}

const compose = interpolate(parse(read(join(DEPLOY, 'compose.yaml')), { merge: true })) as {
  services: Record<string, ComposeService>;
};

function composeEnv(service: ComposeService): Env {
  const environment = service.environment ?? {};
  const pairs = Array.isArray(environment)
    ? environment.map((line) => [
        line.slice(0, line.indexOf('=')),
        line.slice(line.indexOf('=') + 1),
      ])
    : Object.entries(environment).map(([name, value]) => [name, String(value)]);
  return Object.fromEntries(pairs);
}

interface OurService {
  name: string;
  role: Role;
  /** As the process sees it: the image's ENV, then the service's. */
  env: Env;
  config: MeshConfig;
  service: ComposeService;
}

const ourServices = once((): OurService[] =>
  Object.entries(compose.services)
    .filter(([, service]) => service.build?.dockerfile === 'deploy/Dockerfile')
    .filter(([, service]) => !runsMigrations(service.command))
    .map(([name, service]) => {
      const env = { ...IMAGE_ENV, ...composeEnv(service) };
      const { role } = entryOf([...ENTRYPOINT, ...(service.command ?? jsonArgs('CMD'))]);
      return { name, role, env, service, config: loadConfig(env) };
    }),
);

/** The port a URL names, or its scheme's default. */
function urlPort(url: URL): number {
  const defaults: Record<string, number> = {
    'amqp:': 5672,
    'amqps:': 5671,
    'redis:': 6379,
    'rediss:': 6379,
    'mysql:': 3306,
    'smtp:': 25,
    'smtps:': 465,
  };
  return url.port ? Number(url.port) : (defaults[url.protocol] ?? 0);
}

/** What a process needs to reach besides other gRPC services: its database, Redis and RabbitMQ (and the notifier its mail server). */
function dependenciesOf(role: Role, config: MeshConfig): { what: string; url: URL }[] {
  const urls: { what: string; url: string }[] = [
    { what: 'REDIS_URL', url: config.redisUrl },
    { what: 'RABBITMQ_URL', url: config.bus.rabbitmqUrl },
  ];
  if (role !== 'gateway') urls.push({ what: 'database', url: config[role].databaseUrl });
  if (role === 'notifier') urls.push({ what: 'NOTIFIER_SMTP_URL', url: config.notifier.smtpUrl });
  return urls.map(({ what, url }) => ({ what, url: new URL(url) }));
}

/** The bus's topology as committed for the broker (scripts/rabbitmq-definitions.ts renders it). */
const DEFINITIONS_FILE = join(DEPLOY, 'rabbitmq/definitions.json');
const definitions = once(
  () =>
    JSON.parse(read(DEFINITIONS_FILE)) as {
      exchanges: { name: string }[];
      queues: { name: string }[];
      vhosts?: unknown[];
      users?: unknown[];
    },
);

describe('compose.yaml', () => {
  test('when the stack starts, then the migration job migrates every service database once, and the services wait for it and apply nothing', () => {
    const jobs = Object.entries(compose.services).filter(([, s]) => runsMigrations(s.command));
    expect(jobs.map(([name]) => name)).toEqual(['migrations']);
    const [, job] = jobs[0] as [string, ComposeService];
    expect(inImage(MIGRATE), `${MIGRATE} is in the image`).toBe(true);
    expect(job.build?.dockerfile).toBe('deploy/Dockerfile');
    // A job that exits 0 must not be started again.
    expect(job.restart).toBe('no');
    expect(job.depends_on?.mariadb?.condition).toBe('service_healthy');
    const jobEnv = composeEnv(job);
    expect(unknownVariables(jobEnv)).toEqual([]);
    for (const { name, role, env, service } of ourServices()) {
      expect(env.DATABASE_MIGRATIONS, `${name} waits for the job`).toBe('await');
      if (role === 'gateway') continue;
      const variable = `${role.toUpperCase()}_DATABASE_URL`;
      expect(jobEnv[variable], `the job migrates ${name}'s database`).toBe(env[variable]);
      expect(service.depends_on?.migrations?.condition, name).toBe(
        'service_completed_successfully',
      );
    }
  });

  test('when our services start, then node runs each with the options of its npm start script', () => {
    for (const { name, role, service } of ourServices()) {
      const argv = [...ENTRYPOINT, ...(service.command ?? jsonArgs('CMD'))];
      expect(nodeOptions(argv), name).toEqual(startScriptOptions(role));
    }
    // Analytics, a batch consumer, runs with a larger young generation than the image's default.
    const analytics = ourServices().find((s) => s.role === 'analytics');
    expect(
      nodeOptions([...ENTRYPOINT, ...(analytics?.service.command ?? [])]).get(
        '--max-semi-space-size',
      ),
    ).toBe('32');
    expect(nodeOptions(ENTRYPOINT).get('--max-semi-space-size')).toBe('4');
  });

  test('when compose builds our services, then it builds this image from the repository root', () => {
    expect(
      ourServices()
        .map((s) => s.role)
        .sort(),
    ).toEqual(['analytics', 'gateway', 'identity', 'link', 'notifier']);
    for (const { service } of ourServices()) {
      expect(join(DEPLOY, service.build?.context ?? '')).toBe(ROOT);
    }
  });

  test('when our services start, then every variable they get is one the code reads (or an OTEL_ one) and validates', () => {
    for (const { name, env } of ourServices()) {
      expect(unknownVariables(env), name).toEqual([]);
      expect(() => loadConfig(env), name).not.toThrow();
      expect(env.OTEL_SERVICE_NAME, name).toBe(`shortener-${name}`);
    }
    const jaeger = new URL(ourServices()[0]?.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? '');
    expect(jaeger.hostname).toBe('jaeger');
    expect(jaeger.port).toBe('4318');
    expect(compose.services.jaeger?.ports?.map((p) => p.split(':').at(-1))).toEqual(
      expect.arrayContaining(['4317', '4318', '16686']),
    );
  });

  test('when link, identity and analytics start, then they use MariaDB and the shared Redis', () => {
    for (const { role, config } of ourServices()) {
      if (role === 'gateway') continue;
      const database = config[role].databaseUrl;
      expect(new URL(database).protocol).toBe('mysql:');
      expect(new URL(database).hostname).toBe('mariadb');
      expect(new URL(config.redisUrl).hostname).toBe('redis');
    }
    // Redis keeps nothing on disk, as in production.
    const redis = compose.services.redis?.command ?? [];
    const flag = (name: string) =>
      redis.includes(name) ? redis[redis.indexOf(name) + 1] : undefined;
    expect(flag('--save')).toBe('');
    expect(flag('--appendonly')).toBe('no');
    expect(compose.services.rabbitmq?.image).toMatch(/^rabbitmq:.*management/);
  });

  test('when the gateway dials link, identity and analytics, and analytics dials link, then they name their services and listen ports', () => {
    const gateway = ourServices().find((s) => s.role === 'gateway');
    const analytics = ourServices().find((s) => s.role === 'analytics');
    const identity = ourServices().find((s) => s.role === 'identity');
    if (!gateway || !analytics || !identity) throw new Error('no gateway, analytics or identity');
    const published = (gateway.service.ports ?? []).map((p) => Number(p.split(':').at(-1)));
    expect(published).toContain(portOf(gateway.config.gateway.listen));
    for (const [target, role] of [
      [gateway.config.gateway.linkTarget, 'link'],
      [gateway.config.gateway.identityTarget, 'identity'],
      [gateway.config.gateway.analyticsTarget, 'analytics'],
      [analytics.config.analytics.linkTarget, 'link'],
      [identity.config.identity.linkTarget, 'link'],
    ] as const) {
      const callee = ourServices().find((s) => s.name === hostOf(target));
      expect(callee?.role, target).toBe(role);
      if (callee) expect(portOf(target)).toBe(portOf(listenOf(role, callee.config)));
    }
  });

  test('when the notifier mails a link, then it points at the gateway’s public address', () => {
    const gateway = ourServices().find((s) => s.role === 'gateway');
    const notifier = ourServices().find((s) => s.role === 'notifier');
    expect(notifier?.config.notifier.publicBaseUrl).toBe(gateway?.config.gateway.publicBaseUrl);
    expect(notifier?.config.notifier.smtpUrl, 'mail goes to a server, not a file').toMatch(
      /^smtps?:\/\//,
    );
  });

  test('when compose waits for health, then each check asks the right process and stopping leaves time to drain', () => {
    for (const { name, role, service, config } of ourServices()) {
      const check = service.healthcheck?.test ?? [];
      expect(check.slice(0, 3), name).toEqual(['CMD', 'node', 'deploy/healthcheck.ts']);
      expect(roleOf(check) ?? check[3], name).toBe(role);
      const grace = parseDuration(service.stop_grace_period ?? '10s') ?? 0;
      expect(grace, name).toBeGreaterThan(config.shutdownTimeoutMs + 5_000);
    }
    for (const [name, service] of Object.entries(compose.services)) {
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        expect(compose.services[dependency], `${name} → ${dependency}`).toBeDefined();
        if (condition === 'service_healthy') {
          expect(compose.services[dependency]?.healthcheck, dependency).toBeDefined();
        }
      }
    }
  });

  test('when a process records or consumes events, then it reaches the compose broker as its user, and the gateway shares Redis', () => {
    const broker = compose.services.rabbitmq;
    const brokerEnv = composeEnv(broker ?? {});
    const services = ourServices();
    for (const { name, role, config } of services) {
      // Every process opens the bus: an empty URL would give it an in-process
      // bus of its own, and the gateway's clicks would reach no consumer.
      const url = new URL(config.bus.rabbitmqUrl);
      expect(url.protocol, name).toBe('amqp:');
      expect(url.hostname, name).toBe('rabbitmq');
      expect(urlPort(url), name).toBe(5672);
      expect(decodeURIComponent(url.username), name).toBe(brokerEnv.RABBITMQ_DEFAULT_USER);
      expect(decodeURIComponent(url.password), name).toBe(brokerEnv.RABBITMQ_DEFAULT_PASS);
      expect(url.pathname.replace(/^\//, ''), `${name} uses the default vhost`).toBe('');
      // The gateway leases a Snowflake worker id for click event ids: from the
      // same Redis, under the same prefix, as every other process.
      expect(new URL(config.redisUrl).hostname, `${role} uses the shared Redis`).toBe('redis');
    }
    for (const key of ['redisUrl', 'redisKeyPrefix'] as const) {
      expect(new Set(services.map((s) => s.config[key])).size, key).toBe(1);
    }
    for (const key of ['rabbitmqUrl', 'exchange', 'queuePrefix'] as const) {
      expect(new Set(services.map((s) => s.config.bus[key])).size, key).toBe(1);
    }
  });

  test('when the stack starts, then each process waits for the database, Redis and RabbitMQ it uses to be healthy', () => {
    for (const { name, role, service, config } of ourServices()) {
      const dependsOn = service.depends_on ?? {};
      for (const { what, url } of dependenciesOf(role, config)) {
        const host = url.hostname;
        expect(compose.services[host], `${name}: ${what} names a compose service`).toBeDefined();
        expect(dependsOn[host]?.condition, `${name} waits for ${host} (${what})`).toBe(
          'service_healthy',
        );
      }
    }
    // The gateway starts after the services it dials.
    const gateway = ourServices().find((s) => s.role === 'gateway');
    for (const target of [
      gateway?.config.gateway.linkTarget,
      gateway?.config.gateway.identityTarget,
      gateway?.config.gateway.analyticsTarget,
    ]) {
      const host = hostOf(target ?? '');
      expect(gateway?.service.depends_on?.[host]?.condition, `gateway waits for ${host}`).toBe(
        'service_healthy',
      );
    }
  });

  test('when RabbitMQ starts, then it is given the bus topology before any process runs, and keeps its user', () => {
    const mounted = Object.entries(compose.services).filter(([, service]) =>
      (service.volumes ?? []).some(
        (volume) => join(DEPLOY, volume.split(':')[0] ?? '') === DEFINITIONS_FILE,
      ),
    );
    expect(
      mounted.map(([name]) => name),
      'one service hands the broker rabbitmq/definitions.json',
    ).toHaveLength(1);
    const [loader = '', service = {}] = mounted[0] ?? [];
    if (loader === 'rabbitmq') {
      // A node that loads definitions at boot seeds no default user or vhost
      // (RABBITMQ_DEFAULT_USER is ignored): the file would have to bring both.
      expect(definitions().vhosts, 'definitions loaded at boot declare the vhost').toBeDefined();
      expect(definitions().users, 'definitions loaded at boot declare the user').toBeDefined();
    } else {
      // Imported through the management API once the broker is healthy, as its user.
      const brokerEnv = composeEnv(compose.services.rabbitmq ?? {});
      const command = service.command ?? [];
      const path = (service.volumes ?? [])
        .find((v) => join(DEPLOY, v.split(':')[0] ?? '') === DEFINITIONS_FILE)
        ?.split(':')[1];
      expect(command, loader).toContain(`@${path}`);
      expect(command, loader).toContain('http://rabbitmq:15672/api/definitions');
      expect(command, loader).toContain(
        `${brokerEnv.RABBITMQ_DEFAULT_USER}:${brokerEnv.RABBITMQ_DEFAULT_PASS}`,
      );
      expect(command, `${loader} fails when the import does`).toContain('--fail-with-body');
      expect(service.depends_on?.rabbitmq?.condition, loader).toBe('service_healthy');
      for (const { name, service: ours } of ourServices()) {
        expect(ours.depends_on?.[loader]?.condition, `${name} waits for ${loader}`).toBe(
          'service_completed_successfully',
        );
      }
    }
    expect(compose.services.rabbitmq?.ports ?? []).toContain('127.0.0.1:15672:15672');
    // The definitions name the exchange and queues the processes declare.
    for (const { name, config } of ourServices()) {
      expect(
        definitions().exchanges.map((e) => e.name),
        name,
      ).toEqual([config.bus.exchange]);
      expect(config.bus.queuePrefix, `${name}: the definitions' queue names carry no prefix`).toBe(
        '',
      );
    }
  });
});

// ---------------------------------------------------------------- metrics: Prometheus and Grafana

interface ScrapeJob {
  job_name: string;
  dns_sd_configs?: { names: string[]; type: string; port: number }[];
  static_configs?: { targets: string[] }[];
}

const PROMETHEUS_FILE = join(DEPLOY, 'prometheus/prometheus.yml');
const GRAFANA = join(DEPLOY, 'grafana');
const scrapeJobs = once(
  () => (parse(read(PROMETHEUS_FILE)) as { scrape_configs: ScrapeJob[] }).scrape_configs,
);

function metricsListenOf(role: Role, config: MeshConfig): string {
  return role === 'gateway' ? config.gateway.metricsListen : config[role].metricsListen;
}

/** Where a container's path is mounted from, in deploy/ (undefined if it is not). */
function mountedFrom(service: ComposeService, inside: string): string | undefined {
  const volume = (service.volumes ?? []).find((v) => v.split(':')[1] === inside);
  return volume && join(DEPLOY, volume.split(':')[0] ?? '');
}

interface DashboardPanel {
  type: string;
  title: string;
  datasource?: { uid: string };
  targets?: { expr: string; datasource?: { uid: string } }[];
}

/** The metric names a PromQL expression reads: what is left once labels, ranges, groupings and functions are gone. */
function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without)\s*\([^)]*\)/g, '');
  return [...bare.matchAll(/\b[a-zA-Z_:][a-zA-Z0-9_:]*\b(?!\s*\()/g)].map((m) => m[0]);
}

/** Every series name the code exposes: its families and, for histograms and summaries, their parts. */
async function exposedNames(): Promise<Set<string>> {
  const text = await exposition(new Metrics());
  const names = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name as string);
    if (type === 'histogram')
      for (const part of ['_bucket', '_count', '_sum']) names.add(`${name}${part}`);
    if (type === 'summary') for (const part of ['_count', '_sum']) names.add(`${name}${part}`);
  }
  return names;
}

describe('metrics: Prometheus and Grafana', () => {
  test('when Prometheus scrapes the compose stack, then each of our services is a job asking for its every replica at the port it serves metrics on', () => {
    const jobs = scrapeJobs();
    for (const { name, role, config } of ourServices()) {
      const listen = metricsListenOf(role, config);
      expect(listen, `${name} serves metrics`).not.toBe('off');
      expect(hostOf(listen), `${name} serves metrics beyond its container`).toBe('0.0.0.0');
      const job = jobs.find((j) => j.job_name === role);
      expect(job, `a scrape job for ${name}`).toBeDefined();
      expect(job?.dns_sd_configs, `${name}: every replica, by DNS`).toEqual([
        { names: [name], type: 'A', port: portOf(listen) },
      ]);
      // Metrics stay inside the stack: Prometheus reaches them, the host does not.
      expect(
        (compose.services[name]?.ports ?? []).some((p) => p.endsWith(`:${portOf(listen)}`)),
        `${name} does not publish its metrics port`,
      ).toBe(false);
    }
    expect(jobs.map((j) => j.job_name).sort()).toEqual(
      ourServices()
        .map((s) => s.role)
        .sort(),
    );
    const prometheus = compose.services.prometheus ?? {};
    expect(mountedFrom(prometheus, '/etc/prometheus/prometheus.yml')).toBe(PROMETHEUS_FILE);
  });

  test('when Grafana starts, then it is provisioned with Prometheus and the dashboard folder compose mounts', () => {
    const grafana = compose.services.grafana ?? {};
    expect(mountedFrom(grafana, '/etc/grafana/provisioning')).toBe(join(GRAFANA, 'provisioning'));
    const dashboards = mountedFrom(grafana, '/var/lib/grafana/dashboards');
    expect(dashboards).toBe(join(GRAFANA, 'dashboards'));
    const source = parse(read(join(GRAFANA, 'provisioning/datasources/prometheus.yaml')));
    expect(source.datasources).toEqual([
      expect.objectContaining({
        uid: 'prometheus',
        type: 'prometheus',
        url: 'http://prometheus:9090',
      }),
    ]);
    const provider = parse(read(join(GRAFANA, 'provisioning/dashboards/shortener.yaml')));
    expect(provider.providers[0].options.path).toBe('/var/lib/grafana/dashboards');
    expect(readdirSync(dashboards ?? '')).toContain('shortener.json');
    expect(grafana.depends_on?.prometheus).toBeDefined();
  });

  test('when the dashboard is loaded, then it parses, reads Prometheus, and shows only metrics the code registers, every one of ours among them', async () => {
    const dashboard = JSON.parse(read(join(GRAFANA, 'dashboards/shortener.json'))) as {
      uid: string;
      panels: DashboardPanel[];
    };
    expect(dashboard.uid).toBe('shortener-mesh');
    const exposed = await exposedNames();
    const shown = new Set<string>();
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
      expect(panel.datasource?.uid, panel.title).toBe('prometheus');
      expect(panel.targets?.length, `${panel.title} has queries`).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) {
        const names = metricNamesIn(target.expr);
        expect(names.length, `${panel.title}: ${target.expr}`).toBeGreaterThan(0);
        for (const name of names) {
          expect(
            exposed.has(name),
            `${panel.title} reads ${name}, which the code does not register`,
          ).toBe(true);
          shown.add(name.replace(/_(bucket|count|sum)$/, ''));
        }
      }
    }
    const ours = [...exposed].filter(
      (n) => n.startsWith('shortener_') || /^(http|rpc)_server_/.test(n),
    );
    const families = ours.filter(
      (n) => !/_(bucket|count|sum)$/.test(n) || !exposed.has(n.replace(/_(bucket|count|sum)$/, '')),
    );
    expect(
      families.filter((n) => !shown.has(n)),
      'metrics of ours missing from the dashboard',
    ).toEqual([]);
  });
});

// ---------------------------------------------------------------- kubernetes

interface KeyRef {
  name: string;
  key: string;
  optional?: boolean;
}

interface Probe {
  httpGet?: { path: string; port: number | string };
  grpc?: { port: number; service?: string };
  periodSeconds?: number;
}

interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: {
    name: string;
    value?: string;
    valueFrom?: { configMapKeyRef?: KeyRef; secretKeyRef?: KeyRef; fieldRef?: object };
  }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] }; sleep?: { seconds: number } } };
  resources?: { requests?: Env; limits?: Env };
  securityContext?: {
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { drop?: string[] };
  };
}

interface Manifest {
  apiVersion?: string;
  kind: string;
  metadata: { name: string; labels?: Env };
  data?: Env;
  spec?: {
    replicas?: number;
    /** A Service's labels, or a Deployment's or PodDisruptionBudget's matchLabels. */
    selector?: Env | { matchLabels?: Env };
    clusterIP?: string;
    ports?: { name?: string; port: number; targetPort?: number | string }[];
    /** A NetworkPolicy's pods and who may reach them. */
    podSelector?: { matchLabels?: Env };
    policyTypes?: string[];
    ingress?: { from?: Peer[]; ports?: { port: number }[] }[];
    egress?: { to?: Peer[]; ports?: { port: number; endPort?: number }[] }[];
    maxUnavailable?: number;
    /** A HorizontalPodAutoscaler's target, bounds and signals. */
    scaleTargetRef?: { kind: string; name: string };
    minReplicas?: number;
    maxReplicas?: number;
    metrics?: { type: string; resource?: { name: string } }[];
    template?: {
      metadata: { labels: Env; annotations?: Env };
      spec: {
        containers: Container[];
        terminationGracePeriodSeconds?: number;
        securityContext?: { runAsNonRoot?: boolean };
      };
    };
  };
}

/** A NetworkPolicy's peer: pods by label, or addresses outside the cluster. */
interface Peer {
  podSelector?: { matchLabels?: Env };
  namespaceSelector?: { matchLabels?: Env };
  ipBlock?: { cidr: string };
}

interface Generator {
  name: string;
  behavior?: string;
  literals?: string[];
  envs?: string[];
}

interface Kustomization {
  resources?: string[];
  patches?: { path?: string; patch?: string }[];
  configMapGenerator?: Generator[];
  secretGenerator?: Generator[];
}

interface Build {
  manifests: Manifest[];
  secrets: Map<string, Env>;
}

const readKustomization = (dir: string) =>
  parse(read(join(dir, 'kustomization.yaml'))) as Kustomization;

function manifestsIn(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((document): unknown => document.toJS())
    .filter((value): value is Manifest => Boolean(value));
}

function envFile(path: string): Env {
  // A secrets file is not committed: its committed example stands in for it.
  const file = existsSync(path) ? path : `${path}.example`;
  return literals(read(file).split('\n'));
}

function literals(lines: string[]): Env {
  return Object.fromEntries(
    lines
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

function generated(dir: string, generator: Generator): Env {
  const unsupported = Object.keys(generator).filter(
    (key) => !['name', 'behavior', 'literals', 'envs'].includes(key),
  );
  if (unsupported.length) throw new Error(`extend this test for generator ${unsupported}`);
  return {
    ...Object.assign({}, ...(generator.envs ?? []).map((file) => envFile(join(dir, file)))),
    ...literals(generator.literals ?? []),
  };
}

/** What `kustomize build dir` would give, as far as env, ports and probes go. */
function build(dir: string): Build {
  const kustomization = readKustomization(dir);
  const result: Build = { manifests: [], secrets: new Map() };
  for (const resource of kustomization.resources ?? []) {
    const path = join(dir, resource);
    if (statSync(path).isDirectory()) {
      const inner = build(path);
      result.manifests.push(...inner.manifests);
      for (const [name, data] of inner.secrets) result.secrets.set(name, data);
    } else {
      result.manifests.push(...manifestsIn(read(path)));
    }
  }
  const configMap = (name: string) =>
    result.manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.name === name);
  for (const generator of kustomization.configMapGenerator ?? []) {
    const data = generated(dir, generator);
    const existing = configMap(generator.name);
    if (generator.behavior === 'merge' && existing) existing.data = { ...existing.data, ...data };
    else
      result.manifests.push({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: generator.name },
        data,
      });
  }
  for (const generator of kustomization.secretGenerator ?? []) {
    const previous = generator.behavior === 'merge' ? result.secrets.get(generator.name) : {};
    result.secrets.set(generator.name, { ...previous, ...generated(dir, generator) });
  }
  for (const patch of kustomization.patches ?? []) {
    for (const change of manifestsIn(
      patch.path ? read(join(dir, patch.path)) : (patch.patch ?? ''),
    )) {
      const target = configMap(change.metadata.name);
      if (change.kind !== 'ConfigMap' || !target) {
        throw new Error(`extend this test for a patch of ${change.kind} ${change.metadata.name}`);
      }
      target.data = { ...target.data, ...change.data };
    }
  }
  return result;
}

/** A container's environment as the process sees it: the image's ENV, envFrom, then env. */
function podEnv(container: Container, { manifests, secrets }: Build): Env {
  const configMap = (name: string) => {
    const found = manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.name === name);
    if (!found) throw new Error(`no ConfigMap ${name}`);
    return found.data ?? {};
  };
  const secret = (name: string) => {
    const found = secrets.get(name);
    if (!found) throw new Error(`no Secret ${name}`);
    return found;
  };
  const env: Env = { ...IMAGE_ENV };
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef) Object.assign(env, configMap(source.configMapRef.name));
    if (source.secretRef) Object.assign(env, secret(source.secretRef.name));
  }
  for (const variable of container.env ?? []) {
    const from = variable.valueFrom;
    const ref = from?.configMapKeyRef ?? from?.secretKeyRef;
    const data = ref && (from?.configMapKeyRef ? configMap(ref.name) : secret(ref.name));
    const value = ref ? data?.[ref.key] : from?.fieldRef ? 'from-the-pod' : variable.value;
    // An optional key left out leaves the variable unset, as the kubelet does.
    if (value === undefined && ref?.optional) continue;
    if (value === undefined) throw new Error(`${variable.name}: ${ref?.name} has no ${ref?.key}`);
    env[variable.name] = value;
  }
  return env;
}

interface Pod {
  deployment: Manifest;
  container: Container;
  role: Role;
  env: Env;
  config: MeshConfig;
}

function ourPods(built: Build): Pod[] {
  return built.manifests
    .filter((m) => m.kind === 'Deployment')
    .flatMap((deployment) =>
      (deployment.spec?.template?.spec.containers ?? [])
        .filter((container) => container.image === 'shortener')
        .map((container) => {
          const env = podEnv(container, built);
          const command = container.command ?? [...ENTRYPOINT, ...(container.args ?? [])];
          return {
            deployment,
            container,
            env,
            role: entryOf(command).role,
            config: loadConfig(env),
          };
        }),
    );
}

/** The kubernetes-models class for a manifest's apiVersion and kind (its JSON-schema validation). */
async function modelOf(manifest: Manifest): Promise<new (data: unknown) => { validate(): void }> {
  const version = manifest.apiVersion ?? '';
  const module = (await import(`kubernetes-models/${version}`)) as Record<string, unknown>;
  const model = module[manifest.kind];
  if (typeof model !== 'function') throw new Error(`no model of ${version} ${manifest.kind}`);
  return model as new (
    data: unknown,
  ) => { validate(): void };
}

/** Does this Service (its selector) or budget (its matchLabels) pick pods with these labels? */
function selects(manifest: Manifest | undefined, labels: Env): boolean {
  const selector = manifest?.spec?.selector ?? {};
  const wanted = 'matchLabels' in selector ? selector.matchLabels : selector;
  return Object.entries(wanted ?? {}).every(([key, value]) => labels[key] === value);
}

/** Does this NetworkPolicy apply to pods with these labels (an empty selector picks every pod)? */
function policyPicks(policy: Manifest, labels: Env): boolean {
  return Object.entries(policy.spec?.podSelector?.matchLabels ?? {}).every(
    ([key, value]) => labels[key] === value,
  );
}

/**
 * Do these rules let traffic through to (or from) a peer on a port? A peer
 * inside the build is known by its pods' labels; one outside it (a managed
 * service) only by address, which an ipBlock or namespace selector may admit.
 */
function rulesAllow(
  rules: { peers?: Peer[]; ports?: { port: number; endPort?: number }[] }[],
  peer: Env | undefined,
  port: number,
): boolean {
  return rules.some(({ peers, ports }) => {
    const portOk =
      !ports?.length ||
      ports.some((p) => p.port === port || (p.port <= port && port <= (p.endPort ?? 0)));
    const peerOk =
      !peers?.length ||
      peers.some((candidate) =>
        peer
          ? candidate.podSelector !== undefined &&
            Object.entries(candidate.podSelector.matchLabels ?? {}).every(
              ([key, value]) => peer[key] === value,
            )
          : candidate.ipBlock !== undefined || candidate.namespaceSelector !== undefined,
      );
    return portOk && peerOk;
  });
}

function kustomizationDirs(dir: string): string[] {
  const here = existsSync(join(dir, 'kustomization.yaml')) ? [dir] : [];
  const below = readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) => kustomizationDirs(join(dir, entry.name)));
  return [...here, ...below];
}

describe('kubernetes manifests', () => {
  test('when kustomize builds a folder, then its kustomization lists every manifest in it', () => {
    const dirs = kustomizationDirs(K8S);
    expect(dirs.map((dir) => relative(K8S, dir)).sort()).toEqual(
      ['base', ...OVERLAYS.map((o) => `overlays/${o}`)].sort(),
    );
    for (const dir of dirs) {
      const kustomization = readKustomization(dir);
      const listed = [
        ...(kustomization.resources ?? []),
        ...(kustomization.patches ?? []).flatMap((patch) => (patch.path ? [patch.path] : [])),
      ];
      for (const entry of listed) expect(existsSync(join(dir, entry)), entry).toBe(true);
      const manifests = readdirSync(dir).filter(
        (name) => /\.ya?ml$/.test(name) && name !== 'kustomization.yaml',
      );
      expect(listed.filter((entry) => !entry.includes('/')).sort(), relative(K8S, dir)).toEqual(
        manifests.sort(),
      );
    }
  });

  test('when the production secrets file is written, then git ignores it and its example names every key', async () => {
    const file = 'deploy/k8s/overlays/production/secrets.env';
    await expect(run('git', ['check-ignore', '-q', file], { cwd: ROOT })).resolves.toBeDefined();
    const example = envFile(join(ROOT, `${file}.example`));
    const wanted = ourPods(build(join(K8S, 'overlays/production'))).flatMap(({ container }) =>
      (container.env ?? []).flatMap((v) =>
        v.valueFrom?.secretKeyRef ? [v.valueFrom.secretKeyRef.key] : [],
      ),
    );
    expect(Object.keys(example).sort()).toEqual([...new Set(wanted)].sort());
  });

  describe.each(OVERLAYS)('the %s overlay', (overlay) => {
    const built = once(() => build(join(K8S, 'overlays', overlay)));
    const pods = once(() => ourPods(built()));
    const services = once(() => built().manifests.filter((m) => m.kind === 'Service'));

    test('when its pods start, then node runs each with the options of its npm start script', () => {
      expect(pods().length).toBeGreaterThan(0);
      for (const { deployment, container, role } of pods()) {
        const argv = container.command ?? [...ENTRYPOINT, ...(container.args ?? [])];
        expect(nodeOptions(argv), deployment.metadata.name).toEqual(startScriptOptions(role));
      }
    });

    test('when it is applied, then every manifest is valid against the Kubernetes API schemas', async () => {
      const manifests = built().manifests;
      expect(manifests.length).toBeGreaterThan(0);
      for (const manifest of manifests) {
        const name = `${manifest.kind} ${manifest.metadata.name}`;
        const model = await modelOf(manifest);
        expect(() => new model(manifest).validate(), name).not.toThrow();
      }
      // The check does check: a port given as words is refused.
      const deployment = manifests.find((m) => m.kind === 'Deployment') as Manifest;
      const broken = structuredClone(deployment);
      const container = broken.spec?.template?.spec.containers[0];
      if (container?.ports?.[0]) Object.assign(container.ports[0], { containerPort: 'http' });
      const model = await modelOf(broken);
      expect(() => new model(broken).validate()).toThrow(/containerPort/);
    });

    test('when it is applied, then the migration Job migrates every service database with the pods’ own URLs, and every service waits for it', () => {
      const jobs = built().manifests.filter((m) => m.kind === 'Job');
      expect(jobs.map((job) => job.metadata.name)).toEqual(['migrations']);
      const job = jobs[0] as Manifest;
      const container = job.spec?.template?.spec.containers[0] as Container;
      const command = container.command ?? [...ENTRYPOINT, ...(container.args ?? [])];
      expect(runsMigrations(command)).toBe(true);
      expect(inImage(MIGRATE)).toBe(true);
      const jobEnv = podEnv(container, built());
      expect(unknownVariables(jobEnv)).toEqual([]);
      for (const { deployment, env, role } of pods()) {
        expect(env.DATABASE_MIGRATIONS, deployment.metadata.name).toBe('await');
        if (role === 'gateway') continue;
        const variable = `${role.toUpperCase()}_DATABASE_URL`;
        expect(jobEnv[variable], `the Job migrates ${role}'s database`).toBe(env[variable]);
      }
    });

    test('when load grows, then each Deployment has one CPU autoscaler from its replicas up, above what its disruption budget keeps', () => {
      const autoscalers = built().manifests.filter((m) => m.kind === 'HorizontalPodAutoscaler');
      for (const { deployment } of pods()) {
        const name = deployment.metadata.name;
        const own = autoscalers.filter((a) => a.spec?.scaleTargetRef?.name === name);
        expect(own, name).toHaveLength(1);
        const spec = own[0]?.spec;
        expect(spec?.scaleTargetRef?.kind, name).toBe('Deployment');
        expect(spec?.minReplicas, name).toBe(deployment.spec?.replicas);
        expect(spec?.maxReplicas ?? 0, name).toBeGreaterThan(spec?.minReplicas ?? 0);
        expect(
          spec?.metrics?.map((m) => m.resource?.name),
          name,
        ).toEqual(['cpu']);
        // Utilisation is measured against requests: a container without one cannot scale.
        const container = deployment.spec?.template?.spec.containers[0] as Container;
        expect(container.resources?.requests?.cpu, name).toBeDefined();
      }
      expect(autoscalers).toHaveLength(pods().length);
    });

    test('when it is applied, then it runs gateway ×2, link ×3, identity ×2, analytics ×2 and notifier ×2, each with a disruption budget', () => {
      const replicas = Object.fromEntries(pods().map((p) => [p.role, p.deployment.spec?.replicas]));
      expect(replicas).toEqual({ gateway: 2, link: 3, identity: 2, analytics: 2, notifier: 2 });
      for (const { deployment } of pods()) {
        const labels = deployment.spec?.template?.metadata.labels ?? {};
        const budgets = built().manifests.filter(
          (m) => m.kind === 'PodDisruptionBudget' && selects(m, labels),
        );
        expect(budgets, deployment.metadata.name).toHaveLength(1);
      }
    });

    test('when the notifier mails a link, then it points at the gateway’s public address, through a mail server', () => {
      const gateway = pods().find((p) => p.role === 'gateway');
      const notifier = pods().find((p) => p.role === 'notifier');
      expect(notifier?.config.notifier.publicBaseUrl).toBe(gateway?.config.gateway.publicBaseUrl);
      expect(notifier?.config.notifier.smtpUrl).toMatch(/^smtps?:\/\//);
    });

    test('when a pod starts, then every variable it gets is one the code reads (or an OTEL_ one) and validates', () => {
      for (const { deployment, env, role, config } of pods()) {
        const name = deployment.metadata.name;
        expect(unknownVariables(env), name).toEqual([]);
        expect(env.OTEL_SERVICE_NAME, name).toBe(`shortener-${role}`);
        if (role === 'gateway') {
          expect(env.PUBLIC_BASE_URL, 'the gateway is told its public address').toBeDefined();
          continue;
        }
        // Several replicas: MySQL, and Redis for leases, limits and cache.
        const database = config[role].databaseUrl;
        expect(database, name).toMatch(/^mysql:\/\//);
        expect(config.redisUrl, name).toMatch(/^rediss?:\/\//);
      }
    });

    test('when traffic and probes arrive, then ports, probes and Services agree with the listen address', () => {
      for (const { deployment, container, role, config } of pods()) {
        const port = portOf(listenOf(role, config));
        const named = (ref: number | string | undefined) =>
          typeof ref === 'string'
            ? container.ports?.find((p) => p.name === ref)?.containerPort
            : ref;
        // Its own port, and the metrics port Prometheus is told of, both listening on every address.
        const metrics = metricsListenOf(role, config);
        expect(hostOf(metrics), `${container.name} metrics`).toBe('0.0.0.0');
        expect(
          container.ports?.map((p) => p.containerPort),
          container.name,
        ).toEqual([port, portOf(metrics)]);
        expect(named('metrics')).toBe(portOf(metrics));
        expect(deployment.spec?.template?.metadata.annotations).toEqual({
          'prometheus.io/scrape': 'true',
          'prometheus.io/port': String(portOf(metrics)),
          'prometheus.io/path': '/metrics',
        });
        const probes = [container.readinessProbe, container.livenessProbe, container.startupProbe];
        for (const probe of probes.filter((p): p is Probe => Boolean(p))) {
          expect(named(probe.httpGet?.port ?? probe.grpc?.port), container.name).toBe(port);
        }
        if (role === 'gateway') {
          expect(container.readinessProbe?.httpGet?.path).toBe('/readyz');
          expect(container.livenessProbe?.httpGet?.path).toBe('/healthz');
        } else {
          // No service named: the whole server's status (the notifier's, which has no API).
          expect(container.readinessProbe?.grpc?.service ?? '').toBe(HEALTH_SERVICES[role]);
          expect(container.livenessProbe?.grpc).toBeDefined();
        }
        const labels = deployment.spec?.template?.metadata.labels ?? {};
        const fronting = services().filter((s) => selects(s, labels));
        // A process nobody calls needs no Service in front of it.
        const called = role === 'gateway' || CALLERS[role].length > 0;
        expect(fronting, deployment.metadata.name).toHaveLength(called ? 1 : 0);
        for (const servicePort of fronting[0]?.spec?.ports ?? []) {
          expect(named(servicePort.targetPort ?? servicePort.port)).toBe(port);
          // Clients of a headless Service connect to the pods' own port.
          if (fronting[0]?.spec?.clusterIP === 'None') expect(servicePort.port).toBe(port);
        }
      }
    });

    test('when anything but the gateway (or a service calling another) calls a gRPC service, then a network policy keeps it out', () => {
      const labelsOf = (role: Role) =>
        pods().find((p) => p.role === role)?.deployment.spec?.template?.metadata.labels ?? {};
      for (const { deployment, role, config } of pods()) {
        if (role === 'gateway') continue;
        const labels = deployment.spec?.template?.metadata.labels ?? {};
        const policies = built().manifests.filter(
          (m) =>
            m.kind === 'NetworkPolicy' &&
            Object.entries(m.spec?.podSelector?.matchLabels ?? { none: 'none' }).every(
              ([key, value]) => labels[key] === value,
            ),
        );
        expect(policies, deployment.metadata.name).toHaveLength(1);
        const policy = policies[0];
        expect(policy?.spec?.policyTypes).toContain('Ingress');
        const callers: Role[] = CALLERS[role];
        const admitted = new Set<Role>();
        const grpcPort = portOf(listenOf(role, config));
        const metricsPort = portOf(metricsListenOf(role, config));
        for (const rule of policy?.spec?.ingress ?? []) {
          const ports = rule.ports?.map((p) => p.port);
          if (ports?.length === 1 && ports[0] === metricsPort) {
            // The metrics port: Prometheus's namespace, and no pod of ours.
            expect(rule.from?.map((source) => source.namespaceSelector?.matchLabels)).toEqual([
              { 'kubernetes.io/metadata.name': 'monitoring' },
            ]);
            continue;
          }
          expect(ports).toEqual([grpcPort]);
          for (const source of rule.from ?? []) {
            const allowed = source.podSelector?.matchLabels ?? {};
            expect(Object.keys(allowed).length, 'a pod selector, not everyone').toBeGreaterThan(0);
            const caller = callers.find((c) =>
              Object.entries(allowed).every(([key, value]) => labelsOf(c)[key] === value),
            );
            expect(
              caller,
              `${deployment.metadata.name} admits only ${callers.join(', ')}`,
            ).toBeDefined();
            if (caller) admitted.add(caller);
          }
        }
        expect([...admitted].sort(), deployment.metadata.name).toEqual([...callers].sort());
      }
    });

    test('when a process records or consumes events, then it gets RABBITMQ_URL (and REDIS_URL, the gateway too) from the Secret, all on one Redis and one bus', () => {
      for (const { deployment, container, role, config } of pods()) {
        const name = deployment.metadata.name;
        for (const variable of ['REDIS_URL', 'RABBITMQ_URL']) {
          const ref = container.env?.find((v) => v.name === variable)?.valueFrom?.secretKeyRef;
          expect(ref?.name, `${name}: ${variable} comes from the Secret`).toBe('shortener-secrets');
        }
        // Empty would give the process an in-process bus of its own: the
        // gateway's clicks would reach no consumer.
        expect(config.bus.rabbitmqUrl, name).toMatch(/^amqps?:\/\/.+/);
        expect(config.redisUrl, `${role}: Redis for its worker-id lease`).toMatch(/^rediss?:\/\//);
      }
      for (const key of ['redisUrl', 'redisKeyPrefix'] as const) {
        expect(new Set(pods().map((p) => p.config[key])).size, key).toBe(1);
      }
      for (const key of ['rabbitmqUrl', 'exchange', 'queuePrefix'] as const) {
        expect(new Set(pods().map((p) => p.config.bus[key])).size, key).toBe(1);
      }
    });

    test('when the overlay brings its own MySQL, Redis and RabbitMQ, then every URL names one of its Services on its port, as the broker’s own user', () => {
      const dependencies = built().manifests.filter(
        (m) =>
          m.kind === 'Deployment' &&
          !(m.spec?.template?.spec.containers ?? []).some((c) => c.image === 'shortener'),
      );
      for (const { deployment, role, config } of pods()) {
        for (const { what, url } of dependenciesOf(role, config)) {
          const label = `${deployment.metadata.name}: ${what}`;
          const service = services().find((s) => s.metadata.name === url.hostname.split('.')[0]);
          // Production's are managed services outside the cluster.
          if (overlay === 'dev') expect(service, `${label} names a Service`).toBeDefined();
          if (!service) continue;
          const servicePort = service.spec?.ports?.find((p) => p.port === urlPort(url));
          expect(servicePort, `${label} on a port of ${service.metadata.name}`).toBeDefined();
          const backing = dependencies.filter((d) =>
            selects(service, d.spec?.template?.metadata.labels ?? {}),
          );
          expect(backing, `${service.metadata.name} fronts one Deployment`).toHaveLength(1);
          const container = backing[0]?.spec?.template?.spec.containers[0];
          const target = servicePort?.targetPort ?? servicePort?.port;
          expect(
            container?.ports?.some((p) => p.name === target || p.containerPort === target),
            `${service.metadata.name} reaches a port of its pods`,
          ).toBe(true);
          if (what === 'RABBITMQ_URL' && container) {
            const brokerEnv = podEnv(container, built());
            expect(decodeURIComponent(url.username), label).toBe(brokerEnv.RABBITMQ_DEFAULT_USER);
            expect(decodeURIComponent(url.password), label).toBe(brokerEnv.RABBITMQ_DEFAULT_PASS);
          }
        }
      }
    });

    test('when network policies are applied, then every process still reaches Redis and RabbitMQ (and the services their MySQL)', () => {
      const policies = built().manifests.filter((m) => m.kind === 'NetworkPolicy');
      const labelsBehind = (host: string): Env | undefined => {
        const service = services().find((s) => s.metadata.name === host.split('.')[0]);
        const deployment = built().manifests.find(
          (m) =>
            m.kind === 'Deployment' && selects(service, m.spec?.template?.metadata.labels ?? {}),
        );
        return service && deployment?.spec?.template?.metadata.labels;
      };
      for (const { deployment, role, config } of pods()) {
        const labels = deployment.spec?.template?.metadata.labels ?? {};
        for (const { what, url } of dependenciesOf(role, config)) {
          const label = `${deployment.metadata.name} → ${url.hostname}:${urlPort(url)} (${what})`;
          const peer = labelsBehind(url.hostname);
          // Egress from the process, where a policy restricts it…
          const outgoing = policies.filter(
            (p) => p.spec?.policyTypes?.includes('Egress') && policyPicks(p, labels),
          );
          if (outgoing.length) {
            const rules = outgoing.flatMap((p) =>
              (p.spec?.egress ?? []).map((r) => ({ peers: r.to, ports: r.ports })),
            );
            expect(rulesAllow(rules, peer, urlPort(url)), label).toBe(true);
          }
          // …and ingress to the dependency, where the overlay runs it and a policy guards it.
          if (!peer) continue;
          const incoming = policies.filter(
            (p) => p.spec?.policyTypes?.includes('Ingress') && policyPicks(p, peer),
          );
          if (incoming.length) {
            const rules = incoming.flatMap((p) =>
              (p.spec?.ingress ?? []).map((r) => ({ peers: r.from, ports: r.ports })),
            );
            const target = services()
              .find((s) => s.metadata.name === url.hostname.split('.')[0])
              ?.spec?.ports?.find((p) => p.port === urlPort(url));
            const podPort =
              typeof target?.targetPort === 'number' ? target.targetPort : urlPort(url);
            expect(rulesAllow(rules, labels, podPort), label).toBe(true);
          }
        }
      }
    });

    test('when the gateway dials link and identity, and analytics dials link, then they target headless Services on the pods’ ports', () => {
      const gateway = pods().find((p) => p.role === 'gateway');
      const analytics = pods().find((p) => p.role === 'analytics');
      const identity = pods().find((p) => p.role === 'identity');
      if (!gateway || !analytics || !identity) throw new Error('no gateway, analytics or identity');
      for (const [target, role] of [
        [gateway.config.gateway.linkTarget, 'link'],
        [gateway.config.gateway.identityTarget, 'identity'],
        [gateway.config.gateway.analyticsTarget, 'analytics'],
        [analytics.config.analytics.linkTarget, 'link'],
        [identity.config.identity.linkTarget, 'link'],
      ] as const) {
        const service = services().find((s) => s.metadata.name === hostOf(target).split('.')[0]);
        expect(service?.spec?.clusterIP, `${target} is headless`).toBe('None');
        const callee = pods().filter((p) =>
          selects(service, p.deployment.spec?.template?.metadata.labels ?? {}),
        );
        expect(
          callee.map((p) => p.role),
          target,
        ).toEqual([role]);
        for (const pod of callee) expect(portOf(target)).toBe(portOf(listenOf(role, pod.config)));
      }
    });

    test('when a pod is stopped, then it has time to drain, and it runs non-root on a read-only root with bounded resources', () => {
      for (const { deployment, container, role, config } of pods()) {
        const name = deployment.metadata.name;
        const pod = deployment.spec?.template?.spec;
        const preStop = container.lifecycle?.preStop;
        const pause = Number(preStop?.sleep?.seconds ?? preStop?.exec?.command.at(-1) ?? 0);
        if (role === 'gateway')
          expect(pause, 'the gateway pauses before SIGTERM').toBeGreaterThan(0);
        expect((pod?.terminationGracePeriodSeconds ?? 30) * 1_000, name).toBeGreaterThan(
          pause * 1_000 + config.shutdownTimeoutMs + 5_000,
        );
        expect(pod?.securityContext?.runAsNonRoot, name).toBe(true);
        expect(container.securityContext?.readOnlyRootFilesystem, name).toBe(true);
        expect(container.securityContext?.allowPrivilegeEscalation, name).toBe(false);
        expect(container.securityContext?.capabilities?.drop, name).toEqual(['ALL']);
        for (const kind of ['requests', 'limits'] as const) {
          expect(Object.keys(container.resources?.[kind] ?? {}).sort(), name).toEqual([
            'cpu',
            'memory',
          ]);
        }
      }
    });
  });
});

// ---------------------------------------------------------------- health check

describe('the image’s health check', () => {
  test('when a container’s PID 1 runs one of our entry points, then the check knows which process to ask', () => {
    const preload = ['node', '--import', './lib/telemetry/preload.ts'];
    expect(roleOf([...preload, 'gateway/main.ts'])).toBe('gateway');
    expect(roleOf([...preload, 'services/link/main.ts'])).toBe('link');
    expect(roleOf([...preload, '/app/services/identity/main.ts'])).toBe('identity');
    expect(roleOf([...preload, 'services/analytics/main.ts'])).toBe('analytics');
    expect(roleOf([...preload, 'services/notifier/main.ts'])).toBe('notifier');
    expect(roleOf([...preload, 'mesh.ts'])).toBe('gateway');
    expect(roleOf(['redis-server'])).toBeUndefined();
    const config = loadConfig(IMAGE_ENV);
    expect(addressOf('gateway', config)).toBe('127.0.0.1:8080');
    expect(addressOf('link', config)).toBe('127.0.0.1:50051');
    expect(addressOf('identity', config)).toBe('127.0.0.1:50052');
    expect(addressOf('analytics', config)).toBe('127.0.0.1:50053');
    expect(addressOf('notifier', config)).toBe('127.0.0.1:50054');
  });

  test('when the mesh runs, then the check passes for every process; once it has stopped, it fails', async () => {
    const mesh = await startTestMesh('embedded');
    const addresses: Record<Role, string> = {
      gateway: mesh.url.replace('http://', ''),
      link: mesh.mesh.link.address,
      identity: mesh.mesh.identity.address,
      analytics: mesh.mesh.analytics.address,
      notifier: mesh.mesh.notifier.address,
    };
    const cli = () =>
      run(process.execPath, [join(DEPLOY, 'healthcheck.ts'), 'link'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', LINK_GRPC_LISTEN: addresses.link },
      });
    try {
      for (const role of ['gateway', 'link', 'identity', 'analytics', 'notifier'] as const) {
        expect(await checkHealth(role, addresses[role]), role).toBe(true);
      }
      await expect(cli()).resolves.toBeDefined();
    } finally {
      await mesh.stop();
    }
    for (const role of ['gateway', 'link', 'identity', 'analytics', 'notifier'] as const) {
      expect(await checkHealth(role, addresses[role], 1_000), role).toBe(false);
    }
    await expect(cli()).rejects.toMatchObject({ code: 1 });
  }, 60_000);
});
