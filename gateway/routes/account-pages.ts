// The two pages the notifier's mails link to: /reset-password (choose a new
// password) and /verify-email (confirm an address), each `?token=…`. They
// are plain HTML with a small script that reads the token from the address,
// drops it from the address bar and the history, and POSTs it as JSON to the
// account API: {token, password} to /api/v1/password-resets/confirm, {token}
// to /api/v1/email-verifications/confirm. The token is never written into
// the page by the server, so nothing a link carries can become markup.
//
// The pages are served with no cache, no referrer (the token is in the URL),
// no framing, and a Content-Security-Policy that admits only their own inline
// script and style (by hash) and fetches to this origin. Their paths are
// reserved words (lib/short-code-rules.ts), so no short code can shadow them.
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** The gateway paths the mails link to, and the API each page posts to. */
export const ACCOUNT_PAGES = {
  resetPassword: { path: '/reset-password', confirm: '/api/v1/password-resets/confirm' },
  verifyEmail: { path: '/verify-email', confirm: '/api/v1/email-verifications/confirm' },
} as const;

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
main{max-width:26rem;margin:4rem auto;padding:2rem;background:#fff;border-radius:8px;box-shadow:0 1px 4px #0002}
h1{font-size:1.4rem;margin-top:0}label{display:block;margin:1rem 0 .3rem}
input{box-sizing:border-box;width:100%;padding:.5rem;font:inherit}
button{margin-top:1.2rem;padding:.6rem 1.2rem;font:inherit;cursor:pointer}
#status{min-height:1.5em}#status.error{color:#b00020}#status.done{color:#1b6e20}`;

/** What both scripts share: the token taken from the address, and a POST that says what happened. */
const COMMON_SCRIPT = `const token = new URLSearchParams(location.search).get('token') || '';
history.replaceState(null, '', location.pathname);
const form = document.getElementById('form');
const status = document.getElementById('status');
function say(text, kind) { status.textContent = text; status.className = kind || ''; }
if (!token) { form.hidden = true; say('This link is incomplete: open the link from the mail again.', 'error'); }
async function confirm(url, body, done) {
  const button = form.querySelector('button');
  button.disabled = true;
  say('One moment…');
  try {
    const answer = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
    });
    if (answer.ok) { form.hidden = true; say(done, 'done'); return; }
    const problem = await answer.json().catch(() => ({}));
    say(problem.detail || problem.title || 'That did not work (' + answer.status + ').', 'error');
  } catch {
    say('The server cannot be reached; try again in a moment.', 'error');
  }
  button.disabled = false;
}`;

const RESET_SCRIPT = `${COMMON_SCRIPT}
form.addEventListener('submit', (event) => {
  event.preventDefault();
  const password = form.elements.password.value;
  if (password !== form.elements.repeat.value) { say('The two passwords differ.', 'error'); return; }
  confirm(${JSON.stringify(ACCOUNT_PAGES.resetPassword.confirm)}, { token, password },
    'Your password is changed. You can sign in with it now.');
});`;

const VERIFY_SCRIPT = `${COMMON_SCRIPT}
form.addEventListener('submit', (event) => {
  event.preventDefault();
  confirm(${JSON.stringify(ACCOUNT_PAGES.verifyEmail.confirm)}, { token },
    'Your email address is confirmed. Thank you.');
});`;

const RESET_FORM = `<form id="form" action="${ACCOUNT_PAGES.resetPassword.confirm}" method="post">
<label for="password">New password</label>
<input id="password" name="password" type="password" autocomplete="new-password" required minlength="8" maxlength="256">
<label for="repeat">The same again</label>
<input id="repeat" name="repeat" type="password" autocomplete="new-password" required minlength="8" maxlength="256">
<button type="submit">Save the new password</button>
</form>`;

const VERIFY_FORM = `<form id="form" action="${ACCOUNT_PAGES.verifyEmail.confirm}" method="post">
<p>Confirm that this email address is yours.</p>
<button type="submit">Confirm my address</button>
</form>`;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

interface Page {
  html: string;
  policy: string;
}

function page(title: string, body: string, script: string): Page {
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>${title}</h1>
${body}
<p id="status" role="status" aria-live="polite"></p>
</main>
<script type="module">${script}</script>
</body>
</html>
`;
  const policy = [
    "default-src 'none'",
    `script-src ${sha256(script)}`,
    `style-src ${sha256(STYLE)}`,
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
  return { html, policy };
}

const PAGES: Record<keyof typeof ACCOUNT_PAGES, Page> = {
  resetPassword: page('Choose a new password', RESET_FORM, RESET_SCRIPT),
  verifyEmail: page('Confirm your email address', VERIFY_FORM, VERIFY_SCRIPT),
};

function send(reply: FastifyReply, { html, policy }: Page): FastifyReply {
  return reply
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY')
    .header('content-security-policy', policy)
    .send(html);
}

export function accountPageRoutes(app: FastifyInstance): void {
  for (const [name, { path }] of Object.entries(ACCOUNT_PAGES)) {
    const content = PAGES[name as keyof typeof ACCOUNT_PAGES];
    // HTML for people, not part of the JSON API: left out of the OpenAPI document.
    app.get(path, { schema: { hide: true } }, async (_request, reply) => send(reply, content));
  }
}
