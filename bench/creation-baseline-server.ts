// The baseline link creation is measured against: a single-process node:http
// server doing the essential work of one create and nothing else: read and
// parse the JSON body, one INSERT into a links-shaped MariaDB table (same
// columns and indexes as the link service's, as many rows), one Redis SET of
// the new code, 201 with the code. No authentication, rate limit, validation,
// dedup or gRPC hop: what those cost is what the ratio shows.
import { createHash, randomInt } from 'node:crypto';
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { createPool } from 'mysql2/promise';

const [mysqlUrl, table, redisUrl, prefix, portText] = process.argv.slice(2);
if (!mysqlUrl || !table || !redisUrl || !prefix || !portText)
  throw new Error(
    'usage: creation-baseline-server <mysql-url> <table> <redis-url> <prefix> <port>',
  );
// As many connections as the link service's pool.
const db = createPool({ uri: mysqlUrl, connectionLimit: 10 });
const redis = new Redis(redisUrl, { enableAutoPipelining: true });
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
let next = 219000000000000000n;

function code(): string {
  let out = '';
  for (let i = 0; i < 7; i++) out += ALPHABET[randomInt(62)];
  return out;
}

async function create(body: string): Promise<string> {
  const { targetUrl } = JSON.parse(body) as { targetUrl: string };
  next += 1n;
  const newCode = code();
  await db.execute(
    `INSERT INTO ${table} (id, code, target_url, url_hash, owner_id, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
    [
      next.toString(),
      newCode,
      targetUrl,
      createHash('sha256').update(targetUrl).digest('hex'),
      '1',
      new Date(),
    ],
  );
  await redis.set(prefix + newCode, targetUrl, 'PX', 86_400_000);
  return JSON.stringify({ code: newCode, targetUrl });
}

const server = createServer((request, response) => {
  let body = '';
  request.setEncoding('utf8');
  request.on('data', (chunk: string) => {
    body += chunk;
  });
  request.on('end', () => {
    create(body).then(
      (json) => response.writeHead(201, { 'content-type': 'application/json' }).end(json),
      () => response.writeHead(503).end(),
    );
  });
});
server.listen(Number(portText), '127.0.0.1', () => process.send?.('ready'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
