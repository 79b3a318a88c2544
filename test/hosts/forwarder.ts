// Runs inside a host's namespace: takes connections on a Unix socket (which
// the test, outside every namespace, can open) and relays each to host:port
// on the namespace's network. Usage: forwarder.ts <socket> <host:port>
import { createConnection, createServer } from 'node:net';

const [socketPath, target] = process.argv.slice(2);
if (!socketPath || !target) throw new Error('usage: forwarder.ts <socket> <host:port>');
const index = target.lastIndexOf(':');
const host = target.slice(0, index);
const port = Number(target.slice(index + 1));

const server = createServer((client) => {
  const upstream = createConnection(port, host);
  const end = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', end);
  upstream.on('error', end);
  client.pipe(upstream).pipe(client);
});
server.listen(socketPath, () => process.stdout.write('listening\n'));
