// A small TCP load balancer on 127.0.0.1 for system tests that put several central instances behind one address, as
// a real one with health checks does: each new connection goes to the next instance in turn, and an instance that
// refuses the connection (stopped, or not listening yet) is skipped for the next. A connection stays on the instance
// that took it until one side closes it, so a browser's keep-alive requests and its live stream (server-sent events)
// stay where they began, and move only when that instance goes away and the browser connects again.
import { createConnection, createServer, type Socket } from 'node:net';

/** One connection through the proxy: which instance took it, and the last HTTP request line the browser sent on it. */
export interface ProxiedConnection {
  /** Its place in `connections()`: the same connection keeps it. */
  readonly id: number;
  /** The instance's index in `targets`. */
  readonly target: number;
  /** `GET /api/live HTTP/1.1`; empty before the first request. */
  readonly lastRequest: string;
  readonly open: boolean;
}

export interface RoundRobinProxy {
  /** `http://127.0.0.1:PORT`, what the browser is pointed at. */
  readonly url: string;
  /** Every connection so far, in the order they came. */
  connections(): readonly ProxiedConnection[];
  /** Open connections whose last request was for `path` (`/api/live`, with its query if any): where a live stream is now. */
  openFor(path: string): readonly ProxiedConnection[];
  /** How many times each instance refused a connection and was skipped. */
  refused(): readonly number[];
  /** Points instance `index` at a new address (an instance started again on another port). */
  setTarget(index: number, url: string): void;
  /** Stops listening and closes every connection through it. */
  close(): Promise<void>;
}

interface Target {
  host: string;
  port: number;
}

function parseTarget(url: string): Target {
  const u = new URL(url);
  if (u.protocol !== 'http:') throw new Error(`round-robin proxy: ${url} is not http:`);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 80) };
}

const REQUEST_LINE = /(?:^|\r\n)([A-Z]+ \S+ HTTP\/1\.[01])\r\n/g;

/** Listens on a free loopback port and spreads connections over `targets` (http://host:port each). */
export async function startRoundRobinProxy(targetUrls: readonly string[]): Promise<RoundRobinProxy> {
  if (targetUrls.length === 0) throw new Error('round-robin proxy: no targets');
  const targets = targetUrls.map(parseTarget);
  const refused = targets.map(() => 0);
  const all: Array<{ id: number; target: number; lastRequest: string; open: boolean; sockets: Socket[] }> = [];
  let next = 0;

  /** Connects to the next instance that accepts, trying each once; null when none does. */
  const dial = async (): Promise<{ index: number; socket: Socket } | null> => {
    for (let tried = 0; tried < targets.length; tried++) {
      const index = next;
      next = (next + 1) % targets.length;
      const socket = await new Promise<Socket | null>((resolve) => {
        const s = createConnection(targets[index]!);
        s.once('connect', () => {
          s.removeAllListeners('error');
          resolve(s);
        });
        s.once('error', () => {
          s.destroy();
          resolve(null);
        });
      });
      if (socket) return { index, socket };
      refused[index] = refused[index]! + 1;
    }
    return null;
  };

  // Paused until an instance takes it, so nothing the browser sends first is lost.
  const server = createServer({ pauseOnConnect: true }, (client) => {
    client.on('error', () => client.destroy());
    void dial().then((picked) => {
      if (picked === null || client.destroyed) {
        picked?.socket.destroy();
        client.destroy();
        return;
      }
      const { index, socket: upstream } = picked;
      const conn = { id: all.length, target: index, lastRequest: '', open: true, sockets: [client, upstream] };
      all.push(conn);
      client.on('data', (chunk: Buffer) => {
        // Request lines only: enough to tell which connection carries the live stream.
        for (const m of chunk.toString('latin1').matchAll(REQUEST_LINE)) conn.lastRequest = m[1]!;
      });
      const end = (): void => {
        conn.open = false;
        client.destroy();
        upstream.destroy();
      };
      upstream.on('error', end);
      client.on('error', end);
      upstream.on('close', end);
      client.on('close', end);
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('round-robin proxy: no port');

  const view = (c: (typeof all)[number]): ProxiedConnection => ({ id: c.id, target: c.target, lastRequest: c.lastRequest, open: c.open });
  return {
    url: `http://127.0.0.1:${address.port}`,
    connections: () => all.map(view),
    openFor: (path) => all.filter((c) => c.open && c.lastRequest.split(' ')[1] === path).map(view),
    refused: () => [...refused],
    setTarget: (index, url) => {
      if (index < 0 || index >= targets.length) throw new Error(`round-robin proxy: no target ${index}`);
      targets[index] = parseTarget(url);
    },
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const c of all) c.sockets.forEach((s) => s.destroy());
      await closed;
    },
  };
}
