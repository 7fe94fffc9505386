// The few pages single sign-on answers with itself: a refusal that names what is wrong, and the step that carries a
// signed-in browser on to where it was going. Plain HTML with central's stylesheet; no script, so the strictest
// content security policy allows them.
import type { FastifyReply } from 'fastify';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function layout(title: string, body: string, head = ''): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="referrer" content="no-referrer">
  ${head}<title>${escapeHtml(title)} · Open Access central</title>
  <link rel="stylesheet" href="/static/style.css">
</head>
<body>
  <header class="bar">
    <h1>Open Access · Central</h1>
  </header>
  <main id="main" class="auth-page">
    <section class="panel" aria-labelledby="page-h">
      <h2 id="page-h">${escapeHtml(title)}</h2>
${body}
    </section>
  </main>
</body>
</html>
`;
}

export interface RefusalLinks {
  /** Central's sign-in page, for a local account. */
  loginPath: string;
}

/** A 4xx or 5xx page: what went wrong, and the ways on from it. */
export async function sendRefusal(reply: FastifyReply, status: number, title: string, message: string, links: RefusalLinks): Promise<void> {
  const body = `      <p class="result err" role="alert">${escapeHtml(message)}</p>
      <p><a href="${escapeHtml(links.loginPath)}">Back to the sign-in page</a></p>`;
  await reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(layout(title, body));
}

/**
 * The end of a sign-in. A page rather than a redirect: the browser arrives here from the provider's site, and a
 * redirect would keep that cross-site origin, so a SameSite=Strict session cookie would not be sent on the next
 * request and the person would land on the sign-in page again. The refresh below is a new navigation from
 * central's own page.
 */
export async function sendContinue(reply: FastifyReply, username: string, next: string): Promise<void> {
  const target = escapeHtml(next);
  const body = `      <p role="status">Signed in as ${escapeHtml(username)}.</p>
      <p><a href="${target}">Continue</a></p>`;
  await reply
    .code(200)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .send(layout('Signed in', body, `<meta http-equiv="refresh" content="0; url=${target}">\n  `));
}
