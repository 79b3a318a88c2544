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
import { callerOf } from '../../lib/callers.ts';
import { serverStream, unary } from '../../lib/grpc/handlers.ts';
import type { ServiceBinding } from '../../lib/grpc/server.ts';
import type { Logger } from '../../lib/log.ts';
import { CODE_PATTERN, MAX_RESOLVE_BATCH } from '../../lib/short-code-rules.ts';
import type { LinkChanges } from './changes/link-changes.ts';
import { type CreateLinkDeps, createLink } from './domain/create-link.ts';
import type { Link } from './domain/link.ts';
import { deleteLink, getLink, listLinks, type ManageLinksDeps } from './domain/manage-links.ts';
import { adoptGuestLinks, deleteOwnerLinks } from './domain/owner-links.ts';
import { type LinkResolver, type Resolution, resolutionError } from './domain/resolve-links.ts';
import { linkErrors } from './errors.ts';

export interface LinkHandlerDeps {
  create: CreateLinkDeps;
  manage: ManageLinksDeps;
  resolver: LinkResolver;
  changes: LinkChanges;
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

const NOT_FOUND = linkErrors.link_not_found();
const EXPIRED = linkErrors.link_expired();

/** Built once: an unknown code is the commonest failure, and answers the same every time. */
const NOT_FOUND_RESULT = ResolveLinksResponse_Result.fromPartial({
  status: ResolveStatus.RESOLVE_STATUS_NOT_FOUND,
  errorCode: NOT_FOUND.code,
  errorMessage: NOT_FOUND.message,
});

/** Each item says what ResolveLink would: its status, and the error's code and message. */
function toResult(resolution: Resolution): ResolveLinksResponse_Result {
  switch (resolution.status) {
    case 'not_found':
      return NOT_FOUND_RESULT;
    case 'unavailable':
      return ResolveLinksResponse_Result.fromPartial({
        status: ResolveStatus.RESOLVE_STATUS_UNAVAILABLE,
        errorCode: resolution.error.code,
        errorMessage: resolution.error.message,
      });
    case 'found':
    case 'expired': {
      const expired = resolution.status === 'expired';
      return {
        status: expired ? ResolveStatus.RESOLVE_STATUS_EXPIRED : ResolveStatus.RESOLVE_STATUS_FOUND,
        linkId: resolution.id,
        ownerId: resolution.ownerId,
        targetUrl: resolution.targetUrl,
        expiresAt: resolution.expiresAt === null ? undefined : new Date(resolution.expiresAt),
        errorCode: expired ? EXPIRED.code : '',
        errorMessage: expired ? EXPIRED.message : '',
      };
    }
  }
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
      if (resolution.status !== 'found') throw resolutionError(resolution);
      return {
        linkId: resolution.id,
        ownerId: resolution.ownerId,
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

    adoptGuestLinks: unary('AdoptGuestLinks', log, async (request) => ({
      moved: await adoptGuestLinks(deps.manage, request.guestId, request.memberId),
    })),

    deleteOwnerLinks: unary('DeleteOwnerLinks', log, async (request) => ({
      deleted: await deleteOwnerLinks(deps.manage, request.ownerId),
    })),

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
