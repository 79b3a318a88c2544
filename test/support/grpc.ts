// gRPC from a test's side: callback-style calls with their raw error,
// trailers, undecoded bytes, a link client, and a bare grpc-js server.
import {
  Client,
  credentials,
  Metadata,
  type Server,
  ServerCredentials,
  type ServiceError,
} from '@grpc/grpc-js';
import { onTestFinished } from 'vitest';
import { LinkServiceClient, LinkServiceService } from '../../gen/shortener/v1/link.ts';
import { dialable } from '../../lib/config/parsers.ts';
import { connect, promiseClient } from '../../lib/grpc/client.ts';

export interface Outcome<Res> {
  error: ServiceError | null;
  response: Res | undefined;
}

/** Runs one callback-style call and hands back its error or response. */
export function outcome<Res>(
  start: (callback: (error: ServiceError | null, response?: Res) => void) => void,
): Promise<Outcome<Res>> {
  return new Promise((resolve) => start((error, response) => resolve({ error, response })));
}

/** A string trailer of a failed call, if it has one. */
export function trailer(error: ServiceError | null, key: string): string | undefined {
  const value = error?.metadata?.get(key)[0];
  return typeof value === 'string' ? value : undefined;
}

/** Sends raw bytes to a method, bypassing every serialiser. */
export function sendRaw(address: string, path: string, bytes: Buffer): Promise<Outcome<Buffer>> {
  const client = new Client(address, credentials.createInsecure());
  return outcome<Buffer>((callback) =>
    client.makeUnaryRequest(
      path,
      (value: Buffer) => value,
      (value: Buffer) => value,
      bytes,
      new Metadata(),
      { deadline: Date.now() + 5_000 },
      callback,
    ),
  ).finally(() => client.close());
}

/** A LinkService client as the gateway holds one, closed when the calling test finishes. */
export function linkClientForTest(address: string, defaultDeadlineMs = 2_000) {
  const client = connect(LinkServiceClient, dialable(address), defaultDeadlineMs);
  onTestFinished(() => client.close());
  return promiseClient(client, LinkServiceService);
}

/** Binds a bare grpc-js server to a free local port; its address. */
export function bindLocally(server: Server): Promise<string> {
  return new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, port) =>
      error ? reject(error) : resolve(`127.0.0.1:${port}`),
    ),
  );
}
