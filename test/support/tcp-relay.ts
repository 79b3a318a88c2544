// A TCP relay to a real server that a test can cut and restore on the same
// port: the server stays up for everyone else, only what goes through the
// relay loses it (a database, a broker: whatever a story cuts).
import { once } from 'node:events';
import { createServer, createConnection as dial, type Server, type Socket } from 'node:net';

export class TcpRelay {
  readonly #host: string;
  readonly #targetPort: number;
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  port = 0;

  constructor(host: string, targetPort: number) {
    this.#host = host;
    this.#targetPort = targetPort;
  }

  get open(): boolean {
    return this.#server !== undefined;
  }

  /** Listens (again, on the same port after a cut) and relays every connection. */
  async start(): Promise<void> {
    if (this.#server) return;
    const server = createServer((client) => {
      const upstream = dial(this.#targetPort, this.#host);
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.on('close', () => this.#sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    server.listen(this.port, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    if (address && typeof address !== 'string') this.port = address.port;
    this.#server = server;
  }

  /** Refuses new connections and breaks the open ones. */
  async cut(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    const closed = new Promise((resolve) => server.close(resolve));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }
}
