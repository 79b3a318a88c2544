// A Slack-compatible incoming webhook: a POST of `{"text": …}` as JSON. Any
// answer but 2xx, a refused connection or no answer in time fails the post,
// for the bus to retry and at last park the event, as a mail server's does.
import { notifierErrors } from '../errors.ts';

export interface Webhook {
  post(text: string): Promise<void>;
}

export class HttpWebhook implements Webhook {
  readonly #url: string;
  readonly #timeoutMs: number;

  constructor(url: string, timeoutMs: number) {
    this.#url = url;
    this.#timeoutMs = timeoutMs;
  }

  async post(text: string): Promise<void> {
    let answer: Response;
    try {
      answer = await fetch(this.#url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text }),
        signal: AbortSignal.timeout(this.#timeoutMs),
        redirect: 'error',
      });
    } catch (error) {
      const cause = (error as Error & { cause?: { code?: string } }).cause;
      throw notifierErrors.webhook_not_sent(
        { why: cause?.code ?? (error as Error).message },
        { cause: error },
      );
    }
    // Drained, so the connection can be reused.
    await answer.arrayBuffer().catch(() => {});
    if (!answer.ok) throw notifierErrors.webhook_not_sent({ why: `HTTP ${answer.status}` });
  }
}
