// A caller's own links: look one up, page through them, delete one.

import { isSnowflake } from '../../../lib/ids/snowflake.ts';
import { CODE_PATTERN } from '../../../lib/short-code-rules.ts';
import type { LinkChanges } from '../changes/link-changes.ts';
import { linkErrors } from '../errors.ts';
import type { LinkCache } from '../store/link-cache.ts';
import type { LinkStore } from '../store/link-store.ts';
import type { Caller, Link, StoredLink } from './link.ts';

export interface ManageLinksDeps {
  store: LinkStore;
  cache: LinkCache;
  changes: LinkChanges;
  now: () => number;
}

function checkCode(code: string): void {
  if (!CODE_PATTERN.test(code)) throw linkErrors.invalid_code();
}

/**
 * Someone else's link is answered exactly as a code nobody has: telling the
 * two apart would let a prober learn which codes exist.
 */
export async function ownLink(
  deps: Pick<ManageLinksDeps, 'store'>,
  caller: Caller,
  code: string,
): Promise<StoredLink> {
  checkCode(code);
  const link = await deps.store.findByCode(code);
  if (!link || link.deletedAt !== null || link.ownerId !== caller.id) {
    throw linkErrors.link_not_found();
  }
  return link;
}

export async function getLink(deps: ManageLinksDeps, caller: Caller, code: string): Promise<Link> {
  return ownLink(deps, caller, code);
}

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

/** Page tokens are opaque to callers: the base64url of the last id on the page. */
function decodePageToken(token: string): string | null {
  if (!token) return null;
  const id = Buffer.from(token, 'base64url').toString('utf8');
  if (!isSnowflake(id)) throw linkErrors.invalid_page_token();
  return id;
}

export async function listLinks(
  deps: ManageLinksDeps,
  caller: Caller,
  page: { size: number; token: string },
): Promise<{ links: Link[]; nextPageToken: string }> {
  const size = page.size === 0 ? DEFAULT_PAGE_SIZE : page.size;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
    throw linkErrors.invalid_page_size({ max: MAX_PAGE_SIZE });
  }
  const before = decodePageToken(page.token);
  const rows = await deps.store.listByOwner(caller.id, before, size + 1);
  const links = rows.slice(0, size);
  const last = links.at(-1);
  const nextPageToken =
    rows.length > size && last ? Buffer.from(last.id, 'utf8').toString('base64url') : '';
  return { links, nextPageToken };
}

/**
 * Deletes fail closed, like creation: the shared cache learns first, and if it
 * cannot, nothing is deleted (503). Then the database; if that fails, the
 * cache is told to forget the tombstone again. Then everyone caching it.
 */
export async function deleteLink(
  deps: ManageLinksDeps,
  caller: Caller,
  code: string,
): Promise<void> {
  const link = await ownLink(deps, caller, code);
  await deps.cache.forget(code);
  let deleted: boolean;
  try {
    deleted = await deps.store.markDeleted(link.id, caller.id, new Date(deps.now()));
  } catch (error) {
    await deps.cache.unforget(code);
    throw error;
  }
  // Not deleted here means deleted meanwhile by another request: the tombstone stands.
  if (!deleted) throw linkErrors.link_not_found();
  await deps.changes.announce(code);
}
