// The few pages central writes on the server rather than with a script: single sign-on's refusals and its step on,
// and the acknowledgement link's page. Plain HTML with central's stylesheet and no script, so the strictest content
// security policy allows them; never indexed, never cached.
import type { FastifyReply } from 'fastify';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A whole page: `title` is escaped here, `body` is HTML the caller escaped. `head` adds to the head (a refresh). */
export function plainPage(title: string, body: string, head = ''): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="referrer" content="no-referrer">
  <meta name="robots" content="noindex">
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

export function sendPlainPage(reply: FastifyReply, status: number, title: string, body: string, head = ''): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(plainPage(title, body, head));
}
