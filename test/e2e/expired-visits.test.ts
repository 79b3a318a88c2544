// What analytics does with a purged link's visits, through the mesh on
// MariaDB with RabbitMQ and on the embedded default: with
// ANALYTICS_EXPIRED_VISITS=drop, a `link.expired` event removes the link's
// visits and daily rollups (and only its); with the default, keep, they stay.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LinkExpired } from '../../gen/shortener/v1/events.ts';
import { EVENTS } from '../../lib/bus/catalog.ts';
import { type Orm, openDatabase } from '../../lib/db/open.ts';
import { LinkDayRow, VisitRow } from '../../services/analytics/store/entities.ts';
import { analyticsSchema } from '../../services/analytics/store/schema.ts';
import { redirects } from '../support/clicks.ts';
import { call, newGuest, shorten } from '../support/http.ts';
import { testLog } from '../support/logger.ts';
import { MESH_FLAVOURS, meshForSuite, type SuiteMesh } from '../support/mesh.ts';
import { sleep, within } from '../support/wait.ts';

async function clickedLink(mesh: SuiteMesh, token: string, name: string) {
  const made = await shorten(mesh.url, token, `https://example.com/expired-visits/${name}`);
  const statuses = await redirects(mesh.url, [made.body.code], 3);
  expect(statuses).toEqual([302, 302, 302]);
  return made.body.id;
}

function expired(mesh: SuiteMesh, linkId: string) {
  return mesh.mesh.bus.publish(
    EVENTS.linkExpired,
    LinkExpired.encode({
      eventId: linkId,
      linkId,
      code: 'gone',
      ownerId: '1',
      expiredAt: new Date(),
      purgedAt: new Date(),
    }).finish(),
  );
}

describe.each(MESH_FLAVOURS)('visits of purged links (%s)', (flavour) => {
  for (const mode of ['drop', 'keep'] as const) {
    describe(`with ANALYTICS_EXPIRED_VISITS=${mode}`, () => {
      const mesh = meshForSuite(flavour, {
        ANALYTICS_EXPIRED_VISITS: mode,
        CLICKS_FLUSH_INTERVAL: '10ms',
      });
      let analytics: Orm;
      beforeAll(async () => {
        analytics = await openDatabase({
          url: mesh.config.analytics.databaseUrl,
          schema: analyticsSchema,
          log: testLog,
        });
      });
      afterAll(() => analytics?.close());
      const visitsOf = (linkId: string) => analytics.em.fork().count(VisitRow, { linkId });
      const daysOf = (linkId: string) => analytics.em.fork().count(LinkDayRow, { linkId });

      test(`when a link with visits is purged, then its visits are ${mode === 'drop' ? 'dropped, and only its' : 'kept'}`, async () => {
        const token = await newGuest(mesh.url);
        const purged = await clickedLink(mesh, token, `${mode}-purged`);
        const other = await clickedLink(mesh, token, `${mode}-other`);
        await within(
          15_000,
          async () => (await visitsOf(purged)) === 3 && (await visitsOf(other)) === 3,
        );
        expect(await daysOf(purged)).toBe(1);

        await expired(mesh, purged);
        await expired(mesh, purged); // delivered again: changes nothing more
        if (mode === 'drop') {
          await within(10_000, async () => (await visitsOf(purged)) === 0);
          expect(await daysOf(purged)).toBe(0);
        } else {
          await sleep(1_000);
          expect(await visitsOf(purged)).toBe(3);
          expect(await daysOf(purged)).toBe(1);
        }
        expect(await visitsOf(other)).toBe(3);
        expect(await mesh.mesh.bus.deadLetters('analytics.expired-links')).toEqual([]);
        expect((await call(mesh.url, 'GET', '/healthz')).status).toBe(200);
      });
    });
  }
});
