// A link service of the test's own: a real gRPC server speaking the
// LinkService contract, answering ResolveLinks as the story needs, so a story
// can show what the gateway does with those answers.
import type { ServerWritableStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import { type RunningGateway, startGateway } from '../../gateway/main.ts';
import {
  type CreateLinkRequest,
  type CreateLinkResponse,
  type CreateLinksRequest,
  type CreateLinksResponse,
  type CreateLinksResponse_Result,
  LinkServiceService,
  type ResolveLinksRequest,
  type ResolveLinksRequest_Item,
  type ResolveLinksResponse,
  type ResolveLinksResponse_Result,
  ResolveStatus,
  type WatchLinkChangesRequest,
  type WatchLinkChangesResponse,
} from '../../gen/shortener/v1/link.ts';
import { serverStream, unary } from '../../lib/grpc/handlers.ts';
import { type RunningGrpcServer, startGrpcServer } from '../../lib/grpc/server.ts';
import { fromItemError } from '../../lib/grpc/status.ts';
import { loadMeshConfig } from '../../mesh.ts';
import { inProcessInfrastructure } from './infrastructure.ts';
import { testLog } from './logger.ts';
import { sleep } from './wait.ts';

export type ChangeStream = ServerWritableStream<WatchLinkChangesRequest, WatchLinkChangesResponse>;

/** A found link redirecting to `targetUrl`. */
export const found = (targetUrl: string): ResolveLinksResponse_Result => ({
  status: ResolveStatus.RESOLVE_STATUS_FOUND,
  linkId: '1',
  ownerId: '2',
  targetUrl,
  errorCode: '',
  errorMessage: '',
  visitsLimited: false,
});

/** No live link has the code, as the link service says it. */
export const notFound = (): ResolveLinksResponse_Result => ({
  status: ResolveStatus.RESOLVE_STATUS_NOT_FOUND,
  linkId: '0',
  ownerId: '0',
  targetUrl: '',
  errorCode: 'link_not_found',
  errorMessage: 'no link has this code',
  visitsLimited: false,
});

export interface FakeLinkServiceOptions {
  /** How long every ResolveLinks call takes. */
  delayMs?: number;
  /** The answer for one item; by default every code is found at https://example.com/<code>. */
  resolve?: (item: ResolveLinksRequest_Item) => ResolveLinksResponse_Result;
  /** Serve WatchLinkChanges too, leaving every stream open for the story to write to. */
  watchChanges?: boolean;
  /** The answer for one CreateLinks item; throwing fails the whole call. By default each is refused as internal. */
  create?: (item: CreateLinkRequest, index: number) => CreateLinksResponse_Result;
  /** Serve CreateLinks (the default), or only CreateLink, as a link service from before it. */
  batchCreates?: boolean;
}

export interface FakeLinkService {
  server: RunningGrpcServer;
  address: string;
  /** The items of every ResolveLinks call, in the order the calls arrived. */
  calls: ResolveLinksRequest_Item[][];
  /** Every WatchLinkChanges stream opened, oldest first. */
  streams: ChangeStream[];
  /** The items of every CreateLinks call, in the order the calls arrived; a CreateLink call counts as one item. */
  createCalls: CreateLinkRequest[][];
}

export async function startFakeLinkService({
  delayMs = 0,
  resolve = (item) => found(`https://example.com/${item.code}`),
  watchChanges = false,
  create = () => ({
    error: { status: 13, message: 'internal error', errorCode: 'internal', errorField: '' },
  }),
  batchCreates = true,
}: FakeLinkServiceOptions = {}): Promise<FakeLinkService> {
  const calls: ResolveLinksRequest_Item[][] = [];
  const createCalls: CreateLinkRequest[][] = [];
  const streams: ChangeStream[] = [];
  const implementation = {
    resolveLinks: unary<ResolveLinksRequest, ResolveLinksResponse>(
      'ResolveLinks',
      testLog,
      async (request) => {
        calls.push(request.items);
        if (delayMs > 0) await sleep(delayMs);
        return { results: request.items.map(resolve) };
      },
    ),
    ...(batchCreates && {
      createLinks: unary<CreateLinksRequest, CreateLinksResponse>(
        'CreateLinks',
        testLog,
        async (request) => {
          createCalls.push(request.items);
          if (delayMs > 0) await sleep(delayMs);
          return { results: request.items.map(create) };
        },
      ),
    }),
    createLink: unary<CreateLinkRequest, CreateLinkResponse>(
      'CreateLink',
      testLog,
      async (request) => {
        createCalls.push([request]);
        if (delayMs > 0) await sleep(delayMs);
        const result = create(request, 0);
        if (result.error) throw fromItemError(result.error);
        if (!result.link) throw new Error('the story answered no link');
        return result.link;
      },
    ),
    ...(watchChanges && {
      watchLinkChanges: serverStream<WatchLinkChangesRequest, WatchLinkChangesResponse>(
        'WatchLinkChanges',
        testLog,
        (stream) => {
          streams.push(stream);
        },
      ),
    }),
  } as unknown as UntypedServiceImplementation;
  const server = await startGrpcServer({
    listen: '127.0.0.1:0',
    services: [
      { name: 'shortener.v1.LinkService', definition: LinkServiceService, implementation },
    ],
    log: testLog,
  });
  return { server, address: server.address, calls, streams, createCalls };
}

/** A gateway in front of `link`; identity is unreachable (nothing listens on port 1). */
export function startGatewayFor(
  link: FakeLinkService,
  env: Record<string, string> = {},
): Promise<RunningGateway> {
  const config = loadMeshConfig({
    GATEWAY_LISTEN: '127.0.0.1:0',
    LINK_GRPC_TARGET: link.address,
    IDENTITY_GRPC_TARGET: '127.0.0.1:1',
    LOG_LEVEL: 'error',
    ...env,
  });
  return startGateway(config.gateway, config, testLog, inProcessInfrastructure(config));
}
