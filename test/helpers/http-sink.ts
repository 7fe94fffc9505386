// A real HTTP receiver on loopback for the webhook and SMS channels: it keeps every request (method, path, headers,
// body) and answers from a script (500 then 200, a 429 with Retry-After, a huge body), or holds its answers until
// released (a receiver that has the request and has not answered yet). `verifyOagSignature` checks a webhook the
// way a receiver written from docs/alerts.md would, independently of the code that signs.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Answer {
  status: number;
  body?: string | Buffer;
  headers?: Record<string, string>;
}

const MAX_BODY = 1024 * 1024;

export class HttpSink {
  readonly requests: ReceivedRequest[] = [];
  /** Answers for the next requests, in order; 200 once they run out. */
  answers: Answer[] = [];
  private holding = false;
  private readonly held: Array<() => void> = [];
  private readonly waiters: Array<{ n: number; resolve: () => void }> = [];

  private constructor(
    private readonly server: Server,
    public port: number,
  ) {}

  static async start(): Promise<HttpSink> {
    const server = createServer();
    const sink = new HttpSink(server, 0);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= MAX_BODY) chunks.push(c);
      });
      req.on('end', () => sink.onRequest({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }, res));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    sink.port = (server.address() as { port: number }).port;
    return sink;
  }

  url(path = '/'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  hold(): void {
    this.holding = true;
  }

  get heldCount(): number {
    return this.held.length;
  }

  release(): void {
    this.holding = false;
    for (const answer of this.held.splice(0)) answer();
  }

  /** Resolves once `n` requests have arrived. */
  waitFor(n: number): Promise<void> {
    if (this.requests.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  async close(): Promise<void> {
    this.release();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onRequest(request: ReceivedRequest, res: ServerResponse): void {
    this.requests.push(request);
    for (const w of [...this.waiters]) {
      if (this.requests.length >= w.n) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
    }
    const answer = this.answers.shift() ?? { status: 200, body: '{"ok":true}' };
    const send = (): void => {
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      res.end(answer.body ?? '');
    };
    if (this.holding) this.held.push(send);
    else send();
  }
}

/** A receiver's check of `X-OAG-Signature`: null when it holds, else what is wrong. */
export function verifyOagSignature(secret: string, request: ReceivedRequest, nowSeconds: number, toleranceSeconds = 300): string | null {
  const timestamp = request.headers['x-oag-timestamp'];
  const signature = request.headers['x-oag-signature'];
  if (typeof timestamp !== 'string' || !/^\d+$/.test(timestamp)) return 'no timestamp';
  if (Math.abs(nowSeconds - Number(timestamp)) > toleranceSeconds) return 'timestamp too far from now';
  if (typeof signature !== 'string' || !signature.startsWith('sha256=')) return 'no signature';
  const expected = createHmac('sha256', secret).update(`${timestamp}.`).update(request.body, 'utf8').digest();
  const given = Buffer.from(signature.slice('sha256='.length), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected) ? null : 'signature does not match';
}
