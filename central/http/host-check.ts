// The Host allow-list. A page on another site can point its own name at central's address (DNS rebinding) and
// then read and call central as if it were the same origin: only the names central is known by get an answer. It
// runs before anything else of every request, routes, static files and 404s alike.
import { hostname } from 'node:os';
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';

/** localhost, the loopback addresses, the configured listen address and this machine's name. */
export function defaultAllowedHosts(listenHost: string): string[] {
  const names = ['localhost', '127.0.0.1', '[::1]', hostname()];
  if (!['0.0.0.0', '::', ''].includes(listenHost)) names.push(listenHost.includes(':') && !listenHost.startsWith('[') ? `[${listenHost}]` : listenHost);
  return [...new Set(names.map((n) => n.toLowerCase()))];
}

/** The host part of a Host header (`central.example.org:8090` → `central.example.org`, `[::1]:8090` → `[::1]`). */
export function hostOf(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? h : h.slice(0, end + 1);
  }
  const colon = h.indexOf(':');
  return (colon < 0 ? h : h.slice(0, colon)).replace(/\.$/, '');
}

export function hostCheck(allowed: readonly string[]): onRequestHookHandler {
  const names = new Set(allowed.map((n) => n.toLowerCase()));
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers.host;
    const host = header === undefined ? undefined : hostOf(header);
    if (host !== undefined && names.has(host)) return;
    const shown = (header ?? '(none)').slice(0, 100);
    request.log.warn({ host: shown, ip: request.ip, method: request.method, url: request.url.slice(0, 200) }, 'refused: Host not allowed');
    return reply.code(421).send({
      error: 'Misdirected Request',
      message: `Host "${shown}" is not one of central's names: add it to http.allowedHosts in central's config`,
    });
  };
}
