// A real OTLP/HTTP trace receiver for the tracing stories: it listens on a
// loopback port, takes `POST /v1/traces` as the SDK's exporter sends it
// (http/protobuf), decodes every export with the OTLP message definitions
// (otlp/trace.proto) and keeps each span with the resource that sent it.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { loadSync } from '@grpc/proto-loader';
import { within } from './wait.ts';

const definition = loadSync(fileURLToPath(new URL('otlp/trace.proto', import.meta.url)), {
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});
const exportMethod = (
  definition['otlp.test.v1.TraceService'] as unknown as {
    Export: { requestDeserialize(bytes: Buffer): ExportRequest };
  }
).Export;

interface KeyValue {
  key: string;
  value: { value?: string; [kind: string]: unknown } | null;
}

interface ExportRequest {
  resourceSpans: {
    resource: { attributes: KeyValue[] } | null;
    scopeSpans: {
      scope: { name: string } | null;
      spans: {
        traceId: Buffer;
        spanId: Buffer;
        parentSpanId: Buffer;
        name: string;
        kind: string;
        attributes: KeyValue[];
        links: { traceId: Buffer; spanId: Buffer }[];
        status: { code: string } | null;
      }[];
    }[];
  }[];
}

export interface ReceivedSpan {
  /** The resource's `service.name`. */
  service: string;
  serviceVersion: string;
  scope: string;
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  kind: string;
  attributes: Record<string, unknown>;
  links: { traceId: string; spanId: string }[];
  status: string;
}

function attributesOf(list: KeyValue[]): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  for (const { key, value } of list) {
    const kind = value?.value;
    const held = kind ? value?.[kind] : undefined;
    // int64 arrives as a string (no precision lost on decoding); the stories' numbers are small.
    attributes[key] = kind === 'intValue' ? Number(held) : held;
  }
  return attributes;
}

const hex = (bytes: Buffer | undefined) => (bytes ? Buffer.from(bytes).toString('hex') : '');

function spansOf(request: ExportRequest): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const { resource, scopeSpans } of request.resourceSpans) {
    const own = attributesOf(resource?.attributes ?? []);
    for (const { scope, spans: list } of scopeSpans) {
      for (const span of list) {
        spans.push({
          service: String(own['service.name'] ?? ''),
          serviceVersion: String(own['service.version'] ?? ''),
          scope: scope?.name ?? '',
          traceId: hex(span.traceId),
          spanId: hex(span.spanId),
          parentSpanId: hex(span.parentSpanId),
          name: span.name,
          kind: span.kind,
          attributes: attributesOf(span.attributes),
          links: span.links.map((link) => ({
            traceId: hex(link.traceId),
            spanId: hex(link.spanId),
          })),
          status: span.status?.code ?? 'STATUS_CODE_UNSET',
        });
      }
    }
  }
  return spans;
}

async function bodyOf(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  /** Every request that reached the receiver, whatever its path. */
  requests = 0;
  readonly #server: Server;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async open(): Promise<OtlpReceiver> {
    const server = createServer();
    const receiver = new OtlpReceiver(server);
    server.on('request', (request, response) => {
      receiver.requests++;
      bodyOf(request).then(
        (body) => {
          if (request.url !== '/v1/traces' || request.method !== 'POST') {
            response.writeHead(404).end();
            return;
          }
          receiver.spans.push(...spansOf(exportMethod.requestDeserialize(body)));
          response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
        },
        () => response.destroy(),
      );
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return receiver;
  }

  /** The base URL for OTEL_EXPORTER_OTLP_ENDPOINT. */
  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  trace(traceId: string): ReceivedSpan[] {
    return this.spans.filter((span) => span.traceId === traceId);
  }

  /** Waits until the trace holds a span whose name ends with each of `names` (more may follow). */
  async waitForTrace(traceId: string, names: string[], timeoutMs = 20_000) {
    await within(timeoutMs, () => {
      const seen = this.trace(traceId).map((span) => span.name);
      return names.every((name) => seen.some((span) => span.endsWith(name)));
    }).catch(() => {
      const seen = this.trace(traceId).map((span) => `${span.service}: ${span.name}`);
      throw new Error(`trace ${traceId} lacks some of ${names.join(', ')}; has ${seen.join('; ')}`);
    });
    return this.trace(traceId);
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
