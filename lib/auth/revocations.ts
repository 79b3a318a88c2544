// Revoked credentials, announced by identity to every gateway that caches
// authentications. Carried by the broadcast (at most once, fast): a gateway
// that cannot be sure it hears every announcement stops caching, and the
// cache's TTL bounds anything missed regardless.
//
// A payload names either one token, by its SHA-256 (never the token), or a
// principal, meaning every token and API key of it.
import { hash } from 'node:crypto';
import { backoffDelay } from '../backoff.ts';
import type { Broadcast } from '../broadcast/broadcast.ts';
import type { Logger } from '../log.ts';

export const REVOCATIONS_CHANNEL = 'auth-revocations';

export type Revocation = { tokenHash: string } | { principalId: string };

/** The SHA-256 of a bearer token, in hex: how caches and announcements name a token. */
export function bearerTokenHash(token: string): string {
  return hash('sha256', token);
}

export function encodeRevocation(revocation: Revocation): string {
  return 'tokenHash' in revocation ? `t:${revocation.tokenHash}` : `p:${revocation.principalId}`;
}

/** Undefined for a payload this version does not understand. */
export function decodeRevocation(payload: string): Revocation | undefined {
  const value = payload.slice(2);
  if (value.length === 0) return undefined;
  if (payload.startsWith('t:')) return { tokenHash: value };
  if (payload.startsWith('p:')) return { principalId: value };
  return undefined;
}

/** Where identity announces what it revoked. */
export interface RevocationAnnouncer {
  announce(revocation: Revocation): Promise<void>;
  stop(): void;
}

const MAX_UNSENT = 10_000;

/**
 * Announces on the broadcast; what cannot go out now is retried with backoff
 * until it does (a gateway that did not hear it meanwhile was not caching, or
 * its TTL runs out first), so a revocation never fails because Redis blinked.
 */
export class BroadcastRevocations implements RevocationAnnouncer {
  readonly #broadcast: Broadcast;
  readonly #log: Logger;
  readonly #unsent = new Set<string>();
  #retry: NodeJS.Timeout | undefined;
  #attempt = 0;

  constructor(broadcast: Broadcast, log: Logger) {
    this.#broadcast = broadcast;
    this.#log = log;
  }

  async announce(revocation: Revocation): Promise<void> {
    const payload = encodeRevocation(revocation);
    try {
      await this.#broadcast.publish(REVOCATIONS_CHANNEL, payload);
    } catch (error) {
      this.#log.warn({ cause: (error as Error).message }, 'revocation not broadcast yet; retrying');
      if (this.#unsent.size < MAX_UNSENT) this.#unsent.add(payload);
      this.#scheduleRetry();
    }
  }

  stop(): void {
    clearTimeout(this.#retry);
  }

  #scheduleRetry(): void {
    if (this.#retry) return;
    this.#retry = setTimeout(async () => {
      this.#retry = undefined;
      for (const payload of [...this.#unsent]) {
        try {
          await this.#broadcast.publish(REVOCATIONS_CHANNEL, payload);
          this.#unsent.delete(payload);
          this.#attempt = 0;
        } catch {
          this.#attempt++;
          break;
        }
      }
      if (this.#unsent.size > 0) this.#scheduleRetry();
    }, backoffDelay(this.#attempt));
    this.#retry.unref();
  }
}
