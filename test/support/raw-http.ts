// HTTP/1.1 spoken by hand over TCP, for stories fetch cannot tell: requests
// without a Host header, malformed request lines, requests that never finish.
import { connect, type Socket } from 'node:net';

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The problem details, if the body is JSON. */
  json: Record<string, unknown> | null;
}

/** Parses the first answer in `text` (status line, headers, body up to Content-Length). */
export function parseAnswer(text: string): RawAnswer {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`no complete answer in ${JSON.stringify(text.slice(0, 200))}`);
  const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n');
  const status = Number(statusLine.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? text.length - end - 4);
  const body = text.slice(end + 4, end + 4 + length);
  let json: Record<string, unknown> | null = null;
  if ((headers['content-type'] ?? '').includes('json') && body) json = JSON.parse(body);
  return { status, headers, body, json };
}

export function openSocket(baseUrl: string): Promise<Socket> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/**
 * Sends `request` as it is and reads until the server closes the connection
 * (or `timeoutMs` passes), returning everything it sent back.
 */
export async function exchange(baseUrl: string, request: string, timeoutMs = 10_000) {
  const socket = await openSocket(baseUrl);
  return new Promise<string>((resolve, reject) => {
    let received = '';
    const guard = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within ${timeoutMs} ms; got ${JSON.stringify(received)}`));
    }, timeoutMs);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      received += chunk;
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(guard);
      resolve(received);
    });
    socket.write(request, 'latin1');
  });
}
