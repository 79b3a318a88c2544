// LinkService over gRPC: decode, call the domain, encode. Nothing else.
import type { ServerWritableStream } from '@grpc/grpc-js';
import {
  type Link as LinkMessage,
  type LinkServiceServer,
  LinkServiceService,
  ResolveLinksResponse_Result,
  ResolveStatus,
  type WatchLinkChangesRequest,
  type WatchLinkChangesResponse,
} from '../../gen/shortener/v1/link.ts';
import { type Principal, PrincipalKind } from '../../gen/shortener/v1/principal.ts';
import { serverStream, unary } from '../../lib/grpc/handlers.ts';
import type { ServiceBinding } from '../../lib/grpc/server.ts';
import { isSnowflake } from '../../lib/ids/snowflake.ts';
import type { Logger } from '../../lib/log.ts';
import { runtimeErrors } from '../../lib/runtime-errors.ts';
import { CODE_PATTERN, MAX_RESOLVE_BATCH } from '../../lib/short-code-rules.ts';
import type { LinkChanges } from './changes/link-changes.ts';
import { type CreateLinkDeps, createLink } from './domain/create-link.ts';
import type { Caller, Link } from './domain/link.ts';
import { deleteLink, getLink, listLinks, type ManageLinksDeps } from './domain/manage-links.ts';
import type { LinkResolver, Resolution } from './domain/resolve-links.ts';
import { linkErrors } from './errors.ts';

export interface LinkHandlerDeps {
  create: CreateLinkDeps;
  manage: ManageLinksDeps;
  resolver: LinkResolver;
  changes: LinkChanges;
}

function callerOf(principal: Principal | undefined): Caller {
  if (!principal || !isSnowflake(principal.id)) throw linkErrors.caller_required();
  if (principal.kind === PrincipalKind.PRINCIPAL_KIND_GUEST)
    return { id: principal.id, kind: 'guest' };
  if (principal.kind === PrincipalKind.PRINCIPAL_KIND_MEMBER)
    return { id: principal.id, kind: 'member' };
  throw linkErrors.caller_without_kind();
}

function toMessage(link: Link): LinkMessage {
  return {
    id: link.id,
    code: link.code,
    targetUrl: link.targetUrl,
    ownerId: link.ownerId,
    createdAt: link.createdAt,
    expiresAt: link.expiresAt ?? undefined,
  };
}

const NOT_FOUND_RESULT = ResolveLinksResponse_Result.fromPartial({
  status: ResolveStatus.RESOLVE_STATUS_NOT_FOUND,
});
const UNAVAILABLE_RESULT = ResolveLinksResponse_Result.fromPartial({
  status: ResolveStatus.RESOLVE_STATUS_UNAVAILABLE,
});

function toResult(resolution: Resolution): ResolveLinksResponse_Result {
  if (resolution.status === 'not_found') return NOT_FOUND_RESULT;
  if (resolution.status === 'unavailable') return UNAVAILABLE_RESULT;
  return {
    status:
      resolution.status === 'found'
        ? ResolveStatus.RESOLVE_STATUS_FOUND
        : ResolveStatus.RESOLVE_STATUS_EXPIRED,
    linkId: resolution.id,
    targetUrl: resolution.targetUrl,
    expiresAt: resolution.expiresAt === null ? undefined : new Date(resolution.expiresAt),
  };
}

const HEARTBEAT: WatchLinkChangesResponse = { codes: [], reset: false, paused: false };

function watch(
  changes: LinkChanges,
  call: ServerWritableStream<WatchLinkChangesRequest, WatchLinkChangesResponse>,
): void {
  const stop = changes.watch({
    changed: (codes) => call.write({ codes, reset: false, paused: false }),
    reset: () => call.write({ codes: [], reset: true, paused: false }),
    pause: () => call.write({ codes: [], reset: false, paused: true }),
    heartbeat: () => call.write(HEARTBEAT),
    end: () => call.end(),
  });
  call.on('cancelled', stop);
  call.on('close', stop);
  call.on('error', stop);
}

export function linkServiceBinding(deps: LinkHandlerDeps, log: Logger): ServiceBinding {
  const implementation: LinkServiceServer = {
    createLink: unary('CreateLink', log, async (request) => {
      const { link, created } = await createLink(deps.create, callerOf(request.caller), {
        targetUrl: request.targetUrl,
        expiresAt: request.expiresAt ?? null,
        clientIp: request.client?.ip ?? '',
      });
      return { link: toMessage(link), created };
    }),

    resolveLink: unary('ResolveLink', log, async (request) => {
      if (!CODE_PATTERN.test(request.code)) throw linkErrors.invalid_code();
      const resolution = await deps.resolver.resolve(request.code);
      if (resolution.status === 'not_found') throw linkErrors.link_not_found();
      if (resolution.status === 'expired') throw linkErrors.link_expired();
      if (resolution.status === 'unavailable') throw runtimeErrors.database_unavailable();
      return {
        linkId: resolution.id,
        targetUrl: resolution.targetUrl,
        expiresAt: resolution.expiresAt === null ? undefined : new Date(resolution.expiresAt),
      };
    }),

    resolveLinks: unary('ResolveLinks', log, async (request) => {
      if (request.items.length > MAX_RESOLVE_BATCH) {
        throw linkErrors.batch_too_large({ max: MAX_RESOLVE_BATCH });
      }
      const resolutions = await deps.resolver.resolveMany(request.items.map((item) => item.code));
      return { results: resolutions.map(toResult) };
    }),

    getLink: unary('GetLink', log, async (request) => ({
      link: toMessage(await getLink(deps.manage, callerOf(request.caller), request.code)),
    })),

    listLinks: unary('ListLinks', log, async (request) => {
      const page = await listLinks(deps.manage, callerOf(request.caller), {
        size: request.pageSize,
        token: request.pageToken,
      });
      return { links: page.links.map(toMessage), nextPageToken: page.nextPageToken };
    }),

    deleteLink: unary('DeleteLink', log, async (request) => {
      await deleteLink(deps.manage, callerOf(request.caller), request.code);
      return {};
    }),

    watchLinkChanges: serverStream('WatchLinkChanges', log, (call) => watch(deps.changes, call)),
  };
  return {
    name: 'shortener.v1.LinkService',
    definition: LinkServiceService,
    implementation,
    // Watchers' streams end first, so they reconnect elsewhere and the server can drain.
    onShutdown: () => void deps.changes.stop(),
  };
}
