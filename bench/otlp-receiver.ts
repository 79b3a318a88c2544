// The OTLP/HTTP receiver the tracing scenarios export to, a process of its
// own on the machine as a collector would be: it accepts every export
// (`POST /v1/traces`, answered 200 as a collector does) and counts the
// requests and bytes; `GET /counts` tells them so far. It does not decode:
// what the bench measures is what exporting costs the mesh.
import { createServer } from 'node:http';

const [portText] = process.argv.slice(2);
if (!portText) throw new Error('usage: otlp-receiver <port>');
const counts = { exports: 0, bytes: 0 };

const server = createServer((request, response) => {
  if (request.method === 'GET' && request.url === '/counts') {
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(counts));
    return;
  }
  request.on('data', (chunk: Buffer) => {
    counts.bytes += chunk.length;
  });
  request.on('end', () => {
    counts.exports++;
    response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  });
});
server.listen(Number(portText), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
