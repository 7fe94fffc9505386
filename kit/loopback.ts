// Whether a configured host name is this machine only: what decides that a listener may go without TLS (the
// branch's local API, central's embedded broker). One spelling check for both services.

/** `localhost`, `::1` (bare or in brackets), `127.x.y.z` (also IPv4-mapped), in any case and with spaces trimmed. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return bare === 'localhost' || bare === '::1' || /^(::ffff:)?127(\.\d{1,3}){3}$/.test(bare);
}
