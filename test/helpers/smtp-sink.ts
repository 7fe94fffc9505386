// A real SMTP server on loopback (the smtp-server package, the one nodemailer is tested against) that keeps what it
// accepts: envelope, headers, decoded subject and text. It offers STARTTLS with a certificate made for these tests
// (127.0.0.1 and localhost, valid 2000–2100, private key below: test use only), can require a login, can be taken
// down and brought back on the same port, can refuse a recipient, and can hold its answer to DATA (a server that
// has the message but has not said yes: the moment a crash leaves a row `sending`).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';

export const TEST_SMTP_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgDB6t950TD73HlaUd
BOy149SiDIBDiZUyQWyqtZMf8iqhRANCAAROhDcGboyipL36mUXLNgNHXwLqSznH
RJhUptvCGRMYE8carhU6QaRklj5BkR/rMjc7nGxo4c8PFjaj1n7ial6k
-----END PRIVATE KEY-----
`;

export const TEST_SMTP_CERT = `-----BEGIN CERTIFICATE-----
MIIBbDCCARKgAwIBAgIBATAKBggqhkjOPQQDAjAYMRYwFAYDVQQDDA1vYWctdGVz
dC1zbXRwMCAXDTAwMDEwMTAwMDAwMFoYDzIxMDAwMTAxMDAwMDAwWjAYMRYwFAYD
VQQDDA1vYWctdGVzdC1zbXRwMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEToQ3
Bm6MoqS9+plFyzYDR18C6ks5x0SYVKbbwhkTGBPHGq4VOkGkZJY+QZEf6zI3O5xs
aOHPDxY2o9Z+4mpepKNLMEkwGgYDVR0RBBMwEYIJbG9jYWxob3N0hwR/AAABMAwG
A1UdEwEB/wQCMAAwHQYDVR0OBBYEFOVzSDWYW7NO1Hwxg54hb6BbNdP/MAoGCCqG
SM49BAMCA0gAMEUCIDU4HQ17UjRp/K773g4KHAiHM4RFLyISzMsUhlAmOedBAiEA
ra0Pr0zbUhsfd3AGTHdaZTqlZ21P62bnrP8KsGWEjFI=
-----END CERTIFICATE-----
`;

/** Writes the test certificate where a channel's `caFile` can name it. */
export function writeTestCaFile(dir: string): string {
  const path = join(dir, 'smtp-ca.pem');
  writeFileSync(path, TEST_SMTP_CERT);
  return path;
}

export interface ReceivedMail {
  from: string;
  to: string[];
  /** The login the client used, if any. */
  user: string | undefined;
  /** The session was encrypted (STARTTLS or TLS) when the message was given. */
  encrypted: boolean;
  headers: Map<string, string>;
  subject: string;
  text: string;
  raw: string;
}

export interface SmtpSinkOptions {
  /** user → password; when given, a login is required. */
  users?: Record<string, string>;
  /** No STARTTLS, as a misconfigured relay: neither offered nor accepted. */
  noStartTls?: boolean;
}

interface Held {
  accept: () => void;
  refuse: () => void;
}

export class SmtpSink {
  readonly messages: ReceivedMail[] = [];
  /** Sessions that reached DATA, accepted or not. */
  dataCommands = 0;
  private server: SMTPServer | undefined;
  private holding = false;
  private readonly held: Held[] = [];
  private readonly refused = new Map<string, number>();
  private readonly waiters: Array<{ n: number; resolve: () => void }> = [];

  private constructor(
    private readonly options: SmtpSinkOptions,
    public port: number,
  ) {}

  static async start(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
    const sink = new SmtpSink(options, 0);
    await sink.up();
    return sink;
  }

  /** Listens (again) on the same port. */
  async up(): Promise<void> {
    if (this.server !== undefined) return;
    const users = this.options.users;
    const server = new SMTPServer({
      secure: false,
      key: TEST_SMTP_KEY,
      cert: TEST_SMTP_CERT,
      authOptional: users === undefined,
      disabledCommands: [...(users === undefined ? ['AUTH'] : []), ...(this.options.noStartTls === true ? ['STARTTLS'] : [])],
      closeTimeout: 50,
      logger: false,
      onAuth: (auth, _session, callback) => {
        if (users !== undefined && auth.username !== undefined && users[auth.username] === auth.password) return callback(null, { user: auth.username });
        callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
      },
      onRcptTo: (address, _session, callback) => {
        const code = this.refused.get(address.address.toLowerCase());
        if (code !== undefined) return callback(Object.assign(new Error(`<${address.address}>: Recipient address rejected: no such user`), { responseCode: code }));
        callback();
      },
      onData: (stream, session, callback) => this.onData(stream, session, callback),
    });
    server.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      server.server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        server.server.off('error', reject);
        resolve();
      });
    });
    this.port = (server.server.address() as { port: number }).port;
    this.server = server;
  }

  /** Closes the port: connections are refused until up(). */
  async down(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Later recipients at this address are refused at RCPT TO with this code. */
  refuseRecipient(address: string, code = 550): void {
    this.refused.set(address.toLowerCase(), code);
  }

  /** Keep messages' DATA unanswered until release() or drop(). */
  hold(): void {
    this.holding = true;
  }

  /** How many messages wait for an answer. */
  get heldCount(): number {
    return this.held.length;
  }

  release(): void {
    this.holding = false;
    for (const h of this.held.splice(0)) h.accept();
  }

  /** Answer the held messages with a temporary failure: they were never accepted. */
  drop(): void {
    this.holding = false;
    for (const h of this.held.splice(0)) h.refuse();
  }

  /** Resolves once `n` messages have been accepted. */
  waitFor(n: number): Promise<void> {
    if (this.messages.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  async close(): Promise<void> {
    this.drop();
    await this.down();
  }

  private onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null) => void): void {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      this.dataCommands += 1;
      const raw = Buffer.concat(chunks).toString('utf8');
      const accept = (): void => {
        this.messages.push(parseMail(raw, session));
        callback();
        for (const w of [...this.waiters]) {
          if (this.messages.length >= w.n) {
            this.waiters.splice(this.waiters.indexOf(w), 1);
            w.resolve();
          }
        }
      };
      const refuse = (): void => callback(Object.assign(new Error('Try again later'), { responseCode: 451 }));
      if (this.holding) this.held.push({ accept, refuse });
      else accept();
    });
  }
}

function parseMail(raw: string, session: SMTPServerSession): ReceivedMail {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const headers = new Map<string, string>();
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const body = raw.slice(split + 4);
  const encoding = (headers.get('content-transfer-encoding') ?? '7bit').toLowerCase();
  const text = encoding === 'base64' ? Buffer.from(body, 'base64').toString('utf8') : encoding === 'quoted-printable' ? decodeQuotedPrintable(body) : body;
  return {
    from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
    to: session.envelope.rcptTo.map((r) => r.address),
    user: typeof session.user === 'string' ? session.user : undefined,
    encrypted: session.secure,
    headers,
    subject: decodeEncodedWords(headers.get('subject') ?? ''),
    text: text.replace(/\r\n/g, '\n'),
    raw,
  };
}

function decodeQuotedPrintable(body: string): string {
  // Every byte above 7 bits is an =XX escape in quoted-printable, so the escapes alone make up the UTF-8 bytes.
  const bytes = body.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

function decodeEncodedWords(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_, _charset: string, kind: string, data: string) =>
      kind.toUpperCase() === 'B'
        ? Buffer.from(data, 'base64').toString('utf8')
        : Buffer.from(data.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1').toString('utf8'),
    );
}
