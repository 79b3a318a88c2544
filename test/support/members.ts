// Members for stories told over HTTP while sign-up is not served yet: a guest
// identity issued through the gateway, whose token the identity store is then
// told belongs to a member. From there on it is the real mesh: identity
// authenticates the token as a member's, and the gateway passes that
// principal on as for any caller.
import { type Orm, openDatabase } from '../../lib/db/open.ts';
import { tokenHash } from '../../services/identity/domain/tokens.ts';
import { AccessTokenRow } from '../../services/identity/store/entities.ts';
import { identitySchema } from '../../services/identity/store/schema.ts';
import { newGuest } from './http.ts';
import { testLog } from './logger.ts';
import type { SuiteMesh } from './mesh.ts';

/** Opens the mesh's identity database beside the service; close it after the suite. */
export function identityDatabaseOf(mesh: SuiteMesh): Promise<Orm> {
  return openDatabase({
    url: mesh.config.identity.databaseUrl,
    schema: identitySchema,
    log: testLog,
  });
}

/** The bearer token of a new member of the mesh. */
export async function newMember(mesh: SuiteMesh, identity: Orm): Promise<string> {
  const token = await newGuest(mesh.url);
  const changed = await identity.em
    .fork()
    .nativeUpdate(AccessTokenRow, { tokenHash: tokenHash(token) }, { principalKind: 'member' });
  if (changed !== 1) throw new Error(`expected to make one token a member's, changed ${changed}`);
  return token;
}
