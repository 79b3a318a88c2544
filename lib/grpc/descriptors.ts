// The descriptor set `buf build` writes to gen/descriptor.binpb holds the real
// FileDescriptorProtos of every contract, imports included. Reflection serves
// these as they are, so clients in any language see the files as written.
import { readFileSync } from 'node:fs';
import { BinaryReader } from '@bufbuild/protobuf/wire';

export const DESCRIPTOR_SET = new URL('../../gen/descriptor.binpb', import.meta.url);
/** grpc.health.v1, built by scripts/gen-contracts.sh from grpc-health-check's proto. */
export const HEALTH_DESCRIPTOR_SET = new URL('../../gen/health.binpb', import.meta.url);

/** The encoded FileDescriptorProtos of the set (FileDescriptorSet field 1). */
export function loadFileDescriptorProtos(path: URL | string = DESCRIPTOR_SET): Uint8Array[] {
  const reader = new BinaryReader(readFileSync(path));
  const files: Uint8Array[] = [];
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1) files.push(reader.bytes());
    else reader.skip(wireType);
  }
  return files;
}
