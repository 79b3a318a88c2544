// A client that pipelines requests and never reads the answers costs the
// gateway a bounded amount of memory, and everyone else is still served on
// time: the gateway stops taking requests from such a connection, or closes it,
// instead of queueing all of them.
//
// On the embedded flavour only: the bound is the gateway's, the same whatever
// store the link service has behind it, and the story is heavy for two cores.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { CLOSE_AT, PAUSE_AT } from '../../gateway/http-edge.ts';

import { call, newGuest, shorten } from '../support/http.ts';
import { startTestMesh, type TestMesh } from '../support/mesh.ts';
import { openSocket } from '../support/raw-http.ts';

const CONNECTIONS = 30;
const REQUESTS_EACH = 20_000;
const MB = 1024 * 1024;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Requests the gateway took, by its end of the connection they came on, and that connection's client port. */
const taken = new Map<Socket, { port: number; requests: number }>();
function onRequestStart(message: unknown): void {
  const socket = (message as { request: IncomingMessage }).request.socket;
  const seen = taken.get(socket);
  if (seen) seen.requests++;
  else taken.set(socket, { port: socket.remotePort ?? -1, requests: 1 });
}

describe('a client that pipelines and never reads (embedded)', () => {
  let mesh: TestMesh;
  let known: { code: string; targetUrl: string };

  beforeAll(async () => {
    mesh = await startTestMesh('embedded');
    const token = await newGuest(mesh.url);
    const made = await shorten(mesh.url, token, 'https://example.com/flood/known');
    expect(made.status).toBe(201);
    known = { code: made.body.code, targetUrl: made.body.targetUrl };
    subscribe('http.server.request.start', onRequestStart);
  });
  afterAll(async () => {
    unsubscribe('http.server.request.start', onRequestStart);
    await mesh?.stop();
  });

  test('when 30 connections pipeline 20,000 requests each without reading, then memory stays bounded and /healthz answers at once', async () => {
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }, 20);
    // Unknown codes, each its own: every one needs the link service, so the
    // answers cannot keep up with the requests.
    const floods: Socket[] = [];
    const floodPorts = new Set<number>();
    try {
      for (let c = 0; c < CONNECTIONS; c++) {
        const socket = await openSocket(mesh.url);
        socket.on('error', () => {});
        // No 'data' listener: the client reads nothing.
        const requests: string[] = [];
        for (let i = 0; i < REQUESTS_EACH; i++) {
          requests.push(`GET /f${c}x${i} HTTP/1.1\r\nHost: flood\r\n\r\n`);
        }
        socket.write(requests.join(''));
        floods.push(socket);
        floodPorts.add(socket.localPort ?? -1);
      }

      // Meanwhile another client is served promptly, again and again.
      for (let probe = 0; probe < 10; probe++) {
        const started = performance.now();
        const health = await call(mesh.url, 'GET', '/healthz');
        expect(health.status).toBe(200);
        expect(health.body).toEqual({ status: 'ok' });
        expect(performance.now() - started).toBeLessThan(2_000);
        await sleep(100);
      }
      const redirect = await call(mesh.url, 'GET', `/${known.code}`);
      expect(redirect.status).toBe(302);
      expect(redirect.headers.get('location')).toBe(known.targetUrl);

      // Let the gateway take whatever it still will from the floods.
      const fromFloods = () => [...taken.values()].filter((seen) => floodPorts.has(seen.port));
      let before = -1;
      let now = 0;
      while (now !== before) {
        before = now;
        await sleep(500);
        now = fromFloods().reduce((sum, seen) => sum + seen.requests, 0);
      }
      // Every flood reached the gateway, and none had more taken than the
      // bound plus what one read of 64 KiB holds; each was paused or closed.
      expect(fromFloods()).toHaveLength(CONNECTIONS);
      const oneRead = Math.ceil(65_536 / 'GET /f0x0 HTTP/1.1\r\nHost: flood\r\n\r\n'.length);
      for (const [socket, seen] of taken) {
        if (!floodPorts.has(seen.port)) continue;
        expect(seen.requests).toBeLessThanOrEqual(CLOSE_AT + oneRead);
        expect(socket.destroyed || socket.isPaused()).toBe(true);
      }
      expect(now).toBeLessThan((CONNECTIONS * REQUESTS_EACH) / 4);
      expect(rssPeak - rssBefore).toBeLessThan(400 * MB);
    } finally {
      clearInterval(sampler);
      for (const socket of floods) socket.destroy();
    }
    // And the mesh serves as before.
    const after = await call(mesh.url, 'GET', `/${known.code}`);
    expect(after.status).toBe(302);
  });

  test('when a client pipelines more than the pause bound in bursts and reads its answers, then every request is answered in order', async () => {
    const BURSTS = 4;
    const EACH = PAUSE_AT * 6;
    const socket = await openSocket(mesh.url);
    try {
      let received = '';
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => {
        received += chunk;
      });
      const statuses = () => [...received.matchAll(/^HTTP\/1\.1 (\d{3}) /gm)].map((m) => m[1]);
      for (let burst = 0; burst < BURSTS; burst++) {
        const requests: string[] = [];
        // Known codes answer at once from the near cache, unknown ones a turn later.
        for (let i = 0; i < EACH; i++) {
          const path = i % 2 === 0 ? `/${known.code}` : `/nope${burst}x${i}`;
          requests.push(`GET ${path} HTTP/1.1\r\nHost: reader\r\n\r\n`);
        }
        socket.write(requests.join(''));
        await sleep(50);
      }
      const total = BURSTS * EACH;
      for (let waited = 0; statuses().length < total && waited < 15_000; waited += 50)
        await sleep(50);
      expect(statuses()).toEqual(
        Array.from({ length: total }, (_, i) => (i % 2 === 0 ? '302' : '404')),
      );
      expect(socket.destroyed).toBe(false);
    } finally {
      socket.destroy();
    }
  });
});
