// A loopback port for a server a test starts later (a broker, central with its redirect URI, a provider), chosen below
// Linux's ephemeral range (32768–60999). A port taken from that range with listen(0) and closed again can be handed
// to another test's listen(0) or outgoing connection before the caller listens on it (EADDRINUSE, seen in CI); below
// it only another caller of this helper could pick the same one, at random among 12,000.
import { createServer } from 'node:net';

const FIRST = 20_000;
const COUNT = 12_000;

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const port = FIRST + Math.floor(Math.random() * COUNT);
    if (await canListen(port)) return port;
  }
  throw new Error(`no free loopback port between ${FIRST} and ${FIRST + COUNT - 1} after 50 tries`);
}
