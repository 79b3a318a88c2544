// Which methods may be sent twice, read from the protos themselves: a method
// marked `option idempotency_level = NO_SIDE_EFFECTS` (or IDEMPOTENT) is
// retried by every client on UNAVAILABLE, with backoff, through grpc-js's
// service config; everything else is sent once. The list comes from the
// descriptor set `buf build` writes, so it follows the protos.

import { readFileSync } from 'node:fs';
import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema, MethodOptions_IdempotencyLevel } from '@bufbuild/protobuf/wkt';
import { DESCRIPTOR_SET } from './descriptors.ts';

/** `/package.Service/Method` of every method safe to send twice. */
export function idempotentMethods(path: URL | string = DESCRIPTOR_SET): Set<string> {
  const set = fromBinary(FileDescriptorSetSchema, readFileSync(path));
  const paths = new Set<string>();
  for (const file of set.file) {
    for (const service of file.service) {
      for (const method of service.method) {
        const level = method.options?.idempotencyLevel;
        if (
          level === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS ||
          level === MethodOptions_IdempotencyLevel.IDEMPOTENT
        ) {
          paths.add(`/${file.package}.${service.name}/${method.name}`);
        }
      }
    }
  }
  return paths;
}

/** A few quick attempts: a callee restarting or a replica going away, not an outage. */
const RETRY_POLICY = {
  maxAttempts: 3,
  initialBackoff: '0.05s',
  maxBackoff: '0.5s',
  backoffMultiplier: 2,
  retryableStatusCodes: ['UNAVAILABLE'],
};

/** grpc-js service config: round-robin over every address, retries for idempotent methods only. */
export function serviceConfig(idempotent: ReadonlySet<string>): string {
  const names = [...idempotent].map((path) => {
    const [, service, method] = path.split('/');
    return { service, method };
  });
  return JSON.stringify({
    loadBalancingConfig: [{ round_robin: {} }],
    ...(names.length > 0 ? { methodConfig: [{ name: names, retryPolicy: RETRY_POLICY }] } : {}),
  });
}
