// The baseline the mesh is measured against: a single-process node:http server
// answering 302 from Redis (one GET per request, auto-pipelined), 404 for
// unknown codes. Nothing else: no framework, no validation beyond the path.
import { createServer } from 'node:http';
import { Redis } from 'ioredis';

const [redisUrl, prefix, portText] = process.argv.slice(2);
if (!redisUrl || !prefix || !portText)
  throw new Error('usage: baseline-server <redis-url> <key-prefix> <port>');
const redis = new Redis(redisUrl, { enableAutoPipelining: true });

const server = createServer((request, response) => {
  const code = (request.url ?? '/').slice(1);
  redis.get(prefix + code).then(
    (target) => {
      if (target === null) {
        response.writeHead(404).end();
      } else {
        response
          .writeHead(302, { location: target, 'cache-control': 'private, no-store, max-age=0' })
          .end();
      }
    },
    () => response.writeHead(503).end(),
  );
});
server.listen(Number(portText), '127.0.0.1', () => process.send?.('ready'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
