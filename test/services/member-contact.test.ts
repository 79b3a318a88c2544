// IdentityService.GetMemberContact, as the notifier calls it: a member's
// address and whether it is confirmed; NOT_FOUND for a guest, an unknown id
// and a closed account alike; INVALID_ARGUMENT for what is not an id. Through
// the notifier's own client too, which reads NOT_FOUND as "nobody to write to".
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  type GetMemberContactResponse,
  IdentityServiceClient,
} from '../../gen/shortener/v1/identity.ts';
import { connect } from '../../lib/grpc/client.ts';
import { IdentityMemberContacts } from '../../services/notifier/members/member-contacts.ts';
import { CapturedMail, newEmail, signUp } from '../support/accounts.ts';
import { outcome, trailer } from '../support/grpc.ts';
import { call } from '../support/http.ts';
import { MESH_FLAVOURS, meshForSuite } from '../support/mesh.ts';

describe.each(MESH_FLAVOURS)('GetMemberContact (%s)', (flavour) => {
  const mail = new CapturedMail();
  const mesh = meshForSuite(flavour, {}, { identity: { mail } });
  let identity: IdentityServiceClient;
  let contacts: IdentityMemberContacts;

  beforeAll(() => {
    identity = connect(IdentityServiceClient, mesh.mesh.identity.address, 5_000);
    contacts = new IdentityMemberContacts(mesh.mesh.identity.address, 5_000);
  });
  afterAll(() => {
    identity?.close();
    contacts?.close();
  });

  const contactOf = (userId: string) =>
    outcome<GetMemberContactResponse>((callback) =>
      identity.getMemberContact({ userId }, callback),
    );

  test('when a member signs up and then confirms their address, then the contact says so', async () => {
    const email = newEmail('contact');
    const made = await signUp(mesh.url, email);
    expect(made.status).toBe(201);
    const before = await contactOf(made.body.id);
    expect(before.error).toBeNull();
    expect(before.response).toEqual({ email, emailVerified: false });

    const confirmed = await call(mesh.url, 'POST', '/api/v1/email-verifications/confirm', {
      json: { token: mail.lastToken(email, 'email_verification') },
    });
    expect(confirmed.status).toBe(204);
    expect(await contacts.contactOf(made.body.id)).toEqual({ email, emailVerified: true });
  });

  test('when the id is a guest’s, nobody’s or a closed account’s, then NOT_FOUND account_not_found, which the notifier reads as nobody', async () => {
    const guest = await call(mesh.url, 'POST', '/api/v1/guests');
    const closing = await signUp(mesh.url, newEmail('closed-contact'));
    expect(
      (await call(mesh.url, 'DELETE', '/api/v1/me', { token: closing.body.token })).status,
    ).toBe(204);
    for (const id of [String(guest.body.id), '7399999999999999999', String(closing.body.id)]) {
      const answer = await contactOf(id);
      expect(answer.error?.code, id).toBe(status.NOT_FOUND);
      expect(trailer(answer.error, 'error-code')).toBe('account_not_found');
      expect(await contacts.contactOf(id)).toBeNull();
    }
  });

  test('when the id is missing or negative, then INVALID_ARGUMENT invalid_user_id on user_id', async () => {
    for (const id of ['0', '-5']) {
      const answer = await contactOf(id);
      expect(answer.error?.code, id).toBe(status.INVALID_ARGUMENT);
      expect(trailer(answer.error, 'error-code')).toBe('invalid_user_id');
      expect(trailer(answer.error, 'error-field')).toBe('user_id');
    }
    await expect(contacts.contactOf('0')).rejects.toMatchObject({ code: 'invalid_user_id' });
  });
});
