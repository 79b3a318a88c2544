// The pages the notifier's mails link to, as a browser runs them: each page is
// fetched from the gateway's routes (Fastify's inject) and its script run
// against a small stand-in for the browser (the address, the history, the
// form, fetch), so the story checks what the page sends to the account API
// and what it tells the member.
import { runInNewContext } from 'node:vm';
import Fastify from 'fastify';
import { describe, expect, test } from 'vitest';
import { ACCOUNT_PAGES, accountPageRoutes } from '../../gateway/routes/account-pages.ts';

interface Sent {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: unknown;
}

interface Element {
  hidden: boolean;
  disabled: boolean;
  textContent: string;
  className: string;
  value: string;
}

async function pageAt(path: string): Promise<string> {
  const app = Fastify();
  accountPageRoutes(app);
  const answer = await app.inject({ method: 'GET', url: path });
  await app.close();
  expect(answer.statusCode).toBe(200);
  return answer.body;
}

/** Runs the page's script at `address`; `answer` is what the API answers each POST. */
function runPage(
  html: string,
  address: string,
  answer: () => Promise<{ status: number; body: unknown }>,
) {
  const script = /<script type="module">([\s\S]*?)<\/script>/.exec(html)?.[1];
  if (!script) throw new Error('no script in the page');
  const url = new URL(address, 'https://sho.rt.example');
  const element = (): Element => ({
    hidden: false,
    disabled: false,
    textContent: '',
    className: '',
    value: '',
  });
  const status = element();
  const button = element();
  const fields = { password: element(), repeat: element() };
  let submit: ((event: { preventDefault(): void }) => void) | undefined;
  const form = {
    ...element(),
    elements: fields,
    querySelector: () => button,
    addEventListener: (_: string, listener: typeof submit) => {
      submit = listener;
    },
  };
  const sent: Sent[] = [];
  const history: string[] = [];
  const location = { search: url.search, pathname: url.pathname };
  runInNewContext(script, {
    URLSearchParams,
    JSON,
    location,
    history: {
      replaceState: (_state: unknown, _title: string, to: string) => {
        history.push(to);
        location.search = '';
      },
    },
    document: { getElementById: (id: string) => (id === 'form' ? form : status) },
    fetch: async (
      to: string,
      init: { method: string; headers: Record<string, string>; body: string },
    ) => {
      sent.push({
        url: to,
        method: init.method,
        headers: init.headers,
        body: JSON.parse(init.body),
      });
      const { status: code, body } = await answer();
      return { ok: code >= 200 && code < 300, status: code, json: async () => body };
    },
  });
  return {
    form,
    status,
    fields,
    sent,
    history,
    /** Submits the form and waits for the page to settle. */
    async submit() {
      let prevented = false;
      submit?.({ preventDefault: () => (prevented = true) });
      expect(prevented, 'the page handles the form itself').toBe(true);
      for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

const ok = async () => ({ status: 204, body: undefined });

describe('the /reset-password page', () => {
  test('when the member types the same new password twice, then the page POSTs {token, password} as JSON to the confirm route and says it is done', async () => {
    const page = runPage(
      await pageAt('/reset-password?token=tok%2Bx'),
      '/reset-password?token=tok%2Bx',
      ok,
    );
    // The token leaves the address bar and the history at once.
    expect(page.history).toEqual(['/reset-password']);
    page.fields.password.value = 'correct horse battery';
    page.fields.repeat.value = 'correct horse battery';
    await page.submit();
    expect(page.sent).toEqual([
      {
        url: ACCOUNT_PAGES.resetPassword.confirm,
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: { token: 'tok+x', password: 'correct horse battery' },
      },
    ]);
    expect(page.form.hidden).toBe(true);
    expect(page.status.textContent).toMatch(/password is changed/);
    expect(page.status.className).toBe('done');
  });

  test('when the two passwords differ, then nothing is sent and the page says so', async () => {
    const page = runPage(await pageAt('/reset-password?token=t1'), '/reset-password?token=t1', ok);
    page.fields.password.value = 'one password';
    page.fields.repeat.value = 'another one';
    await page.submit();
    expect(page.sent).toEqual([]);
    expect(page.status.textContent).toBe('The two passwords differ.');
    expect(page.form.hidden).toBe(false);
  });

  test('when the API refuses with a problem, then the page shows its detail and lets the member try again', async () => {
    const refused = async () => ({
      status: 400,
      body: { type: '/problems/invalid_reset_token', detail: 'this link has expired or was used' },
    });
    const page = runPage(
      await pageAt('/reset-password?token=t2'),
      '/reset-password?token=t2',
      refused,
    );
    page.fields.password.value = 'long enough password';
    page.fields.repeat.value = 'long enough password';
    await page.submit();
    expect(page.sent).toHaveLength(1);
    expect(page.status.textContent).toBe('this link has expired or was used');
    expect(page.status.className).toBe('error');
    expect(page.form.hidden).toBe(false);
  });

  test('when the link carries no token, then the form is hidden and the page says the link is incomplete', async () => {
    const page = runPage(await pageAt('/reset-password'), '/reset-password', ok);
    expect(page.form.hidden).toBe(true);
    expect(page.status.textContent).toMatch(/link is incomplete/);
  });
});

describe('the /verify-email page', () => {
  test('when the member confirms, then the page POSTs {token} as JSON to the confirm route and says the address is confirmed', async () => {
    const page = runPage(await pageAt('/verify-email?token=v-1'), '/verify-email?token=v-1', ok);
    expect(page.history).toEqual(['/verify-email']);
    await page.submit();
    expect(page.sent.map((s) => [s.url, s.method, s.body])).toEqual([
      [ACCOUNT_PAGES.verifyEmail.confirm, 'POST', { token: 'v-1' }],
    ]);
    expect(page.status.textContent).toMatch(/address is confirmed/);
  });

  test('when the server cannot be reached, then the page says so and keeps the button', async () => {
    const unreachable = async (): Promise<{ status: number; body: unknown }> => {
      throw new TypeError('fetch failed');
    };
    const page = runPage(
      await pageAt('/verify-email?token=v-2'),
      '/verify-email?token=v-2',
      unreachable,
    );
    await page.submit();
    expect(page.status.textContent).toMatch(/cannot be reached/);
    expect(page.form.hidden).toBe(false);
  });
});
