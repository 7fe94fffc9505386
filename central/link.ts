// Central's MQTT client: subscribes to every site, feeds ingest, publishes policies, sends commands and waits
// for their answers (MQTT 5 response topic + correlation data; by command id on an MQTT 3.1.1 broker).
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import {
  allSitesFilter,
  centralFilters,
  CommandSchema,
  topics,
  type Command,
  type CommandName,
  type CommandReply,
} from '../policies/contract/index.js';
import { MAX_BROKER_PACKET_BYTES } from '../policies/contract/broker-limits.js';
import type { CentralBus } from './bus.js';
import type { CentralConfig } from './config.js';
import type { Ingest } from './ingest.js';
import { signedPayload, type CentralSigningKey } from './signing-key.js';

export type CommandOutcome = { status: 'answered'; reply: CommandReply; id: string } | { status: 'timeout'; id: string };

export class NotConnectedError extends Error {
  constructor() {
    super('not connected to the MQTT broker');
    this.name = 'NotConnectedError';
  }
}

interface Waiter {
  site: string;
  resolve: (outcome: CommandOutcome) => void;
  timer: NodeJS.Timeout;
}

export class CentralLink {
  private client: MqttClient | null = null;
  private readonly waiters = new Map<string, Waiter>();
  private readonly log: Logger;
  private readonly onReply = (r: { site: string; reply: CommandReply; correlation: string | null }): void => this.answer(r);

  constructor(
    private readonly deps: {
      url: string;
      broker: NonNullable<CentralConfig['broker']> | { clientId: string; protocolVersion: 4 | 5; sessionExpirySeconds: number };
      prefix: string;
      commandTimeoutMs: number;
      /** Every command and policy goes out signed with it: branches act on nothing else. */
      signingKey: CentralSigningKey;
      ingest: Ingest;
      bus: CentralBus;
      clock: { now(): Date };
      logger: Logger;
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
    client.on('message', (topic, payload, packet) =>
      this.deps.ingest.handle({ topic, payload, retain: packet.retain, correlationData: packet.properties?.correlationData }),
    );
    client.on('error', (err) => this.log.warn({ err: err.message }, 'broker connection error'));
    client.on('close', () => this.log.debug('broker connection closed'));
    const subscribed = new Promise<void>((resolve) => {
      client.on('connect', () => {
        // The whole tree (an older central's subscription, kept in a persistent session) would bring back the
        // member-list chunks central sends: only the kinds central takes in.
        client.unsubscribe(allSitesFilter(this.deps.prefix));
        // Subscribed again on every connect: the session may be gone (broker restarted without persistence).
        client.subscribe(centralFilters(this.deps.prefix), { qos: 1 }, (err) => {
          if (err) this.log.error({ err: err.message }, 'subscribe failed');
          else this.log.info({ url: this.deps.url }, 'connected and subscribed to every site');
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
    if (b.protocolVersion === 5) opts.properties = { sessionExpiryInterval: b.sessionExpirySeconds, maximumPacketSize: MAX_BROKER_PACKET_BYTES };
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

  async close(): Promise<void> {
    this.deps.bus.off('reply', this.onReply);
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
