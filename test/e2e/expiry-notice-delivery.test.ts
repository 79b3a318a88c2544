// Expiry notices through the whole mesh, on both flavours: a LinkExpiring
// event (published here, as link's scheduler does) becomes a mail to the
// owner's verified address, found through identity, and a post to the
// webhook, a real HTTP listener in the test. A redelivered event sends
// nothing more; a guest's or an unconfirmed owner's sends nothing, and is
// done with (no dead letter).
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LinkExpiring } from '../../gen/shortener/v1/events.ts';
import { CONSUMERS, EVENTS } from '../../lib/bus/catalog.ts';
import { newEmail, newMember } from '../support/accounts.ts';
import { call } from '../support/http.ts';
import { linkIn, Mailbox } from '../support/mailbox.ts';
import { MESH_FLAVOURS, type MeshFlavour, startTestMesh, type TestMesh } from '../support/mesh.ts';
import { SmtpSink } from '../support/smtp-sink.ts';
import { within } from '../support/wait.ts';
import { WebhookListener } from '../support/webhook.ts';

let nextEventId = 7_400_000_000_000_000_001n; // above 2^53: ids must survive exactly

describe.each(MESH_FLAVOURS)('expiry notices through the mesh (%s)', (flavour: MeshFlavour) => {
  let mesh: TestMesh;
  let sink: SmtpSink | undefined;
  let webhook: WebhookListener;

  beforeAll(async () => {
    sink = flavour === 'mysql+redis' ? await SmtpSink.open() : undefined;
    webhook = await WebhookListener.open();
    mesh = await startTestMesh(flavour, {
      NOTIFIER_WEBHOOK_URL: webhook.url,
      // One attempt: a notice that fails is parked at once, so a later one on
      // the queue shows whether an earlier one failed.
      BUS_RETRY_ATTEMPTS: '1',
      ...(sink ? { NOTIFIER_SMTP_URL: sink.url } : {}),
    });
  });
  afterAll(async () => {
    await mesh?.stop();
    await sink?.stop();
    await webhook?.stop();
  });

  const mailbox = () => new Mailbox(sink, mesh.config.notifier.outboxDir);
  const EXPIRY_SUBJECT = /expires soon$/;

  /** A member with a session, its id, and whether it confirmed its address (through the mailed link). */
  async function member(verified: boolean) {
    const email = newEmail(`owner-${flavour}`);
    const token = await newMember(mesh.url, email);
    const me = await call(mesh.url, 'GET', '/api/v1/me', { token });
    if (verified) {
      const mail = await mailbox().waitFor(email, 'Confirm your email address');
      const confirmed = await call(mesh.url, 'POST', '/api/v1/email-verifications/confirm', {
        json: { token: linkIn(mail).searchParams.get('token') },
      });
      expect(confirmed.status).toBe(204);
    }
    return { email, token, id: String(me.body.id) };
  }

  /** A LinkExpiring event for one of the owner's links, as link publishes it. */
  async function expiring(owner: { id: string; token: string }, label: string, tokenTag = '') {
    const made = await call(mesh.url, 'POST', '/api/v1/links', {
      token: owner.token,
      json: { targetUrl: `https://example.com/expiring/${label}?a=1&b=<2>` },
    });
    expect(made.status).toBe(201);
    nextEventId += 2n;
    return {
      eventId: String(nextEventId),
      linkId: String(made.body.id),
      code: String(made.body.code),
      ownerId: owner.id,
      expiresAt: new Date(Date.now() + 7 * 86_400_000),
      lastAccessedAt: new Date(Date.now() - 170 * 86_400_000),
      extendToken: `ext_${nextEventId.toString(36)}${tokenTag}`,
      extendUrl: `${mesh.url}/extend?token=ext_${nextEventId.toString(36)}${tokenTag}`,
      targetUrl: String(made.body.targetUrl),
    };
  }

  const publish = (event: LinkExpiring) =>
    mesh.mesh.bus.publish(EVENTS.linkExpiring, LinkExpiring.encode(event).finish());

  const deadLetters = () => mesh.mesh.bus.deadLetters(CONSUMERS.expiryNotices.name);

  test('when a verified member’s link is about to expire, then one mail with the extend link goes to them, and one post to the webhook', async () => {
    const owner = await member(true);
    const event = await expiring(owner, 'verified');
    await publish(event);

    const mail = await mailbox().waitFor(owner.email, EXPIRY_SUBJECT);
    expect(mail.subject).toContain(`/${event.code}`);
    expect(mail.text).toContain(`/${event.code} expires on`);
    expect(mail.text).toContain(event.targetUrl);
    expect(mail.text).toContain(event.lastAccessedAt.toISOString().slice(0, 10));
    expect(linkIn(mail).toString()).toBe(event.extendUrl);
    // The HTML carries the same link, the target escaped.
    expect(mail.html).toContain(`href="${event.extendUrl}"`);
    expect(mail.html).toContain('a=1&amp;b=');
    expect(mail.html).not.toContain('<2>');

    await within(10_000, () => webhook.textsAbout(event.code).length > 0);
    const [text] = webhook.textsAbout(event.code);
    expect(text).toContain(event.extendUrl);
    expect(text).not.toContain(owner.email);
    expect(webhook.posts.at(-1)?.contentType).toBe('application/json');
  });

  test('when the same notice is delivered again, then no second mail and no second post', async () => {
    const owner = await member(true);
    const event = await expiring(owner, 'twice');
    await publish(event);
    await publish(event);
    // A later notice on the same queue: once it is out, both copies were handled.
    const later = await expiring(owner, 'later');
    await publish(later);
    await within(10_000, () => webhook.textsAbout(later.code).length > 0);
    await mailbox().waitFor(owner.email, new RegExp(`/${later.code} `));

    expect(await mailbox().to(owner.email, new RegExp(`/${event.code} `))).toHaveLength(1);
    expect(webhook.textsAbout(event.code)).toHaveLength(1);
  });

  test('when the owner never confirmed their address, or is a guest, then no mail, no post and no dead letter', async () => {
    const unverified = await member(false);
    const unverifiedEvent = await expiring(unverified, 'unverified');
    const guest = await call(mesh.url, 'POST', '/api/v1/guests');
    const guestOwner = { id: String(guest.body.id), token: String(guest.body.token) };
    const guestEvent = await expiring(guestOwner, 'guest');
    await publish(unverifiedEvent);
    await publish(guestEvent);
    const marker = await expiring(await member(true), 'marker');
    await publish(marker);
    await within(10_000, () => webhook.textsAbout(marker.code).length > 0);

    expect(await mailbox().to(unverified.email, EXPIRY_SUBJECT)).toEqual([]);
    expect(webhook.textsAbout(unverifiedEvent.code)).toEqual([]);
    expect(webhook.textsAbout(guestEvent.code)).toEqual([]);
    expect(await deadLetters()).toEqual([]);
  });

  test('when the webhook refuses a notice, then the mail still goes once, and the event is parked with the webhook’s answer', async () => {
    const owner = await member(true);
    const event = await expiring(owner, 'refused', '-channel-gone');
    await publish(event);
    let parked: Awaited<ReturnType<typeof deadLetters>> = [];
    await within(10_000, async () => {
      parked = await deadLetters();
      return parked.length > 0;
    });
    expect(parked).toHaveLength(1);
    expect(parked[0]?.error).toMatch(/the webhook did not take the notice: HTTP 404/);
    expect(LinkExpiring.decode(parked[0]?.body ?? new Uint8Array()).eventId).toBe(event.eventId);
    expect(await mailbox().to(owner.email, EXPIRY_SUBJECT)).toHaveLength(1);
  });
});
