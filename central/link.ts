// Central's MQTT client: subscribes to every site, feeds ingest, publishes policies, sends commands and waits
// for their answers (MQTT 5 response topic + correlation data; by command id on an MQTT 3.1.1 broker).
// A QoS 1 message is acknowledged once ingest has committed it (or refused it): one the store could not take is not,
// and the broker sends it again. Many messages are in ingest at once, so that its commits take them in batches; the
// acknowledgements go out in the order the messages came, each after its own commit. With `broker.shareGroup`,
// several centrals share the branches' events (docs/central.md, "Several instances").
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, type IClientOptions, type IPublishPacket, type MqttClient, type Packet } from 'mqtt';
import type { Logger } from 'pino';
import {
  allSitesFilter,
  CENTRAL_SITE_KINDS,
  checkPrefix,
  CommandSchema,
  topics,
  type Command,
  type CommandName,
  type CommandReply,
  type SiteTopicKind,
} from '../policies/contract/index.js';
import { MAX_BROKER_PACKET_BYTES } from '../policies/contract/broker-limits.js';
import type { CentralBus } from './bus.js';
import type { CentralConfig } from './config.js';
import type { IncomingMessage } from './ingest.js';
import { signedPayload, type CentralSigningKey } from './signing-key.js';

export type CommandOutcome = { status: 'answered'; reply: CommandReply; id: string } | { status: 'timeout'; id: string };

export class NotConnectedError extends Error {
  constructor() {
    super('not connected to the MQTT broker');
    this.name = 'NotConnectedError';
  }
}

/**
 * What the link needs of ingest. The promise settles once the message is dealt with: resolved when it was stored,
 * refused (a bad payload: acknowledged, as sending it again would not mend it) or ignored; rejected only when the
 * store failed, and then the message is not acknowledged.
 */
export interface LinkIngest {
  handle(msg: IncomingMessage): void | Promise<void>;
}

/**
 * Taken by one instance of a share group each: the events, which any instance stores for all of them. The rest every
 * instance subscribes to as before: state and availability arrive retained, and a shared subscription is sent no
 * retained message; every instance sees each command reply and resolves only its own waiter; and member requests
 * and desk changes reach every instance so that the leader, which alone answers them (central/main.ts), always
 * gets them.
 */
export const SHARED_SITE_KINDS: readonly SiteTopicKind[] = ['events'];

/** Central's subscriptions: one filter per kind it takes in, across every site, the shared kinds through `$share/<group>/`. */
export function centralSubscriptions(prefix: string, shareGroup: string | undefined): string[] {
  const root = `${checkPrefix(prefix)}/sites/+/`;
  return CENTRAL_SITE_KINDS.map((kind) =>
    shareGroup !== undefined && SHARED_SITE_KINDS.includes(kind) ? `$share/${shareGroup}/${root}${kind}` : `${root}${kind}`,
  );
}

const STORE_RETRY_MS = 5000;

/**
 * PUBLISHes handed to ingest and not yet acknowledged, at most: the next is read from the connection once one is
 * done. Also central's MQTT 5 Receive Maximum, so that the broker sends no more than that unacknowledged.
 */
export const MAX_IN_FLIGHT = 256;

/** A PUBACK mqtt.js is about to send, and the commit it must wait for (true: done with; false: not stored). */
interface HeldAck {
  messageId: number | undefined;
  done: Promise<boolean>;
  stream: unknown;
}

type SendPacket = (packet: Packet, cb?: (err?: Error) => void, ...rest: unknown[]) => void;

interface Waiter {
  site: string;
  resolve: (outcome: CommandOutcome) => void;
  timer: NodeJS.Timeout;
}

export class CentralLink {
  private client: MqttClient | null = null;
  private readonly waiters = new Map<string, Waiter>();
  /** Messages the store could not take since the last reconnect (none acknowledged; the broker sends them again). */
  private notStored = 0;
  private retry: NodeJS.Timeout | null = null;
  private readonly log: Logger;
  private readonly onReply = (r: { site: string; reply: CommandReply; correlation: string | null }): void => this.answer(r);
  /** Whether acknowledgements wait for their commit while the next messages are read (holdAcks). */
  private pipelined = false;
  private heldAck: HeldAck | null = null;
  private inFlight = 0;
  /** The next message's reading, held back while MAX_IN_FLIGHT are in ingest. */
  private paused: (() => void) | null = null;
  /** Every message in ingest, until it is done with; and the last non-event one, which later messages wait for. */
  private readonly inIngest = new Set<Promise<unknown>>();
  private barrier: Promise<unknown> | null = null;
  /** Messages handed to ingest since the start, and when the last came (for `drain`). */
  private taken = 0;
  private lastTakenAt = Date.now();

  constructor(
    private readonly deps: {
      url: string;
      broker: NonNullable<CentralConfig['broker']> | { clientId: string; protocolVersion: 4 | 5; sessionExpirySeconds: number };
      prefix: string;
      commandTimeoutMs: number;
      /** Every command and policy goes out signed with it: branches act on nothing else. */
      signingKey: CentralSigningKey;
      ingest: LinkIngest;
      bus: CentralBus;
      clock: { now(): Date };
      logger: Logger;
      /** How long after a message the store could not take the link reconnects to have it sent again (default 5 s). */
      storeRetryMs?: number;
      /**
       * Retiring this instance (`oag central retire`): take what its session holds, subscribe to nothing (and leave
       * the share group), so that `drain` can end once the queue is empty.
       */
      retiring?: boolean;
    },
  ) {
    this.log = deps.logger.child({ module: 'central-mqtt' });
  }

  get connected(): boolean {
    return this.client?.connected === true;
  }

  get protocolVersion(): 4 | 5 {
    return this.deps.broker.protocolVersion;
  }

  /** Resolves once connected and subscribed, or after `waitMs` (it keeps trying in the background). */
  async start(waitMs = 5000): Promise<void> {
    const client = connect(this.deps.url, this.options());
    this.client = client;
    this.deps.bus.on('reply', this.onReply);
    this.pipelined = this.holdAcks(client);
    client.handleMessage = (packet, done) => this.take(client, packet, done);
    client.on('error', (err) => this.log.warn({ err: err.message }, 'broker connection error'));
    client.on('close', () => this.log.debug('broker connection closed'));
    const subscribed = new Promise<void>((resolve) => {
      client.on('connect', () => {
        const group = this.shareGroup;
        // The whole tree (an older central's subscription, kept in a persistent session) would bring back the
        // member-list chunks central sends: only the kinds central takes in. In a share group, this instance's own
        // subscription to a shared kind (kept from before it joined) would bring it every message of that kind.
        const stale = [allSitesFilter(this.deps.prefix), ...(group === undefined ? [] : centralSubscriptions(this.deps.prefix, undefined).filter((f) => SHARED_SITE_KINDS.some((k) => f.endsWith(`/${k}`))))];
        if (this.deps.retiring === true) {
          // Out of the share group first: the broker sends what the session holds, and nothing new joins it.
          client.unsubscribe([...stale, ...centralSubscriptions(this.deps.prefix, group)], () => {
            this.log.info({ url: this.deps.url }, 'retiring: out of every subscription; taking what the session holds');
            resolve();
          });
          return;
        }
        client.unsubscribe(stale);
        // Subscribed again on every connect: the session may be gone (broker restarted without persistence).
        client.subscribe(centralSubscriptions(this.deps.prefix, group), { qos: 1 }, (err) => {
          if (err) this.log.error({ err: err.message }, 'subscribe failed');
          else this.log.info({ url: this.deps.url, ...(group === undefined ? {} : { shareGroup: group }) }, 'connected and subscribed to every site');
          this.deps.bus.emit('link-up');
          resolve();
        });
      });
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([subscribed, new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
    clearTimeout(timer);
    if (!client.connected) this.log.warn({ url: this.deps.url }, 'broker not reachable yet; still trying');
  }

  private get shareGroup(): string | undefined {
    const b = this.deps.broker;
    return 'shareGroup' in b ? b.shareGroup : undefined;
  }

  /**
   * mqtt.js sends a PUBLISH's PUBACK when `handleMessage` calls back, and reads the connection's next packet only
   * then: one commit per message. So the link calls back at once and holds the PUBACK that mqtt.js then sends until
   * the message's commit, while the next messages are read: ingest takes them together (central/history/
   * event-batcher.ts). mqtt.js has no public hook between the callback and the PUBACK, so this wraps its internal
   * `_sendPacket`, for this client only; without it (another mqtt.js), the link takes one message at a time.
   */
  private holdAcks(client: MqttClient): boolean {
    const internal = client as unknown as { _sendPacket?: SendPacket };
    const send = internal._sendPacket;
    if (typeof send !== 'function') {
      this.log.warn('this mqtt.js has no _sendPacket: messages are taken one at a time (one commit each)');
      return false;
    }
    internal._sendPacket = (packet, cb, ...rest) => {
      const held = this.heldAck;
      if (held === null || packet.cmd !== 'puback' || packet.messageId !== held.messageId) {
        send.call(client, packet, cb, ...rest);
        return;
      }
      this.heldAck = null;
      // On the connection it came on only: after a reconnect the broker sends the message again, and a PUBACK
      // mqtt.js kept for the new connection would answer a packet id that is no longer this message's.
      void held.done.then((ok) => {
        if (ok && client.stream === held.stream && client.connected) send.call(client, packet);
      });
      cb?.();
    };
    return true;
  }

  /**
   * Hands one message to ingest; its PUBACK goes once ingest is done with it. A store failure leaves it
   * unacknowledged: a broker sends an unacknowledged message again only when the session resumes, so the link
   * reconnects a little later (the store may be back by then), and every message not stored meanwhile comes again.
   */
  private take(client: MqttClient, packet: IPublishPacket, done: (err?: Error) => void): void {
    this.taken++;
    this.lastTakenAt = Date.now();
    // The connection it came on: a PUBACK goes on that one or not at all.
    const stream = client.stream;
    // The full topic: central advertises no topic alias maximum, so the broker sends none (mqtt.js refuses one).
    const msg = {
      topic: packet.topic,
      payload: typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload,
      retain: packet.retain,
      correlationData: packet.properties?.correlationData,
    };
    const handled = this.inOrder(msg).then(
      () => true,
      (err: unknown) => {
        this.notStoredYet(client, msg.topic, err as Error);
        return false;
      },
    );
    if (!this.pipelined || packet.qos !== 1) {
      // One at a time: the callback sends the PUBACK (none for QoS 0), and mqtt.js reads on after it.
      void handled.then((ok) => (ok ? done() : done(new Error('not stored'))));
      return;
    }
    this.inFlight++;
    void handled.then(() => {
      this.inFlight--;
      const next = this.paused;
      if (next !== null && this.inFlight < MAX_IN_FLIGHT) {
        this.paused = null;
        next();
      }
    });
    const proceed = (): void => {
      this.heldAck = { messageId: packet.messageId, done: handled, stream };
      done(); // mqtt.js sends the PUBACK now (held above until `handled`), and reads the next packet
    };
    if (this.inFlight >= MAX_IN_FLIGHT) this.paused = proceed;
    else proceed();
  }

  /**
   * Ingest takes the events as they come, many at once: each is stored once by its id, in whatever order. Any other
   * message (a state, an availability, a policy, a reply) waits until ingest is done with everything before it, and
   * everything after it waits for it: a site's states are stored in the order the broker sent them.
   */
  private inOrder(msg: IncomingMessage): Promise<void> {
    const call = async (): Promise<void> => this.deps.ingest.handle(msg);
    let handled: Promise<void>;
    if (SHARED_SITE_KINDS.some((k) => msg.topic.endsWith(`/${k}`))) {
      handled = this.barrier === null ? call() : this.barrier.then(call);
    } else {
      handled = Promise.allSettled([...this.inIngest]).then(call);
    }
    const settled = handled.then(
      () => undefined,
      () => undefined,
    );
    this.inIngest.add(settled);
    if (!SHARED_SITE_KINDS.some((k) => msg.topic.endsWith(`/${k}`))) this.barrier = settled;
    void settled.then(() => {
      this.inIngest.delete(settled);
      if (this.barrier === settled) this.barrier = null;
    });
    return handled;
  }

  private notStoredYet(client: MqttClient, topic: string, err: Error): void {
    // Told once per reconnect: a store that is down fails every message, and the count says how many.
    if (this.notStored++ === 0) this.log.error({ topic, err: err.message }, 'message not stored: not acknowledged, the broker sends it again after a reconnect');
    this.retry ??= setTimeout(() => this.reconnectForRedelivery(client), this.deps.storeRetryMs ?? STORE_RETRY_MS);
  }

  private reconnectForRedelivery(client: MqttClient): void {
    this.retry = null;
    if (this.client !== client) return;
    this.log.warn({ notStored: this.notStored }, 'reconnecting to the broker: the messages the store could not take are sent again');
    this.notStored = 0;
    // The connection dropped, mqtt.js reconnects (reconnectPeriod) on the same persistent session.
    client.stream.destroy();
  }

  private options(): IClientOptions {
    const b = this.deps.broker;
    const opts: IClientOptions = {
      protocolVersion: b.protocolVersion,
      clientId: b.clientId,
      // A persistent session: while central restarts, the broker queues the branches' events for it.
      clean: false,
      resubscribe: false,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      keepalive: 30,
    };
    // The broker must not send central a packet larger than any message of the contract (MQTT 5 maximumPacketSize).
    if (b.protocolVersion === 5) opts.properties = { sessionExpiryInterval: b.sessionExpirySeconds, maximumPacketSize: MAX_BROKER_PACKET_BYTES, receiveMaximum: MAX_IN_FLIGHT };
    if ('username' in b && b.username !== undefined) opts.username = b.username;
    if ('password' in b && b.password !== undefined) opts.password = b.password;
    if ('passwordFile' in b && b.passwordFile !== undefined) opts.password = readFileSync(b.passwordFile, 'utf8').trim();
    if ('tls' in b && b.tls) {
      if (b.tls.ca) opts.ca = readFileSync(b.tls.ca);
      if (b.tls.cert) opts.cert = readFileSync(b.tls.cert);
      if (b.tls.key) opts.key = readFileSync(b.tls.key);
      opts.rejectUnauthorized = b.tls.rejectUnauthorized;
    }
    return opts;
  }

  /** Publishes a (validated) policy document, signed and retained, and waits for the broker's acknowledgement. */
  async publishPolicy(site: string, doc: object): Promise<void> {
    const client = this.requireClient();
    const topic = topics(this.deps.prefix, site).policy;
    await client.publishAsync(topic, signedPayload(this.deps.signingKey, topic, doc), { qos: 1, retain: true });
  }

  /** Publishes at QoS 1 and waits for the broker's acknowledgement (member-list announcements and chunks). */
  async publish(topic: string, payload: Buffer, options: { retain: boolean }): Promise<void> {
    const client = this.requireClient();
    await client.publishAsync(topic, payload, { qos: 1, retain: options.retain });
  }

  /** Sends a command and waits for the branch's answer, or for the timeout. */
  async sendCommand(site: string, request: { command: CommandName; actor: string; text?: string | undefined }): Promise<CommandOutcome> {
    const client = this.requireClient();
    const t = topics(this.deps.prefix, site);
    const cmd: Command = CommandSchema.parse({
      id: randomUUID(),
      at: this.deps.clock.now().toISOString(),
      command: request.command,
      actor: request.actor,
      ...(request.text !== undefined ? { text: request.text } : {}),
    });
    const outcome = new Promise<CommandOutcome>((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(cmd.id);
        resolve({ status: 'timeout', id: cmd.id });
      }, this.deps.commandTimeoutMs);
      this.waiters.set(cmd.id, { site, resolve, timer });
    });
    const properties =
      this.deps.broker.protocolVersion === 5 ? { responseTopic: t.commandReply, correlationData: Buffer.from(cmd.id) } : undefined;
    try {
      // Signed over its id and `at`: a branch refuses it altered, on another branch's topic, or replayed.
      await client.publishAsync(t.command, signedPayload(this.deps.signingKey, t.command, cmd), { qos: 1, retain: false, ...(properties ? { properties } : {}) });
    } catch (err) {
      const w = this.waiters.get(cmd.id);
      if (w) clearTimeout(w.timer);
      this.waiters.delete(cmd.id);
      throw err;
    }
    return outcome;
  }

  private answer({ site, reply, correlation }: { site: string; reply: CommandReply; correlation: string | null }): void {
    const key = correlation ?? reply.id;
    if (key === undefined) {
      this.log.warn({ site, reply }, 'command reply without correlation data or id');
      return;
    }
    const w = this.waiters.get(key);
    if (!w) return; // late (after the timeout) or another central's
    if (w.site !== site) {
      this.log.warn({ site, expected: w.site }, 'command reply from the wrong site; ignored');
      return;
    }
    clearTimeout(w.timer);
    this.waiters.delete(key);
    w.resolve({ status: 'answered', reply, id: key });
  }

  private requireClient(): MqttClient {
    if (!this.client?.connected) throw new NotConnectedError();
    return this.client;
  }

  /**
   * Retiring: resolves once ingest is done with every message taken and none has come for `quietMs` (the session's
   * queue is empty: a broker sends it all at once after the connection), or rejects after `maxMs` with what was taken.
   * The acknowledgements of the last commit go out before it resolves.
   */
  async drain(options: { quietMs: number; maxMs: number }): Promise<{ messages: number }> {
    const started = Date.now();
    for (;;) {
      await new Promise((r) => setTimeout(r, Math.min(200, options.quietMs)));
      if (this.client?.connected === true && this.inIngest.size === 0 && Date.now() - this.lastTakenAt >= options.quietMs) break;
      if (Date.now() - started > options.maxMs) {
        throw new Error(`the session was still sending after ${Math.round(options.maxMs / 1000)} s (${this.taken} messages taken); nothing is lost: run it again`);
      }
    }
    // The held PUBACKs go on the promise turn after their commit: one more turn, then they are written.
    await new Promise((r) => setImmediate(r));
    return { messages: this.taken };
  }

  /**
   * Ends the connection, then has the broker forget this client id's session: a clean connection on it, closed at
   * once (MQTT 3.1.1 and 5 alike). What the session held must have been taken first (`drain`).
   */
  async endSession(): Promise<void> {
    await this.close();
    const opts = this.options();
    const once = connect(this.deps.url, { ...opts, clean: true, reconnectPeriod: 0, ...(opts.properties ? { properties: { ...opts.properties, sessionExpiryInterval: 0 } } : {}) });
    try {
      await new Promise<void>((resolve, reject) => {
        once.once('connect', () => resolve());
        once.once('error', reject);
        once.once('close', () => reject(new Error('the broker closed the connection that was to end the session')));
      });
      await once.endAsync(false);
    } finally {
      once.end(true);
    }
  }

  async close(): Promise<void> {
    this.deps.bus.off('reply', this.onReply);
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    for (const [id, w] of this.waiters) {
      clearTimeout(w.timer);
      w.resolve({ status: 'timeout', id });
    }
    this.waiters.clear();
    const client = this.client;
    this.client = null;
    if (!client) return;
    if (client.connected) await Promise.race([client.endAsync(false), new Promise((r) => setTimeout(r, 2000))]);
    client.end(true);
  }
}
