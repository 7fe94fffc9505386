// A SIP2 ACS for the tests, on 127.0.0.1 and a random port: login (93/94), SC status (99/98), patron status
// (23/24) and patron information (63/64) with the spec's field layouts, checksums and sequence numbers, and the
// resend requests (96/97). Written apart from gateway/sip2 on purpose (its own framing and checksum), so that a
// mistake in the gateway's codec cannot hide behind the same mistake here.
//
// Behaviours a real ACS shows on a bad day: answering slowly, a bad checksum, dropping the connection, answers
// out of step (a wrong sequence number), being offline, refusing the login.
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';

export interface ResponderPatron {
  /** The 14 patron status flags (`Y` = denied); default all blank. */
  status?: string;
  name?: string;
  /** BL valid patron; default true. */
  valid?: boolean;
  /** More variable fields, in order, e.g. `{ PE: '20271231', PB: '19800501', PC: 'OA' }`. */
  fields?: Record<string, string>;
  /** The patron's password (PIN): a request with AD gets CQ Y when it matches, N otherwise. */
  password?: string;
}

export interface ResponderBehaviour {
  /** Wait this long before answering a patron request. */
  delayMs: number;
  /** The next this-many frames sent go out with a wrong checksum (a resend after a 97 counts as one). */
  corruptChecksums: number;
  /** Close the connection when a patron request arrives, without answering. */
  dropOnPatronRequest: boolean;
  /** Patron answers carry AY (request's + offset) mod 10. */
  sequenceOffset: number;
  /** Leave BL out of patron answers. */
  omitValidPatron: boolean;
  /** Variable fields of patron answers in reverse order. */
  reverseFields: boolean;
  /** ACS online flag in 98. */
  online: boolean;
  /** Take patron requests and never answer them (the link stays up, as with an ACS hung on its database). */
  silent: boolean;
}

export interface ReceivedMessage {
  code: string;
  sequence: number | undefined;
  checksumOk: boolean;
  /** Variable fields by id (test-only: holds the card number and the password as the ACS sees them). */
  fields: Record<string, string>;
}

export interface Sip2Responder {
  readonly port: number;
  readonly patrons: Map<string, ResponderPatron>;
  readonly behaviour: ResponderBehaviour;
  readonly received: ReceivedMessage[];
  /** Connections accepted so far. */
  readonly connections: number;
  /** Connections open now. */
  readonly open: number;
  /** Stop listening and close every connection. */
  stop(): Promise<void>;
  /** Listen again on the same port. */
  restart(): Promise<void>;
}

export interface ResponderOptions {
  institutionId?: string;
  user?: string;
  password?: string;
  patrons?: Record<string, ResponderPatron>;
  behaviour?: Partial<ResponderBehaviour>;
  /** Serve TLS with this key and certificate (PEM). */
  tls?: { key: Buffer; cert: Buffer };
}

const TX_DATE = '20261123    101500';

function sum(text: string): string {
  let total = 0;
  for (const byte of Buffer.from(text, 'utf8')) total += byte;
  return ((0x10000 - (total & 0xffff)) & 0xffff).toString(16).toUpperCase().padStart(4, '0');
}

function parseRequest(raw: string): ReceivedMessage {
  const code = raw.slice(0, 2);
  const m = /^(.*)AZ([0-9A-F]{4})$/i.exec(raw);
  const checksumOk = m !== null && sum(`${m[1]}AZ`) === m[2]!.toUpperCase();
  const withoutSum = m === null ? raw : m[1]!;
  const seq = /AY(\d)$/.exec(withoutSum);
  const body = seq === null ? withoutSum : withoutSum.slice(0, -3);
  const fixed = { '93': 2, '99': 8, '23': 21, '63': 31 }[code] ?? 0;
  const fields: Record<string, string> = {};
  for (const piece of body.slice(2 + fixed).split('|')) if (piece.length >= 2) fields[piece.slice(0, 2)] ??= piece.slice(2);
  return { code, sequence: seq === null ? undefined : Number(seq[1]), checksumOk, fields };
}

export async function startSip2Responder(options: ResponderOptions = {}): Promise<Sip2Responder> {
  const institutionId = options.institutionId ?? 'TOWN';
  const user = options.user ?? 'gate-sip';
  const password = options.password ?? 's3cret-pass';
  const patrons = new Map(Object.entries(options.patrons ?? {}));
  const behaviour: ResponderBehaviour = {
    delayMs: 0,
    corruptChecksums: 0,
    dropOnPatronRequest: false,
    sequenceOffset: 0,
    omitValidPatron: false,
    reverseFields: false,
    online: true,
    silent: false,
    ...options.behaviour,
  };
  const received: ReceivedMessage[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  let port = 0;

  const frame = (body: string, sequence: number | undefined): string => {
    const head = sequence === undefined ? `${body}AZ` : `${body}AY${sequence}AZ`;
    let check = sum(head);
    if (behaviour.corruptChecksums > 0) {
      behaviour.corruptChecksums--;
      check = ((parseInt(check, 16) + 1) & 0xffff).toString(16).toUpperCase().padStart(4, '0');
    }
    return `${head}${check}\r`;
  };

  const patronAnswer = (request: ReceivedMessage): string => {
    const card = request.fields.AA ?? '';
    const patron = patrons.get(card);
    const known = patron !== undefined && patron.valid !== false;
    // An unknown patron the way Koha answers one: privileges denied, no name, BL N.
    const status = known ? (patron.status ?? '').padEnd(14, ' ').slice(0, 14) : 'YYYY          ';
    const variable: Array<[string, string]> = [
      ['AO', institutionId],
      ['AA', card],
      ['AE', known ? (patron.name ?? 'Reader, A') : ''],
    ];
    if (request.code === '63') variable.push(['BZ', '0010'], ['CA', '0005'], ['CB', '0020']);
    if (!behaviour.omitValidPatron) variable.push(['BL', known ? 'Y' : 'N']);
    const typed = request.fields.AD;
    if (typed !== undefined && typed !== '') variable.push(['CQ', known && patron.password === typed ? 'Y' : 'N']);
    variable.push(['BH', 'GBP'], ['BV', '0.00']);
    if (known) for (const [id, value] of Object.entries(patron.fields ?? {})) variable.push([id, value]);
    variable.push(['AF', known ? 'Welcome' : 'Patron not found']);
    if (behaviour.reverseFields) variable.reverse();
    const fields = variable.map(([id, value]) => `${id}${value}|`).join('');
    return request.code === '63'
      ? `64${status}000${TX_DATE}${'0000'.repeat(6)}${fields}`
      : `24${status}000${TX_DATE}${fields}`;
  };

  const onConnection = (socket: Socket): void => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffer = '';
    let loggedIn = false;
    let last: { body: string; sequence: number | undefined } | undefined;
    let chain = Promise.resolve();

    const send = (body: string, sequence: number | undefined): void => {
      last = { body, sequence };
      if (!socket.destroyed) socket.write(frame(body, sequence));
    };

    const handle = async (raw: string): Promise<void> => {
      const request = parseRequest(raw);
      received.push(request);
      if (!request.checksumOk) return send('96', undefined);
      if (request.code === '97') {
        if (last !== undefined) send(last.body, last.sequence);
        return;
      }
      const sequence = request.sequence;
      switch (request.code) {
        case '93':
          loggedIn = request.fields.CN === user && request.fields.CO === password;
          return send(loggedIn ? '941' : '940', sequence);
        case '99':
          return send(`98${behaviour.online ? 'Y' : 'N'}YYYNN010003${TX_DATE}2.00AO${institutionId}|AMTown Library|BXYYYYYYYYYYYYYYYY|AF|`, sequence);
        case '23':
        case '63': {
          if (!loggedIn || behaviour.dropOnPatronRequest) {
            socket.destroy();
            return;
          }
          if (behaviour.silent) return;
          if (behaviour.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, behaviour.delayMs));
          return send(patronAnswer(request), sequence === undefined ? undefined : (sequence + behaviour.sequenceOffset) % 10);
        }
        default:
          // SIP2 has no error reply for a message an ACS does not support: it stays silent.
          return;
      }
    };

    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let at: number;
      while ((at = buffer.indexOf('\r')) !== -1) {
        const raw = buffer.slice(0, at).replace(/^\n/, '');
        buffer = buffer.slice(at + 1);
        // One at a time, in order, as a single-threaded ACS does.
        chain = chain.then(() => handle(raw));
      }
    });
  };
  const server: Server = options.tls === undefined ? createServer(onConnection) : createTlsServer(options.tls, onConnection);

  const listen = (onPort: number): Promise<void> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(onPort, '127.0.0.1', () => {
        server.off('error', reject);
        port = (server.address() as { port: number }).port;
        resolve();
      });
    });

  await listen(0);

  return {
    get port() {
      return port;
    },
    patrons,
    behaviour,
    received,
    get connections() {
      return connections;
    },
    get open() {
      return sockets.size;
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    async restart() {
      await listen(port);
    },
  };
}
