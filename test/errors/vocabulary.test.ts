// One error vocabulary across the mesh: every code is written once, in one
// catalogue, and means one thing everywhere; every code a service can send
// maps to a gRPC status and back and to an HTTP status at the gateway; what
// the README and the protos promise about codes is true; and no code is made
// up where an error is thrown.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { ServiceError } from '@grpc/grpc-js';
import { describe, expect, test } from 'vitest';
import { gatewayErrors } from '../../gateway/errors.ts';
import { HTTP_BY_KIND } from '../../gateway/problems.ts';
import { problemForResult } from '../../gateway/redirect-replies.ts';
import { ResolveStatus } from '../../gen/shortener/v1/link.ts';
import { DomainError, describeErrors, type ErrorDescription } from '../../lib/errors.ts';
import { fromServiceError, toStatus } from '../../lib/grpc/status.ts';
import { runtimeErrors } from '../../lib/runtime-errors.ts';
import { analyticsErrors } from '../../services/analytics/errors.ts';
import { identityErrors } from '../../services/identity/errors.ts';
import { linkErrors } from '../../services/link/errors.ts';

const root = new URL('../..', import.meta.url).pathname;

const runtime = describeErrors(runtimeErrors);
const CATALOGUES = {
  runtime,
  link: describeErrors(linkErrors),
  identity: describeErrors(identityErrors),
  analytics: describeErrors(analyticsErrors),
  gateway: describeErrors(gatewayErrors),
};

/** What each service may put in an `error-code`: its own catalogue and the shared runtime's. */
const SENDABLE: Record<string, ErrorDescription[]> = {
  link: [...CATALOGUES.link, ...runtime],
  identity: [...CATALOGUES.identity, ...runtime],
  analytics: [...CATALOGUES.analytics, ...runtime],
};

const everyCode = Object.values(CATALOGUES)
  .flat()
  .map((entry) => entry.code);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

describe('the error vocabulary', () => {
  test('every code is a snake_case name defined in exactly one catalogue', () => {
    for (const code of everyCode) expect(code).toMatch(/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/);
    const repeated = everyCode.filter((code, i) => everyCode.indexOf(code) !== i);
    expect(repeated).toEqual([]);
  });

  test('every code a service can send keeps its kind and code over gRPC and has an HTTP status at the gateway', () => {
    for (const [service, entries] of Object.entries(SENDABLE)) {
      for (const entry of entries) {
        const sent = new DomainError(entry.kind, 'x', {
          code: entry.code,
          ...(entry.field ? { field: entry.field } : {}),
        });
        const arrived = fromServiceError(toStatus(sent) as unknown as ServiceError);
        expect({ service, kind: arrived.kind, code: arrived.code, field: arrived.field }).toEqual({
          service,
          kind: entry.kind,
          code: entry.code,
          field: entry.field,
        });
        expect(HTTP_BY_KIND[entry.kind]?.status, entry.code).toBeGreaterThanOrEqual(400);
      }
    }
    for (const entry of CATALOGUES.gateway) {
      expect(HTTP_BY_KIND[entry.kind]?.status, entry.code).toBeGreaterThanOrEqual(400);
    }
  });

  test('a failed ResolveLinks item answers the HTTP status its error code would answer from ResolveLink', () => {
    const failures: [ResolveStatus, ErrorDescription][] = [
      [ResolveStatus.RESOLVE_STATUS_NOT_FOUND, linkErrors.link_not_found],
      [ResolveStatus.RESOLVE_STATUS_EXPIRED, linkErrors.link_expired],
      [ResolveStatus.RESOLVE_STATUS_UNAVAILABLE, runtimeErrors.database_unavailable],
      [ResolveStatus.RESOLVE_STATUS_UNAVAILABLE, runtimeErrors.database_timeout],
    ];
    for (const [status, entry] of failures) {
      const answer = problemForResult(status, entry.code, 'm');
      expect(answer.status, entry.code).toBe(HTTP_BY_KIND[entry.kind].status);
      expect(JSON.parse(answer.body)).toMatchObject({
        code: entry.code,
        type: `/problems/${entry.code}`,
      });
      // Built once: the same answer object every time.
      expect(problemForResult(status, entry.code, 'm')).toBe(answer);
    }
  });

  test('the codes the README and the protos name are codes their part can send', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const sentence = readme.slice(readme.indexOf('Every error is an RFC 9457 problem'));
    const named = (text: string) =>
      [...text.matchAll(/`([a-z][a-z0-9]*(?:_[a-z0-9]+)+)`/g)].map((match) => match[1]);
    const readmeCodes = named(sentence.slice(0, sentence.indexOf('\n\n')));
    expect(readmeCodes.length).toBeGreaterThan(0);
    for (const code of readmeCodes) expect(everyCode, 'README').toContain(code);

    for (const service of ['link', 'identity', 'analytics']) {
      const proto = readFileSync(join(root, `proto/shortener/v1/${service}.proto`), 'utf8');
      const comments = proto
        .split('\n')
        .filter((line) => line.trim().startsWith('//'))
        .join('\n');
      const sendable = (SENDABLE[service] ?? []).map((entry) => entry.code);
      const protoCodes = named(comments);
      expect(protoCodes.length, service).toBeGreaterThan(0);
      for (const code of protoCodes) expect(sendable, `${service}.proto`).toContain(code);
    }
  });

  test('errors are raised from catalogues: only code that rebuilds a received error constructs one', () => {
    const rebuilders = ['lib/errors.ts', 'lib/grpc/status.ts', 'gateway/redirect-replies.ts'];
    const constructing = ['lib', 'services', 'gateway']
      .flatMap((dir) => sourceFiles(join(root, dir)))
      .filter((file) => readFileSync(file, 'utf8').includes('new DomainError('))
      .map((file) => relative(root, file))
      .filter((file) => !rebuilders.includes(file));
    expect(constructing).toEqual([]);
  });
});
