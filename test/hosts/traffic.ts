// Steady redirect traffic from a client that does not retry: node:http on
// keep-alive connections, one attempt per request, every answer counted
// (a connection error counts as status 0).
import { Agent, get } from 'node:http';
import { sleep } from '../support/wait.ts';

const BROWSER =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36';

export interface Traffic {
  /** Answers so far, by status. */
  readonly statuses: number[];
  /** GETs answered 302, per code. */
  readonly redirected: Map<string, number>;
  /** Every answer other than 302: when, what, and the start of its body. */
  readonly failures: { at: string; status: number; body: string }[];
  /** Stops sending, waits for what is in flight; the statuses of every request. */
  stop(): Promise<number[]>;
  /** Resolves once `count` more requests have been answered. */
  answered(count: number, timeoutMs?: number): Promise<void>;
}

function once(agent: Agent, url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const request = get(url, { agent, headers: { 'user-agent': BROWSER } }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body = (body + chunk).slice(0, 300);
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      response.on('error', (error) => resolve({ status: 0, body: error.message }));
    });
    request.setTimeout(10_000, () => request.destroy());
    request.on('error', (error) => resolve({ status: 0, body: error.message }));
  });
}

/** `parallel` clients each sending a GET to the next code in turn, `pauseMs` apart. */
export function steadyTraffic(
  baseUrl: string,
  codes: readonly string[],
  parallel = 4,
  pauseMs = 5,
): Traffic {
  const agent = new Agent({ keepAlive: true, maxSockets: parallel });
  const statuses: number[] = [];
  const redirected = new Map<string, number>();
  const failures: Traffic['failures'] = [];
  let running = true;
  let next = 0;
  const client = async () => {
    while (running) {
      const code = codes[next++ % codes.length] as string;
      const { status, body } = await once(agent, `${baseUrl}/${code}`);
      statuses.push(status);
      if (status === 302) redirected.set(code, (redirected.get(code) ?? 0) + 1);
      else failures.push({ at: new Date().toISOString(), status, body });
      await sleep(pauseMs);
    }
  };
  const clients = Array.from({ length: parallel }, client);
  return {
    statuses,
    redirected,
    failures,
    async stop() {
      running = false;
      await Promise.all(clients);
      agent.destroy();
      return statuses;
    },
    async answered(count, timeoutMs = 60_000) {
      const target = statuses.length + count;
      const deadline = Date.now() + timeoutMs;
      while (statuses.length < target) {
        if (Date.now() > deadline) throw new Error(`only ${statuses.length} of ${target} answered`);
        await sleep(20);
      }
    },
  };
}
