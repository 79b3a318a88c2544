// The test's way into a host's namespace without any address or route
// outside the harness's namespaces: a TCP port on 127.0.0.1 here, a Unix
// socket between, and a forwarder inside the namespace (forwarder.ts).
import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { HostProcess, Network } from './network.ts';

const FORWARDER = new URL('./forwarder.ts', import.meta.url).pathname;

export class PortForward {
  readonly port: number;
  readonly #server: Server;
  readonly #forwarder: HostProcess;
  readonly #network: Network;
  readonly #sockets: Set<Socket>;

  private constructor(
    port: number,
    server: Server,
    sockets: Set<Socket>,
    forwarder: HostProcess,
    network: Network,
  ) {
    this.port = port;
    this.#sockets = sockets;
    this.#server = server;
    this.#forwarder = forwarder;
    this.#network = network;
  }

  static async open(network: Network, host: string, target: string): Promise<PortForward> {
    const socketPath = join(network.dir, `forward-${host}-${target.replace(/[^0-9]/g, '_')}.sock`);
    const forwarder = network.spawn(
      host,
      `forward ${host} ${target}`,
      process.execPath,
      [FORWARDER, socketPath, target],
      { PATH: process.env.PATH },
    );
    const deadline = Date.now() + 10_000;
    while (!forwarder.output().includes('listening')) {
      if (Date.now() > deadline || forwarder.child.exitCode !== null)
        throw new Error(`no forward into ${host}: ${forwarder.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const sockets = new Set<Socket>();
    const server = createServer((client) => {
      const upstream = createConnection(socketPath);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('no port');
    return new PortForward(address.port, server, sockets, forwarder, network);
  }

  async close(): Promise<void> {
    const closed = new Promise((resolve) => this.#server.close(resolve));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
    this.#network.signal(this.#forwarder, 'SIGKILL');
  }
}
