// OwnedLinks over gRPC: the link service answers with the caller's principal,
// as it would answer the caller. Its NOT_FOUND and PERMISSION_DENIED both
// become our own not-found, so analytics never tells a link that exists from
// one that does not.
import { LinkServiceClient, LinkServiceService } from '../../../gen/shortener/v1/link.ts';
import { principalOf } from '../../../lib/callers.ts';
import { isDomainError } from '../../../lib/errors.ts';
import { connect, promiseClient, type ServiceClient } from '../../../lib/grpc/client.ts';
import { runtimeErrors } from '../../../lib/runtime-errors.ts';
import type { Caller, OwnedLinks } from '../domain/owned-links.ts';
import { analyticsErrors } from '../errors.ts';
import type { LinkRef } from '../ranking/ranking.ts';

const PAGE_SIZE = 100;

/** The request's own deadline, so link sees the budget that is left (the client's default otherwise). */
function callOptions(deadline: number): { deadline?: Date } {
  return Number.isFinite(deadline) ? { deadline: new Date(deadline) } : {};
}

/** Failures of the link service in our terms: not yours is not found; the rest, that a dependency failed. */
function translate(error: unknown): never {
  if (!isDomainError(error)) throw error;
  if (error.kind === 'not_found' || error.kind === 'forbidden') {
    throw analyticsErrors.analytics_link_not_found();
  }
  if (error.kind === 'deadline') throw runtimeErrors.deadline({ cause: error });
  throw runtimeErrors.unavailable({ cause: error });
}

export class LinkServiceOwnedLinks implements OwnedLinks {
  readonly #client: LinkServiceClient;
  readonly #link: ServiceClient<typeof LinkServiceService>;

  constructor(target: string, deadlineMs: number) {
    this.#client = connect(LinkServiceClient, target, deadlineMs);
    this.#link = promiseClient(this.#client, LinkServiceService);
  }

  async find(caller: Caller, code: string, deadline: number): Promise<LinkRef> {
    try {
      const { link } = await this.#link.getLink(
        { caller: principalOf(caller), code },
        callOptions(deadline),
      );
      if (!link) throw analyticsErrors.analytics_link_not_found();
      return { linkId: link.id, code: link.code };
    } catch (error) {
      translate(error);
    }
  }

  async list(caller: Caller, max: number, deadline: number): Promise<LinkRef[]> {
    const links: LinkRef[] = [];
    let pageToken = '';
    try {
      do {
        const page = await this.#link.listLinks(
          {
            caller: principalOf(caller),
            pageSize: Math.min(PAGE_SIZE, max - links.length),
            pageToken,
          },
          callOptions(deadline),
        );
        for (const link of page.links) links.push({ linkId: link.id, code: link.code });
        pageToken = page.nextPageToken;
      } while (pageToken && links.length < max);
    } catch (error) {
      translate(error);
    }
    return links;
  }

  close(): void {
    this.#client.close();
  }
}
