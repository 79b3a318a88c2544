// LinkService over gRPC: decode, call the domain, encode. Nothing else.
import type { ServerWritableStream } from '@grpc/grpc-js';
import {
  type CreateLinkRequest,
  type CreateLinkResponse,
  type CreateLinksResponse_Result,
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
import { failureReporter } from '../../lib/grpc/server-stack.ts';
import { toItemError } from '../../lib/grpc/status.ts';
import type { Logger } from '../../lib/log.ts';
import { runtimeErrors } from '../../lib/runtime-errors.ts';
import { CODE_PATTERN, MAX_CREATE_BATCH, MAX_RESOLVE_BATCH } from '../../lib/short-code-rules.ts';
import type { LinkChanges } from './changes/link-changes.ts';
import { type CreateLinkDeps, type CreateLinkInput, createLink } from './domain/create-link.ts';
import {
  type ExtendLinkDeps,
  extendLink,
  extendLinkByToken,
  type LinkView,
  viewLinks,
} from './domain/extend-link.ts';
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
  /** ExtendLink, ExtendLinkByToken, and what every link answer shows of expiry and visits. */
  extend: ExtendLinkDeps & Parameters<typeof viewLinks>[0];
}

function toMessage(link: LinkView): LinkMessage {
  return {
    id: link.id,
    code: link.code,
    targetUrl: link.targetUrl,
    ownerId: link.ownerId,
    createdAt: link.createdAt,
    expiresAt: new Date(link.effectiveExpiresAt),
    maxVisits: link.maxVisits ?? undefined,
    visitsLeft: link.visitsLeft ?? undefined,
    lastAccessedAt: link.lastAccessedAt ?? undefined,
    explicitExpiresAt: link.expiresAt ?? undefined,
  };
}

const NOT_FOUND = linkErrors.link_not_found();
const EXPIRED = linkErrors.link_expired();
const EXHAUSTED = linkErrors.visits_exhausted();

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
    case 'expired':
    case 'exhausted': {
      const error =
        resolution.status === 'expired'
          ? EXPIRED
          : resolution.status === 'exhausted'
            ? EXHAUSTED
            : undefined;
      return {
        status: error ? ResolveStatus.RESOLVE_STATUS_EXPIRED : ResolveStatus.RESOLVE_STATUS_FOUND,
        linkId: resolution.id,
        ownerId: resolution.ownerId,
        targetUrl: resolution.targetUrl,
        expiresAt: new Date(resolution.expiresAt),
        errorCode: error?.code ?? '',
        errorMessage: error?.message ?? '',
        visitsLimited: resolution.maxVisits !== null,
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

function createInput(request: CreateLinkRequest): CreateLinkInput {
  return {
    targetUrl: request.targetUrl,
    expiresAt: request.expiresAt ?? null,
    clientIp: request.client?.ip ?? '',
    alias: request.alias,
    maxVisits: request.maxVisits ?? null,
  };
}

/** How long before a batch call's deadline its items still at work are answered without them. */
function itemMarginMs(budgetMs: number): number {
  return Math.min(50, Math.max(0, budgetMs) / 10);
}

/**
 * The items' answers, each as soon as the call's deadline nears: an item
 * still at work then (waiting on a lock, say) is answered
 * `deadline_exceeded`, as its own call would have been, so the call is
 * answered in time and the items already done are not lost with it.
 */
async function answeredInTime(
  answers: Promise<CreateLinksResponse_Result>[],
  deadline: number,
): Promise<CreateLinksResponse_Result[]> {
  const budget = deadline - Date.now();
  if (!(budget < 2 ** 31 - 1)) return Promise.all(answers);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<CreateLinksResponse_Result>((resolve) => {
    timer = setTimeout(
      () => resolve({ error: toItemError(runtimeErrors.deadline_exceeded()) }),
      Math.max(0, budget - itemMarginMs(budget)),
    );
  });
  try {
    return await Promise.all(answers.map((answer) => Promise.race([answer, late])));
  } finally {
    clearTimeout(timer);
  }
}

export function linkServiceBinding(deps: LinkHandlerDeps, log: Logger): ServiceBinding {
  const view = async (link: Link): Promise<LinkView> =>
    (await viewLinks(deps.extend, [link]))[0] as LinkView;
  const create = async (request: CreateLinkRequest): Promise<CreateLinkResponse> => {
    const caller = callerOf(request.caller);
    const { link, created } = await createLink(deps.create, caller, createInput(request));
    return { link: toMessage(await view(link)), created };
  };
  const reportItemFailure = failureReporter(log);
  /** One item of CreateLinks: its answer, or its error, told as a CreateLink call's failure is. */
  const createItem = (request: CreateLinkRequest): Promise<CreateLinksResponse_Result> =>
    create(request).then(
      (link) => ({ link }),
      (error: unknown) => {
        reportItemFailure('CreateLinks item', error);
        return { error: toItemError(error) };
      },
    );
  const implementation: LinkServiceServer = {
    createLink: unary('CreateLink', log, create),

    createLinks: unary('CreateLinks', log, async (request, context) => {
      if (request.items.length > MAX_CREATE_BATCH) {
        throw linkErrors.batch_too_large({ max: MAX_CREATE_BATCH });
      }
      return { results: await answeredInTime(request.items.map(createItem), context.deadline) };
    }),

    resolveLink: unary('ResolveLink', log, async (request) => {
      if (!CODE_PATTERN.test(request.code)) throw linkErrors.invalid_code();
      const resolution = await deps.resolver.resolve(request.code);
      if (resolution.status !== 'found') throw resolutionError(resolution);
      return {
        linkId: resolution.id,
        ownerId: resolution.ownerId,
        targetUrl: resolution.targetUrl,
        expiresAt: new Date(resolution.expiresAt),
      };
    }),

    resolveLinks: unary('ResolveLinks', log, async (request) => {
      if (request.items.length > MAX_RESOLVE_BATCH) {
        throw linkErrors.batch_too_large({ max: MAX_RESOLVE_BATCH });
      }
      const resolutions = await deps.resolver.resolveVisits(
        request.items.map((item) => item.code),
        request.items.map((item) => !item.head),
      );
      return { results: resolutions.map(toResult) };
    }),

    getLink: unary('GetLink', log, async (request) => ({
      link: toMessage(
        await view(await getLink(deps.manage, callerOf(request.caller), request.code)),
      ),
    })),

    listLinks: unary('ListLinks', log, async (request) => {
      const page = await listLinks(deps.manage, callerOf(request.caller), {
        size: request.pageSize,
        token: request.pageToken,
      });
      const links = await viewLinks(deps.extend, page.links);
      return { links: links.map(toMessage), nextPageToken: page.nextPageToken };
    }),

    deleteLink: unary('DeleteLink', log, async (request) => {
      await deleteLink(deps.manage, callerOf(request.caller), request.code);
      return {};
    }),

    // --- Expiry (docs/decisions/0007-expiry.md) ---
    extendLink: unary('ExtendLink', log, async (request) => {
      const byMs = request.byMs === undefined ? undefined : Number(request.byMs);
      const link = await extendLink(deps.extend, callerOf(request.caller), request.code, byMs);
      return { link: toMessage(await view(link)) };
    }),

    extendLinkByToken: unary('ExtendLinkByToken', log, async (request) => {
      const link = (
        await viewLinks(deps.extend, [await extendLinkByToken(deps.extend, request.token)])
      )[0] as LinkView;
      return { code: link.code, expiresAt: new Date(link.effectiveExpiresAt) };
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
