// A store call whose gRPC call runs out of time is given up on for real: the
// caller hears `unavailable` at once, the database rolls back what the call had
// written, and no connection is left behind (MariaDB); on SQLite, giving up
// while waiting for its single connection never leaves that connection taken.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CallDeadline, UNBOUNDED_CALL_MS, withCallSignal } from '../../lib/call-scope.ts';
import { type Orm, openDatabase } from '../../lib/db/open.ts';
import { DomainError } from '../../lib/errors.ts';
import { IdentityStore } from '../../services/identity/store/identity-store.ts';
import { identitySchema } from '../../services/identity/store/schema.ts';
import { dropDatabases } from '../support/databases.ts';
import { MYSQL_URL, uniqueName } from '../support/env.ts';
import { testLog } from '../support/logger.ts';

const POOL_SIZE = 2;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const hash = (n: number) => n.toString(16).padStart(64, '0');
let nextGuest = 8_000_000_000_000_000_000n;
const guest = () => ({ id: String(nextGuest++), createdAt: new Date() });
const token = (n: number) => ({ hash: hash(n), expiresAt: new Date(Date.now() + 3_600_000) });

/** Runs `work` as a call with `ms` left, and says how it ended and how long it took. */
async function asCallWithin<T>(ms: number, work: () => Promise<T>) {
  const deadline = new CallDeadline(Date.now() + ms, ms);
  const started = performance.now();
  try {
    const value = await withCallSignal(deadline.signal, work);
    return { value, error: undefined, elapsed: performance.now() - started };
  } catch (error) {
    return { value: undefined, error, elapsed: performance.now() - started };
  } finally {
    deadline.dispose();
  }
}

describe('giving up on a database call (mysql)', () => {
  const name = uniqueName('abort');
  let orm: Orm;
  let store: IdentityStore;

  beforeAll(async () => {
    orm = await openDatabase({
      url: `${MYSQL_URL}/${name}`,
      schema: identitySchema,
      log: testLog,
      poolSize: POOL_SIZE,
    });
    store = new IdentityStore(orm);
  });
  afterAll(async () => {
    await orm?.close();
    await dropDatabases([name]);
  });

  test('when a call blocked by a row lock runs out of time, then it fails at once, its writes are rolled back and no connection leaks', async () => {
    // Another session holds the token row the call needs (inserted, not committed).
    const locker = await createConnection({ uri: `${MYSQL_URL}/${name}` });
    const blocked = guest();
    try {
      await locker.query('begin');
      await locker.query(
        `insert into access_tokens (token_hash, principal_id, principal_kind, created_at, expires_at)
         values (?, 1, 'guest', now(3), now(3))`,
        [hash(1)],
      );

      // More aborted calls than the pool has connections: each must give its back.
      for (let i = 0; i < POOL_SIZE + 1; i++) {
        const attempt = i === 0 ? blocked : guest();
        const outcome = await asCallWithin(300, () => store.insertGuest(attempt, token(1)));
        expect(outcome.error).toBeInstanceOf(DomainError);
        expect((outcome.error as DomainError).kind).toBe('unavailable');
        expect((outcome.error as DomainError).code).toBe('database_timeout');
        expect(outcome.elapsed).toBeGreaterThanOrEqual(250);
        expect(outcome.elapsed).toBeLessThan(1_000);
      }

      // The lock goes away. A call that had only been abandoned would now go on
      // and commit its guest; a killed one was rolled back by the server.
      await locker.query('rollback');
      await sleep(300);
      const [rows] = await locker.query('select id from guests where id = ?', [blocked.id]);
      expect(rows).toEqual([]);
    } finally {
      await locker.end();
    }

    // Afterwards the pool serves more calls than it has connections, at once.
    const calls = Array.from({ length: POOL_SIZE * 3 }, (_, i) =>
      asCallWithin(2_000, () => store.insertGuest(guest(), token(100 + i))),
    );
    for (const outcome of await Promise.all(calls)) expect(outcome.error).toBeUndefined();
    for (let i = 0; i < POOL_SIZE * 3; i++) {
      expect((await store.findToken(hash(100 + i)))?.principalKind).toBe('guest');
    }
  });

  test('when a call has no deadline, then its store calls are still bounded', async () => {
    // As the server adapters build it for a unary call without a deadline.
    const unbounded = new CallDeadline(Number.POSITIVE_INFINITY, UNBOUNDED_CALL_MS);
    expect(unbounded.signal.aborted).toBe(false);
    unbounded.dispose();
    const bounded = new CallDeadline(Number.POSITIVE_INFINITY, 200);
    try {
      const outcome = await withCallSignal(bounded.signal, async () => {
        await sleep(300);
        return store.findToken(hash(2)).then(
          () => undefined,
          (error: unknown) => error,
        );
      });
      expect(outcome).toBeInstanceOf(DomainError);
      expect((outcome as DomainError).code).toBe('database_timeout');
    } finally {
      bounded.dispose();
    }
    // Without any call around it, store work gets a bounded signal too and succeeds.
    expect(await store.findToken(hash(2))).toBeNull();
  });
});

describe('giving up on a database call (sqlite)', () => {
  let dir: string;
  let orm: Orm;
  let store: IdentityStore;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'abort-'));
    orm = await openDatabase({
      url: `sqlite:${join(dir, 'identity.sqlite')}`,
      schema: identitySchema,
      log: testLog,
    });
    store = new IdentityStore(orm);
  });
  afterAll(async () => {
    await orm?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('when calls give up waiting for the single connection, then it is never left taken', async () => {
    // A long transaction holds the one connection SQLite has.
    const holding = orm.em.fork().transactional(async (em) => {
      await em.execute('select 1');
      await sleep(600);
    });
    await sleep(20);
    const waiting = await Promise.all(
      [1, 2, 3].map((n) => asCallWithin(150, () => store.insertGuest(guest(), token(n)))),
    );
    for (const outcome of waiting) {
      expect(outcome.error).toBeInstanceOf(DomainError);
      expect((outcome.error as DomainError).kind).toBe('unavailable');
      expect(outcome.elapsed).toBeLessThan(500);
    }
    await holding;

    // The connection is free again: calls go through, none of the abandoned ones wrote.
    const after = await asCallWithin(1_000, () => store.insertGuest(guest(), token(10)));
    expect(after.error).toBeUndefined();
    expect((await store.findToken(hash(10)))?.principalKind).toBe('guest');
    for (const n of [1, 2, 3]) expect(await store.findToken(hash(n))).toBeNull();
  });
});
