// Whether a service's database can do what the service needs of it right
// now: answer at all, and take writes. A probe writes one row every few
// seconds (and checks the free space of an embedded database's folder, since
// SQLite can keep writing into its journal for a while after the disk is
// full), so readiness reports the truth without waiting for a user's write to
// fail, and reports recovery as soon as the cause is gone.
import { accessSync, constants, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { defineEntity, p } from '@mikro-orm/core';
import { withCallSignal } from '../call-scope.ts';
import type { Logger } from '../log.ts';
import { inCall } from './call-fork.ts';
import { isUnwritable } from './errors.ts';
import type { MigrationStep } from './migrations.ts';
import type { Orm } from './open.ts';

export type DatabaseState = 'ok' | 'database_unavailable' | 'database_unwritable';

/** The probe's one-row table; every store's schema includes it and its migration. */
export const HealthProbeRow = defineEntity({
  name: 'HealthProbeRow',
  tableName: 'health_probes',
  properties: {
    id: p.integer().primary().autoincrement(false).unsigned(false),
    probedAt: p.bigint('number'),
  },
});

/** The migration creating the probe's table, numbered in each store's own list. */
export function createHealthProbes(name: string): MigrationStep {
  return {
    name,
    up: [
      'create table `health_probes` (`id` int not null primary key, `probed_at` bigint not null)',
    ],
    down: ['drop table `health_probes`'],
  };
}

/** A probe the database has not answered by then says it is unavailable. */
const PROBE_TIMEOUT_MS = 1_500;

/** An embedded database with less free space than this is reported unwritable. */
const MIN_FREE_BYTES = 1024 * 1024;

export class DatabaseProbe {
  readonly #orm: Orm;
  readonly #folder: string | undefined;
  readonly #log: Logger;
  readonly #everyMs: number;
  readonly #listeners = new Set<(state: DatabaseState) => void>();
  #state: DatabaseState = 'ok';
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  /** `url` tells where an embedded database keeps its files. */
  constructor(orm: Orm, url: string, log: Logger, everyMs = 2_000) {
    this.#orm = orm;
    this.#folder = url.startsWith('sqlite:') ? dirname(url.slice('sqlite:'.length)) : undefined;
    this.#log = log;
    this.#everyMs = everyMs;
  }

  get state(): DatabaseState {
    return this.#state;
  }

  onChange(listener: (state: DatabaseState) => void): void {
    this.#listeners.add(listener);
  }

  /** Probes now, then every few seconds until stopped. */
  async start(): Promise<void> {
    await this.#probe();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  async #probe(): Promise<void> {
    this.#set(await this.#check());
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#probe(), this.#everyMs);
    this.#timer.unref();
  }

  async #check(): Promise<DatabaseState> {
    if (this.#folder !== undefined && !this.#folderWritable(this.#folder)) {
      return 'database_unwritable';
    }
    try {
      // Bounded like any call, and given up for real: a hung database must
      // not hold the probe (or a connection) forever.
      await withCallSignal(AbortSignal.timeout(PROBE_TIMEOUT_MS), () =>
        inCall(this.#orm, (em) => em.upsert(HealthProbeRow, { id: 1, probedAt: Date.now() })),
      );
      return 'ok';
    } catch (error) {
      return isUnwritable(error) ? 'database_unwritable' : 'database_unavailable';
    }
  }

  #folderWritable(folder: string): boolean {
    try {
      accessSync(folder, constants.W_OK);
      const space = statfsSync(folder);
      return space.bavail * space.bsize >= MIN_FREE_BYTES;
    } catch {
      return false;
    }
  }

  #set(state: DatabaseState): void {
    if (state === this.#state) return;
    const was = this.#state;
    this.#state = state;
    if (state === 'ok') this.#log.info({ was }, 'database works again');
    else this.#log.warn({ state }, 'database cannot do everything this service needs');
    for (const listener of this.#listeners) listener(state);
  }
}
