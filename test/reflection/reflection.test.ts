// A client in another language, holding only the servers' addresses, uses our
// gRPC services through server reflection and health checking: a Python script
// (grpc_client.py, on Debian's grpcio) lists the services, fetches each
// service's file and its imports through reflection, builds every message from
// them, checks health and makes real calls, on both mesh flavours; the
// notifier, which has no API of its own, shows health and reflection alone. A server
// fed proto-loader's rewritten descriptors is shown to fail the same client.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createFileRegistry, type DescService, fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { Server } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { bindLocally } from '../support/grpc.ts';
import { MESH_FLAVOURS, meshForSuite } from '../support/mesh.ts';

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./grpc_client.py', import.meta.url));
const PROTO_DIR = fileURLToPath(new URL('../../proto', import.meta.url));
const LINK = 'shortener.v1.LinkService';
const IDENTITY = 'shortener.v1.IdentityService';
const ANALYTICS = 'shortener.v1.AnalyticsService';
const HEALTH = 'grpc.health.v1.Health';
const IMPORTS = ['google/protobuf/timestamp.proto', 'shortener/v1/principal.proto'];

/** The contracts as buf built them: what reflection must reproduce. */
const contracts = createFileRegistry(
  fromBinary(
    FileDescriptorSetSchema,
    readFileSync(new URL('../../gen/descriptor.binpb', import.meta.url)),
  ),
);

interface MethodSummary {
  name: string;
  request: string;
  response: string;
  clientStreaming: boolean;
  serverStreaming: boolean;
}

interface DescribedService {
  /** Set instead of the rest when the service could not be described. */
  error?: string;
  file: string;
  imports: string[];
  fetchedByFilename: string[];
  methods: MethodSummary[];
  types: Record<string, 'message' | 'enum'>;
  comments: { service: string; methodsWithComments: number; methods: number };
}

interface TargetSummary {
  address: string;
  expected: string[];
  services?: string[];
  described?: Record<string, DescribedService>;
  health?: Record<string, string>;
}

interface CallsSummary {
  issueGuest?: { guestId: string; kind: string; token: boolean; tokenExpiresAt: string };
  createLink?: {
    created: boolean;
    id: string;
    code: string;
    targetUrl: string;
    ownerId: string;
    createdAt: string;
  };
  resolveLink?: { code: string; linkId: string; targetUrl: string };
  resolveUnknown?: { code: string; status: string; details: string; errorCode: string };
}

interface ClientSummary {
  ok: boolean;
  error?: string;
  targets?: TargetSummary[];
  calls?: CallsSummary;
}

/** Runs grpc_client.py on `address=Service,...` targets; its JSON summary, failed or not. */
async function runPythonClient(targets: string[]): Promise<ClientSummary> {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' };
  delete env.PYTHONPATH;
  delete env.PYTHONHOME;
  try {
    const { stdout } = await promisify(execFile)(PYTHON, [SCRIPT, ...targets], {
      env,
      timeout: 60_000,
    });
    return JSON.parse(stdout) as ClientSummary;
  } catch (error) {
    const failed = error as Error & { stdout?: string; stderr?: string };
    if (failed.stdout?.trimStart().startsWith('{')) {
      return JSON.parse(failed.stdout) as ClientSummary;
    }
    throw new Error(`${PYTHON} ${SCRIPT} did not run: ${failed.message}\n${failed.stderr ?? ''}`);
  }
}

/** What the Python client should have seen of a service's methods, per buf's descriptors. */
function expectedMethods(service: DescService): MethodSummary[] {
  return service.methods.map((method) => ({
    name: method.name,
    request: method.input.typeName,
    response: method.output.typeName,
    clientStreaming:
      method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming',
    serverStreaming:
      method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming',
  }));
}

function targetOf(summary: ClientSummary, address: string): TargetSummary {
  const target = summary.targets?.find((t) => t.address === address);
  if (!target) throw new Error(`no summary for ${address}: ${JSON.stringify(summary)}`);
  return target;
}

describe.each(MESH_FLAVOURS)('a client in another language, through reflection (%s)', (flavour) => {
  const mesh = meshForSuite(flavour);
  let summary: ClientSummary;
  let link: string;
  let identity: string;
  let analytics: string;
  let notifier: string;
  beforeAll(async () => {
    link = mesh.mesh.link.address;
    identity = mesh.mesh.identity.address;
    analytics = mesh.mesh.analytics.address;
    notifier = mesh.mesh.notifier.address;
    summary = await runPythonClient([
      `${link}=${LINK}`,
      `${identity}=${IDENTITY}`,
      `${analytics}=${ANALYTICS}`,
      // No service of its own to expect: reflection and health only.
      notifier,
    ]);
  });

  test('a Python client holding only the addresses gets through every check without an error', () => {
    expect(summary.error).toBeUndefined();
    expect(summary.ok).toBe(true);
  });

  test('a Python client builds the health service’s messages from the reflected file too', () => {
    for (const address of [link, identity, analytics, notifier]) {
      const described = targetOf(summary, address).described?.[HEALTH];
      expect(described?.error, address).toBeUndefined();
      expect(described?.methods.map((m) => m.name).sort()).toEqual(['Check', 'List', 'Watch']);
    }
  });

  test('a Python client holding only the address lists each server’s services through reflection', () => {
    expect(targetOf(summary, link).services?.sort()).toEqual([HEALTH, LINK].sort());
    expect(targetOf(summary, identity).services?.sort()).toEqual([HEALTH, IDENTITY].sort());
    expect(targetOf(summary, analytics).services?.sort()).toEqual([HEALTH, ANALYTICS].sort());
    expect(targetOf(summary, notifier).services).toEqual([HEALTH]);
  });

  test('a Python client holding only the address builds every method’s messages through reflection, imports included', () => {
    for (const [address, name] of [
      [link, LINK],
      [identity, IDENTITY],
      [analytics, ANALYTICS],
    ] as const) {
      const service = contracts.getService(name);
      if (!service) throw new Error(`${name} is not in gen/descriptor.binpb`);
      const described = targetOf(summary, address).described?.[name];
      expect(described?.error, `${name} at ${address}`).toBeUndefined();
      expect(described?.file).toBe(service.file.proto.name);
      expect(described?.imports).toEqual(IMPORTS);
      expect(described?.fetchedByFilename).toEqual(IMPORTS);
      expect(described?.methods).toEqual(expectedMethods(service));
      expect(described?.types).toMatchObject({
        'google.protobuf.Timestamp': 'message',
        'shortener.v1.Principal': 'message',
        'shortener.v1.PrincipalKind': 'enum',
      });
    }
    const linkTypes = targetOf(summary, link).described?.[LINK]?.types;
    expect(linkTypes).toMatchObject({
      'shortener.v1.ClientInfo': 'message',
      'shortener.v1.Link': 'message',
      'shortener.v1.ResolveLinksRequest.Item': 'message',
      'shortener.v1.ResolveLinksResponse.Result': 'message',
      'shortener.v1.ResolveStatus': 'enum',
    });
  });

  test('a Python client reads the contracts’ comments from the reflected files', () => {
    for (const [address, name] of [
      [link, LINK],
      [identity, IDENTITY],
      [analytics, ANALYTICS],
    ] as const) {
      const comments = targetOf(summary, address).described?.[name]?.comments;
      expect(comments?.service, name).toMatch(new RegExp(`^${name.split('.').pop()} `));
      expect(comments?.methods, name).toBeGreaterThan(0);
      expect(comments?.methodsWithComments, name).toBe(comments?.methods);
    }
  });

  test('a Python client checking health hears SERVING for the server and for each service', () => {
    expect(targetOf(summary, link).health).toEqual({ '': 'SERVING', [LINK]: 'SERVING' });
    expect(targetOf(summary, identity).health).toEqual({ '': 'SERVING', [IDENTITY]: 'SERVING' });
    expect(targetOf(summary, analytics).health).toEqual({ '': 'SERVING', [ANALYTICS]: 'SERVING' });
    expect(targetOf(summary, notifier).health).toEqual({ '': 'SERVING' });
  });

  test('a Python client issues a guest, shortens a URL for it and resolves the code, with messages built from reflection alone', () => {
    const calls = summary.calls;
    expect(calls?.issueGuest?.token).toBe(true);
    expect(calls?.issueGuest?.kind).toBe('PRINCIPAL_KIND_GUEST');
    expect(calls?.issueGuest?.guestId).toMatch(/^\d{15,19}$/);
    expect(Date.parse(calls?.issueGuest?.tokenExpiresAt ?? '')).toBeGreaterThan(Date.now());

    expect(calls?.createLink?.created).toBe(true);
    expect(calls?.createLink?.code).toMatch(/^[0-9A-Za-z]{7}$/);
    expect(calls?.createLink?.targetUrl).toBe('https://example.com/from-python');
    expect(calls?.createLink?.ownerId).toBe(calls?.issueGuest?.guestId);
    expect(calls?.createLink?.id).toMatch(/^\d{15,19}$/);

    expect(calls?.resolveLink).toEqual({
      code: calls?.createLink?.code,
      linkId: calls?.createLink?.id,
      targetUrl: 'https://example.com/from-python',
    });
  });

  test('a Python client resolving an unknown code gets NOT_FOUND with the error-code trailer link_not_found', () => {
    expect(summary.calls?.resolveUnknown).toMatchObject({
      code: 'zzzzzzz',
      status: 'NOT_FOUND',
      errorCode: 'link_not_found',
    });
  });
});

describe('the same client against the known trap', () => {
  let server: Server | undefined;
  afterAll(() => server?.forceShutdown());

  test('when reflection is fed proto-loader’s rewritten descriptors, then the Python client cannot resolve the imports and says so', async () => {
    server = new Server();
    const definition = loadSync('shortener/v1/link.proto', { includeDirs: [PROTO_DIR] });
    new ReflectionService(definition, { services: [LINK] }).addToServer(server);
    const summary = await runPythonClient([`${await bindLocally(server)}=${LINK}`]);
    expect(summary.ok).toBe(false);
    expect(summary.error).toMatch(
      /describing shortener\.v1\.LinkService: cannot load shortener_v1\.proto into a DescriptorPool/,
    );
    expect(summary.error).toMatch(/"google\.protobuf\.Timestamp" is not defined/);
  });
});
