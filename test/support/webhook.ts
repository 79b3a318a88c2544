// A Slack-compatible incoming webhook for the tests: a real HTTP listener
// that keeps every JSON body posted to it.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A Slack-compatible webhook: keeps every JSON body posted to it. */
export class WebhookListener {
  readonly posts: { contentType: string | undefined; body: { text?: unknown } }[] = [];
  readonly #server: Server;
  /** While true, every post is refused (404), as a channel that is gone. */
  down = false;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async open(): Promise<WebhookListener> {
    const listener: WebhookListener = new WebhookListener(
      createServer((request, response) => {
        const chunks: Buffer[] = [];
        request.on('data', (chunk: Buffer) => chunks.push(chunk));
        request.on('end', () => {
          listener.posts.push({
            contentType: request.headers['content-type'],
            body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
          });
          // A channel that is gone (Slack answers 404 `channel_not_found`) for notices saying so,
          // and for every post while the test says the channel is down.
          const refused = listener.down || Buffer.concat(chunks).includes('channel-gone');
          response.writeHead(refused ? 404 : 200, { 'content-type': 'text/plain' });
          response.end(refused ? 'channel_not_found' : 'ok');
        });
      }),
    );
    listener.#server.listen(0, '127.0.0.1');
    await once(listener.#server, 'listening');
    return listener;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/services/T0/B0/x`;
  }

  textsAbout(code: string): string[] {
    return this.posts.map((p) => String(p.body.text)).filter((t) => t.includes(`/${code} `));
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
