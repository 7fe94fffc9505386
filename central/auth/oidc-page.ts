// The few pages single sign-on answers with itself (central/http/plain-page.ts): a refusal that names what is
// wrong, and the step that carries a signed-in browser on to where it was going.
import type { FastifyReply } from 'fastify';
import { escapeHtml, sendPlainPage } from '../http/plain-page.js';

export interface RefusalLinks {
  /** Central's sign-in page, for a local account. */
  loginPath: string;
}

/** A 4xx or 5xx page: what went wrong, and the ways on from it. */
export async function sendRefusal(reply: FastifyReply, status: number, title: string, message: string, links: RefusalLinks): Promise<void> {
  const body = `      <p class="result err" role="alert">${escapeHtml(message)}</p>
      <p><a href="${escapeHtml(links.loginPath)}">Back to the sign-in page</a></p>`;
  await sendPlainPage(reply, status, title, body);
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
  await sendPlainPage(reply, 200, 'Signed in', body, `<meta http-equiv="refresh" content="0; url=${target}">\n  `);
}
