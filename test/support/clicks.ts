// What the click pipeline's failure stories share: a guest with a few links,
// redirects sent in waves, and the visits the analytics service has stored
// (GetLinkStats), read as the owner would.
import {
  AnalyticsServiceClient,
  AnalyticsServiceService,
  TopLinksScope,
  TopLinksWindow,
} from '../../gen/shortener/v1/analytics.ts';
import { type Principal, PrincipalKind } from '../../gen/shortener/v1/principal.ts';
import { dialable } from '../../lib/config/parsers.ts';
import { connect, promiseClient } from '../../lib/grpc/client.ts';
import { call, shorten } from './http.ts';
import { sleep, within } from './wait.ts';

/** A browser's headers: a click from a bot is stored but not ranked. */
const BROWSER = {
  'user-agent':
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
};

export interface ClickedLinks {
  guest: Principal;
  codes: string[];
}

/** A new guest owning `count` links. */
export async function clickedLinks(gatewayUrl: string, count = 3): Promise<ClickedLinks> {
  const issued = await call(gatewayUrl, 'POST', '/api/v1/guests');
  const guest = { id: issued.body.id, kind: PrincipalKind.PRINCIPAL_KIND_GUEST };
  const codes: string[] = [];
  for (let i = 0; i < count; i++) {
    const made = await shorten(gatewayUrl, issued.body.token, `https://example.com/story/${i}`);
    codes.push(made.body.code);
  }
  return { guest, codes };
}

/** Sends `count` GET redirects over `codes` in turn, `parallel` at a time; returns their statuses. */
export async function redirects(
  gatewayUrl: string,
  codes: readonly string[],
  count: number,
  parallel = 50,
  between: (sent: number) => Promise<void> | void = () => {},
  headers: Record<string, string> = BROWSER,
): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i += parallel) {
    await between(i);
    const wave = Array.from({ length: Math.min(parallel, count - i) }, (_, j) =>
      fetch(`${gatewayUrl}/${codes[(i + j) % codes.length]}`, {
        redirect: 'manual',
        headers,
      }).then(
        async (answer) => {
          await answer.arrayBuffer();
          return answer.status;
        },
        () => 0,
      ),
    );
    statuses.push(...(await Promise.all(wave)));
  }
  return statuses;
}

/** How many of `count` redirects over `codes` in turn went to each code. */
export function perCode(codes: readonly string[], count: number): number[] {
  return codes.map((_, i) => Math.floor(count / codes.length) + (i < count % codes.length ? 1 : 0));
}

/** The analytics service as its owner asks it: the stored visits of each code. */
export function visitCounter(analyticsAddress: string, guest: Principal) {
  const channel = connect(AnalyticsServiceClient, dialable(analyticsAddress), 5_000);
  const analytics = promiseClient(channel, AnalyticsServiceService);
  const totalOf = async (code: string) =>
    Number(
      (
        await analytics.getLinkStats({
          caller: guest,
          code,
          fromDate: '',
          toDate: '',
          includeBots: false,
          breakdownLimit: 0,
        })
      ).total,
    );
  return {
    totals: (codes: readonly string[]) => Promise.all(codes.map(totalOf)),
    /** The clicks the live ranking counted over the owner's links in the last hour. */
    async ranked(): Promise<number> {
      const top = await analytics.getTopLinks({
        caller: guest,
        window: TopLinksWindow.TOP_LINKS_WINDOW_1H,
        limit: 100,
        scope: TopLinksScope.TOP_LINKS_SCOPE_CALLER,
      });
      return top.links.reduce((sum, link) => sum + Number(link.visits), 0);
    },
    /** Waits until the totals are `expected`, then checks that no more arrive; returns the totals. */
    async settle(codes: readonly string[], expected: number[], timeoutMs: number) {
      let last: number[] = [];
      await within(timeoutMs, async () => {
        last = await Promise.all(codes.map(totalOf).map((p) => p.catch(() => -1)));
        return last.every((total, i) => total >= (expected[i] ?? 0));
      }).catch(() => {
        throw new Error(`visits ${JSON.stringify(last)}, expected ${JSON.stringify(expected)}`);
      });
      await sleep(1_000);
      return Promise.all(codes.map(totalOf));
    },
    close: () => channel.close(),
  };
}
