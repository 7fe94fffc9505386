// The embedded broker (aedes) for a pilot of a few branches on one box. It speaks MQTT 3.1.1 only (aedes has no
// MQTT 5 yet), so gateways that use it set `mqtt.protocolVersion: 4`; commands are then matched by their id
// instead of correlation data. A real estate runs Mosquitto or a clustered broker instead (docs/central.md).
//
// Nobody is anonymous: every client names a user of the password file (Mosquitto's format, central/mqtt-passwords.ts)
// and gets exactly what policies/contract/acl.ts gives that user, the same ACL Mosquitto reads. Central's own client
// is the one `central`, with a password made at each start; a `central` line in the file is ignored here (it is
// Mosquitto's). Packets are bounded before aedes buffers them, each site's messages are rate-limited, and
// refusals are summed up in the log instead of written one by one.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { statSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Aedes, type AedesOptions, type Client } from 'aedes';
import type { Logger } from 'pino';
import { HashSlots, HashingBusyError } from '../kit/auth/hash-slots.js';
import { readFileBytes } from '../kit/read-bounded.js';
import { aclAllows, CENTRAL_USERNAME, SITE_ACCESS } from '../policies/contract/acl.js';
import { MAX_BROKER_PACKET_BYTES } from '../policies/contract/broker-limits.js';
import { MAX_PAYLOAD_BYTES } from '../policies/contract/parse.js';
import { parseTopic, SITE_TOPIC_KINDS } from '../policies/contract/topics.js';
import { MAX_CONFIG_BYTES } from '../policies/input-text.js';
import { ClientRateLimiter, RefusalSummary, type RateLimit } from './broker-rate.js';
import { guardPackets } from './mqtt-packet-guard.js';
import { DEFAULT_ITERATIONS, readPasswordFile, verifyPassword, type PasswordEntry, type PasswordFile } from './mqtt-passwords.js';

const KiB = 1024;
/** A topic, a message id and the length bytes around a payload. */
const PACKET_OVERHEAD_BYTES = 4 * KiB;
/** The largest packet a site (or a client not yet authenticated, whose CONNECT carries a small will) may send. */
export const SITE_MAX_PACKET_BYTES =
  Math.max(...SITE_TOPIC_KINDS.filter((kind) => SITE_ACCESS[kind] === 'write').map((kind) => MAX_PAYLOAD_BYTES[kind])) + PACKET_OVERHEAD_BYTES;
/** Central publishes member chunks, the largest messages of the contract: the limit Mosquitto is given too. */
export const CENTRAL_MAX_PACKET_BYTES = MAX_BROKER_PACKET_BYTES;

/** aedes's CONNACK return codes (MQTT 3.1.1 §3.2.2.3). */
const BAD_USERNAME_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;
const SERVER_UNAVAILABLE = 3;

export interface EmbeddedBroker {
  url: string;
  port: number;
  /** Central's own client: username `central`, a password made at this start and never written anywhere. */
  central: { username: string; password: string };
  close(): Promise<void>;
}

export interface EmbeddedBrokerOptions {
  host: string;
  port: number;
  /** The topic prefix the ACL is applied under. */
  prefix: string;
  /** Mosquitto-format password file; read again when it changes, so a new branch needs no restart. */
  passwordFile: string;
  /** PEM files; required by the config when `host` is not loopback. */
  tls?: { cert: string; key: string } | undefined;
  /** Central's client id: no other user may take it (and with it central's queued events). */
  centralClientId: string;
  /** Messages per second a site may publish (default broker-rate.ts's). */
  rate?: RateLimit | undefined;
  logger?: Logger | undefined;
  /** For tests (holding PUBACKs): asked after the broker's own checks passed, never instead of them. */
  aedes?: Pick<AedesOptions, 'authorizePublish'>;
}

/** The broker could not start: the message names the setting and what is wrong with it. */
export class EmbeddedBrokerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EmbeddedBrokerError';
  }
}

type Authenticated = { username: string };

/** The password file as last read; read again when its size, time or inode changes. */
class PasswordSource {
  private users: PasswordFile;
  private seen: string;

  constructor(
    private readonly path: string,
    private readonly logger: Logger | undefined,
  ) {
    const read = readPasswordFile(path);
    if (!read.ok) throw new EmbeddedBrokerError(`embedded.passwordFile: ${read.error}`);
    this.users = read.users;
    this.seen = this.stamp();
    if (this.users.has(CENTRAL_USERNAME)) {
      logger?.info({ file: path }, `the "${CENTRAL_USERNAME}" line of the password file is for Mosquitto; the embedded broker ignores it`);
    }
  }

  private stamp(): string {
    try {
      const s = statSync(this.path);
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code ?? 'unreadable';
    }
  }

  entry(username: string): PasswordEntry | undefined {
    const stamp = this.stamp();
    if (stamp !== this.seen) {
      this.seen = stamp;
      const read = readPasswordFile(this.path);
      // A half-edited or broken file must not lock every branch out: the last good one stays.
      if (read.ok) this.users = read.users;
      else this.logger?.error({ error: read.error }, 'the MQTT password file changed and cannot be used; the previous one stays in force');
    }
    return username === CENTRAL_USERNAME ? undefined : this.users.get(username);
  }
}

function readPem(path: string, setting: string): Buffer {
  const read = readFileBytes(path, { what: setting, maxBytes: MAX_CONFIG_BYTES });
  if (!read.ok) throw new EmbeddedBrokerError(read.error);
  return Buffer.from(read.bytes);
}

function authError(returnCode: number, message: string): Error & { returnCode: number } {
  return Object.assign(new Error(message), { returnCode });
}

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const { prefix, logger } = options;
  const passwords = new PasswordSource(options.passwordFile, logger);
  const tls = options.tls && { cert: readPem(options.tls.cert, 'embedded.tls.cert'), key: readPem(options.tls.key, 'embedded.tls.key') };
  const central = { username: CENTRAL_USERNAME, password: randomBytes(32).toString('base64url') };
  const centralPassword = Buffer.from(central.password);
  // For a username that is not in the file: the same work as a real check, so timing does not tell who exists.
  const decoy: PasswordEntry = { iterations: DEFAULT_ITERATIONS, salt: randomBytes(12), hash: randomBytes(64) };
  // A connect storm (a wrong-password flood, or every branch coming back at once) queues here, off the event loop.
  const hashing = new HashSlots({ concurrent: 2, queued: 2000 });
  const rate = new ClientRateLimiter(options.rate);
  const refusals = new RefusalSummary(logger ?? { warn: () => undefined });
  const who = new WeakMap<Client, Authenticated>();
  const limitOf = new WeakMap<Client, (maxBytes: number) => void>();
  // Who owns each client id: a site must not take over another's session, least of all central's with its queue.
  const owners = new Map<string, string>([[options.centralClientId, CENTRAL_USERNAME]]);

  const refuse = (client: Client | null, reason: string): void => {
    refusals.refuse(client?.id ?? '(none)', client ? who.get(client)?.username : undefined, reason);
  };

  async function checkPassword(username: string, password: Buffer | undefined): Promise<boolean> {
    if (username === CENTRAL_USERNAME) {
      return password !== undefined && password.length === centralPassword.length && timingSafeEqual(password, centralPassword);
    }
    const entry = passwords.entry(username);
    const ok = await hashing.run(() => verifyPassword(entry ?? decoy, password ?? Buffer.alloc(0)));
    return ok && entry !== undefined;
  }

  const broker = await Aedes.createBroker({
    // Gateways' client ids are `oag-<site id>`, up to 67 characters (aedes's default of 23 is MQTT 3.1's).
    maxClientsIdLength: 128,
    authenticate(client, username, password, done) {
      if (username === undefined || username === '') {
        refuse(client, 'anonymous client');
        done(authError(NOT_AUTHORIZED, 'anonymous clients are not taken'), false);
        return;
      }
      checkPassword(username, password).then(
        (ok) => {
          if (!ok) {
            refuse(client, `wrong username or password for "${username}"`);
            done(authError(BAD_USERNAME_OR_PASSWORD, 'bad user name or password'), false);
            return;
          }
          const owner = owners.get(client.id);
          if (owner !== undefined && owner !== username) {
            refuse(client, `"${username}" asked for the client id of another user`);
            done(authError(NOT_AUTHORIZED, 'client id taken by another user'), false);
            return;
          }
          owners.set(client.id, username);
          who.set(client, { username });
          limitOf.get(client)?.(username === CENTRAL_USERNAME ? CENTRAL_MAX_PACKET_BYTES : SITE_MAX_PACKET_BYTES);
          done(null, true);
        },
        (error: unknown) => {
          const busy = error instanceof HashingBusyError;
          refuse(client, busy ? 'too many connects at once' : `password check failed: ${(error as Error).message}`);
          done(authError(SERVER_UNAVAILABLE, 'server unavailable'), false);
        },
      );
    },
    authorizePublish(client, packet, done) {
      const user = client ? who.get(client) : undefined;
      // `null` client: a will left by a client of another broker instance; there is none here.
      if (client === null || user === undefined) {
        refuse(client, `publish to "${packet.topic}" by a client not authenticated`);
        done(new Error('not authorized'));
        return;
      }
      if (user.username !== CENTRAL_USERNAME) {
        const taken = rate.take(user.username);
        if (!taken.ok) {
          refuse(client, `over the rate limit (next in ${taken.retryInMs} ms)`);
          done(new Error('over the rate limit'));
          return;
        }
      }
      const allowed = aclAllows(prefix, user.username, 'publish', packet.topic);
      if (!allowed.ok) {
        refuse(client, allowed.reason);
        done(new Error('not authorized'));
        return;
      }
      // A site's payload is held to its topic's limit here already; central's only to its packet limit, as what it
      // sends is checked before it goes out and every reader holds it to the limit again.
      const kind = user.username === CENTRAL_USERNAME ? undefined : parseTopic(prefix, packet.topic)?.kind;
      const max = kind === undefined ? CENTRAL_MAX_PACKET_BYTES : MAX_PAYLOAD_BYTES[kind];
      if (packet.payload.length > max) {
        refuse(client, `a ${packet.payload.length}-byte payload on "${packet.topic}" (at most ${max})`);
        done(new Error('payload too large'));
        return;
      }
      if (options.aedes?.authorizePublish) options.aedes.authorizePublish(client, packet, done);
      else done(null);
    },
    authorizeSubscribe(client, subscription, done) {
      const user = who.get(client);
      const allowed = user === undefined ? { ok: false as const, reason: 'not authenticated' } : aclAllows(prefix, user.username, 'subscribe', subscription.topic);
      if (allowed.ok) {
        done(null, subscription);
        return;
      }
      refuse(client, allowed.reason);
      // A SUBACK with 0x80 for this filter, as Mosquitto answers; the client stays connected.
      done(null, null);
    },
  });
  broker.on('clientDisconnect', (client) => {
    // A clean session ends here, and its client id is free again; a persistent one keeps its owner, as aedes keeps it.
    if (client.clean && owners.get(client.id) === who.get(client)?.username && client.id !== options.centralClientId) owners.delete(client.id);
  });
  broker.on('clientError', (client, err) => logger?.debug({ client: client.id, err: err.message }, 'mqtt client error'));
  broker.on('connectionError', (_client, err) => logger?.debug({ err: err.message }, 'mqtt connection error'));

  const sockets = new Set<Socket>();
  const handle = (socket: Socket): void => {
    sockets.add(socket);
    // Small MQTT packets both ways: without this, Nagle and delayed ACKs add tens of milliseconds per round trip.
    socket.setNoDelay(true);
    socket.on('close', () => sockets.delete(socket));
    // The guard exists before aedes's client does, and names it once it has one.
    const handled: { client?: Client } = {};
    const guard = guardPackets(socket, SITE_MAX_PACKET_BYTES, (length, limit) => {
      const { client } = handled;
      const id = client?.id ?? `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
      const reason = length === undefined ? 'a malformed packet length' : `a ${length}-byte packet (at most ${limit})`;
      refusals.refuse(id, client && who.get(client)?.username, `${reason}; disconnected before reading it`);
    });
    handled.client = broker.handle(guard.stream);
    limitOf.set(handled.client, guard.setLimit);
  };
  const server: Server = tls ? createTlsServer({ ...tls, minVersion: 'TLSv1.2' }, handle) : createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  let closed = false;
  return {
    url: `${tls ? 'mqtts' : 'mqtt'}://${host}:${port}`,
    port,
    central,
    async close() {
      if (closed) return;
      closed = true;
      refusals.stop();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
