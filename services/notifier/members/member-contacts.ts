// Where a link's owner gets mail: identity knows (GetMemberContact). A guest,
// an unknown id and a closed account have no address: null, not an error.
import {
  IdentityServiceClient,
  IdentityServiceService,
} from '../../../gen/shortener/v1/identity.ts';
import { isDomainError } from '../../../lib/errors.ts';
import { connect, promiseClient, type ServiceClient } from '../../../lib/grpc/client.ts';

export interface MemberContact {
  email: string;
  emailVerified: boolean;
}

export interface MemberContacts {
  /** The member's address, or null when nobody is there to write to. */
  contactOf(userId: string): Promise<MemberContact | null>;
}

export class IdentityMemberContacts implements MemberContacts {
  readonly #client: IdentityServiceClient;
  readonly #identity: ServiceClient<typeof IdentityServiceService>;

  constructor(target: string, deadlineMs: number) {
    this.#client = connect(IdentityServiceClient, target, deadlineMs);
    this.#identity = promiseClient(this.#client, IdentityServiceService);
  }

  async contactOf(userId: string): Promise<MemberContact | null> {
    try {
      return await this.#identity.getMemberContact({ userId });
    } catch (error) {
      if (isDomainError(error) && error.kind === 'not_found') return null;
      throw error;
    }
  }

  close(): void {
    this.#client.close();
  }
}
