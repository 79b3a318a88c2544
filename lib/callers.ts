// Who is calling, as every service reads it from a request's Principal. The
// gateway authenticated it and only the gateway can reach the services; a
// request without a principal, or with one of no kind, is refused.
import { type Principal, PrincipalKind } from '../gen/shortener/v1/principal.ts';
import { isSnowflake } from './ids/snowflake.ts';
import { runtimeErrors } from './runtime-errors.ts';

export interface Caller {
  id: string;
  kind: 'guest' | 'member';
}

export function callerOf(principal: Principal | undefined): Caller {
  if (!principal || !isSnowflake(principal.id)) throw runtimeErrors.caller_required();
  if (principal.kind === PrincipalKind.PRINCIPAL_KIND_GUEST)
    return { id: principal.id, kind: 'guest' };
  if (principal.kind === PrincipalKind.PRINCIPAL_KIND_MEMBER) {
    return { id: principal.id, kind: 'member' };
  }
  throw runtimeErrors.caller_without_kind();
}

/** The principal a service passes on when it calls another for the same caller. */
export function principalOf(caller: Caller): Principal {
  return {
    id: caller.id,
    kind:
      caller.kind === 'member'
        ? PrincipalKind.PRINCIPAL_KIND_MEMBER
        : PrincipalKind.PRINCIPAL_KIND_GUEST,
  };
}
