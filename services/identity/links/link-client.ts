// What identity asks of the link service on a member's behalf: move an
// adopted guest's links to the member, and delete a closed account's links.
// Both calls are idempotent, so a call that failed (or whose answer was lost)
// is simply made again (workers/link-handovers.ts).
import { LinkServiceClient, LinkServiceService } from '../../../gen/shortener/v1/link.ts';
import { shareOfCall } from '../../../lib/call-scope.ts';
import {
  type CallOptions,
  connect,
  promiseClient,
  type ServiceClient,
} from '../../../lib/grpc/client.ts';

/**
 * Part of what the running call has left, so that a slow link fails this
 * handover (retried later) while the caller still gets its answer in time.
 * Outside a call (the retrying actor) the client's default deadline holds.
 */
function withinCall(): CallOptions {
  const signal = shareOfCall(0.5);
  return signal ? { signal } : {};
}

export interface MemberLinks {
  /** Moves the guest's links to the member; how many this call moved. */
  adopt(guestId: string, memberId: string): Promise<number>;
  /** Deletes every live link of the owner; how many this call deleted. */
  deleteAll(ownerId: string): Promise<number>;
}

export class LinkServiceMemberLinks implements MemberLinks {
  readonly #client: LinkServiceClient;
  readonly #link: ServiceClient<typeof LinkServiceService>;

  constructor(target: string, deadlineMs: number) {
    this.#client = connect(LinkServiceClient, target, deadlineMs);
    this.#link = promiseClient(this.#client, LinkServiceService);
  }

  async adopt(guestId: string, memberId: string): Promise<number> {
    const { moved } = await this.#link.adoptGuestLinks({ guestId, memberId }, withinCall());
    return moved;
  }

  async deleteAll(ownerId: string): Promise<number> {
    const { deleted } = await this.#link.deleteOwnerLinks({ ownerId }, withinCall());
    return deleted;
  }

  close(): void {
    this.#client.close();
  }
}
