// The gateway's link to the broker: availability, state, events from the outbox; commands and policies in.
// Nothing here is ever awaited by the tap path: `kick()` only schedules a pump on the next turn of the loop.
import { connect, type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import {
  AvailabilitySchema,
  EventSchema,
  GatewayStateSchema,
  membersCurrentTopic,
  topics as siteTopics,
  type SiteTopics,
} from '../../policies/contract/index.js';
import { formatIssues } from '../../policies/errors.js';
import { MAX_BROKER_PACKET_BYTES } from '../../policies/contract/broker-limits.js';
import { MAX_PAYLOAD_BYTES, readJson } from '../../policies/contract/parse.js';
import { verifyMessage } from '../../policies/contract/signing.js';
import { readFileBytes } from '../../kit/read-bounded.js';
import { describeStorageError } from '../core/storage-faults.js';
import { CommandHandler, type CommandAnswer } from './commands.js';
import { MemberDeskLink } from './member-desk.js';
import { NoReplayStore } from './no-replay-store.js';
import { RefusalLog } from './refusal-log.js';
import { loadCentralKeys, type CentralPublicKey } from './verify.js';
import type { OutboxRow, UplinkDeps } from './types.js';

const STATE_DEBOUNCE_MS = 100;
/** The outbox is also looked at on this beat, in case an append was not followed by `kick()`. */
const OUTBOX_POLL_MS = 5000;
const ACK_RETRY_FIRST_MS = 500;
const ACK_RETRY_MAX_MS = 30_000;
/** QoS 1 publishes that are not events (availability, state, replies) need room in the broker's receive window. */
const RESERVED_INFLIGHT = 4;
/** A connection up this long held: the next loss waits reconnectPeriodMs again, not the backed-off wait. */
export const STABLE_CONNECTION_MS = 10_000;

export class Uplink {
  private client: MqttClient | null = null;
  private readonly topics: SiteTopics;
  private readonly membersTopic: string;
  private readonly log: Logger;
  private readonly commandHandler: CommandHandler;
  private readonly centralKeys: readonly CentralPublicKey[];
  private readonly refusals: RefusalLog;
  /** Desk changes to central and its replies, when the gateway was given its key id (deps.desk). */
  readonly desk: MemberDeskLink | undefined;
  /** Event ids sent on the current connection and not yet acknowledged. */
  private readonly inFlight = new Set<string>();
  /** Acknowledged ids waiting to be marked in one write: never sent again, even while the store refuses the mark. */
  private acked: string[] = [];
  private ackFlush: NodeJS.Immediate | null = null;
  /** While the store refuses to mark (disk full, write lock held), marking is retried on this timer, with backoff. */
  private ackRetry: NodeJS.Timeout | null = null;
  private ackFailures = 0;
  private pumpScheduled: NodeJS.Immediate | null = null;
  private stateTimer: NodeJS.Timeout | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private unsubscribeState: (() => void) | null = null;
  /** Bumped on every close: a callback from an older connection must not touch the current one's bookkeeping. */
  private epoch = 0;
  private eventWindow: number;
  /** Set when the broker refused an event (PUBACK with an error): sending pauses, then starts again from the oldest. */
  private halted = false;
  private connectedAt: Date | null = null;
  private everConnected = false;
  private reconnects = 0;
  private reconnectDelay: number;
  /** When the current connection came up (performance.now()), for telling a connection that held from one cut at once. */
  private connectedSince: number | null = null;
  private lastPolicyText: string | null = null;
  private readonly invalidLogged = new Set<string>();
  private stopped = false;

  constructor(private readonly deps: UplinkDeps) {
    this.topics = siteTopics(deps.config.prefix, deps.site);
    this.membersTopic = membersCurrentTopic(deps.config.prefix);
    this.log = deps.logger.child({ module: 'uplink' });
    this.eventWindow = deps.config.eventBatch;
    this.reconnectDelay = deps.config.reconnectPeriodMs;
    // Read at start: a missing or wrong key is the uplink-failed alarm, named, and the door goes on deciding.
    this.centralKeys = loadCentralKeys(deps.config.centralKeys);
    this.refusals = new RefusalLog(this.log);
    this.desk =
      deps.desk === undefined
        ? undefined
        : new MemberDeskLink({
            replyTopic: this.topics.membersChangeReply,
            centralKeys: this.centralKeys,
            keyId: deps.desk.keyId,
            clock: deps.clock,
            logger: this.log,
            refusals: this.refusals,
            timeoutMs: deps.desk.replyTimeoutMs,
          });
    this.commandHandler = new CommandHandler({
      topics: this.topics,
      commands: deps.commands,
      centralKeys: this.centralKeys,
      clock: deps.clock,
      logger: this.log,
    });
  }

  /** Connected to the broker now (the outbox is being drained). */
  get connected(): boolean {
    return this.client?.connected === true && this.connectedAt !== null;
  }

  start(): void {
    if (this.client) return;
    this.stopped = false;
    const client = connect(this.deps.config.url, this.clientOptions());
    this.client = client;
    client.on('connect', (connack) => this.onConnect(connack.properties?.receiveMaximum));
    client.on('close', () => this.onClose());
    client.on('error', (err) => this.log.warn({ err: err.message }, 'broker connection error'));
    client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet));
    this.unsubscribeState = this.deps.state.onChange(() => this.scheduleState());
    this.pollTimer = setInterval(() => this.kick(), OUTBOX_POLL_MS);
    this.pollTimer.unref();
    this.log.info({ url: redact(this.deps.config.url), clientId: client.options.clientId }, 'uplink starting');
  }

  /** New events were appended to the outbox. Fire-and-forget: never waits on the network. */
  kick(): void {
    if (this.pumpScheduled !== null || this.stopped) return;
    this.pumpScheduled = setImmediate(() => {
      this.pumpScheduled = null;
      this.pump();
    });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribeState?.();
    this.unsubscribeState = null;
    this.refusals.stop();
    this.commandHandler.stop();
    for (const t of [this.stateTimer, this.pollTimer, this.retryTimer, this.ackRetry]) if (t) clearTimeout(t);
    this.ackRetry = null;
    this.deps.members?.link(null);
    this.desk?.stop();
    if (this.pumpScheduled) clearImmediate(this.pumpScheduled);
    this.pumpScheduled = null;
    const client = this.client;
    this.client = null;
    if (client) {
      if (client.connected) {
        // A clean DISCONNECT does not fire the will, so say goodbye ourselves.
        await withTimeout(
          client.publishAsync(this.topics.availability, this.availability('offline'), { qos: 1, retain: true }),
          2000,
        ).catch((err: unknown) => this.log.warn({ err: String(err) }, 'could not publish offline'));
        await withTimeout(client.endAsync(false), 2000).catch(() => client.end(true));
      } else {
        client.end(true);
      }
    }
    this.flushAcks();
    this.connectedAt = null;
    this.log.info('uplink stopped');
  }

  private clientOptions(): IClientOptions {
    const { config, site, clock } = this.deps;
    const v5 = config.protocolVersion === 5;
    const opts: IClientOptions = {
      protocolVersion: config.protocolVersion,
      clientId: config.clientId ?? `oag-${site}`,
      clean: false,
      keepalive: config.keepalive,
      reconnectPeriod: config.reconnectPeriodMs,
      connectTimeout: 10_000,
      // Subscriptions are made again on every connect by us, never trusted to the session.
      resubscribe: false,
      queueQoSZero: false,
      outgoingStore: new NoReplayStore(),
      will: {
        topic: this.topics.availability,
        payload: this.availability('offline', clock.now()),
        qos: 1,
        retain: true,
      },
    };
    // maximumPacketSize: an MQTT 5 broker must not send this client more (it drops the message instead), so even a
    // broker that took a huge publish cannot make the gateway buffer it.
    if (v5) opts.properties = { sessionExpiryInterval: config.sessionExpirySeconds, maximumPacketSize: MAX_BROKER_PACKET_BYTES };
    if (config.username !== undefined) opts.username = config.username;
    if (config.password !== undefined) opts.password = config.password;
    if (config.passwordFile !== undefined) opts.password = Buffer.from(readConfigFile('mqtt.passwordFile', config.passwordFile)).toString('utf8').trim();
    if (config.tls) {
      if (config.tls.ca) opts.ca = readConfigFile('mqtt.tls.ca', config.tls.ca);
      if (config.tls.cert) opts.cert = readConfigFile('mqtt.tls.cert', config.tls.cert);
      if (config.tls.key) opts.key = readConfigFile('mqtt.tls.key', config.tls.key);
      opts.rejectUnauthorized = config.tls.rejectUnauthorized;
    }
    return opts;
  }

  private availability(state: 'online' | 'offline', at: Date = this.deps.clock.now()): Buffer {
    return Buffer.from(JSON.stringify(AvailabilitySchema.parse({ state, at: at.toISOString() })));
  }

  private onConnect(receiveMaximum: number | undefined): void {
    const client = this.client;
    if (!client || this.stopped) return;
    const { config } = this.deps;
    this.connectedAt = this.deps.clock.now();
    this.connectedSince = performance.now();
    if (this.everConnected) this.reconnects++;
    this.everConnected = true;
    // The will for the next connection says when that one began.
    if (client.options.will) client.options.will.payload = this.availability('offline', this.connectedAt);
    this.eventWindow = Math.max(1, Math.min(config.eventBatch, (receiveMaximum ?? 65_535) - RESERVED_INFLIGHT));
    this.halted = false;
    this.log.info({ reconnects: this.reconnects, window: this.eventWindow }, 'connected to broker');

    client.publish(this.topics.availability, this.availability('online'), { qos: 1, retain: true });
    const v5 = config.protocolVersion === 5;
    const members = this.deps.members;
    client.subscribe(
      {
        // rh 2: the broker never sends a retained message on the command topic (we would refuse it anyway).
        [this.topics.command]: v5 ? { qos: 1, rh: 2 } : { qos: 1 },
        [this.topics.policy]: { qos: 1 },
        // The retained announcement comes with every (re)subscription: the sync checks its list on each connect.
        ...(members ? { [this.membersTopic]: { qos: 1 }, [this.topics.membersChunk]: v5 ? { qos: 1, rh: 2 } : { qos: 1 } } : {}),
        ...(this.desk ? { [this.topics.membersChangeReply]: v5 ? { qos: 1, rh: 2 } : { qos: 1 } } : {}),
      },
      (err, granted) => {
        if (err) this.log.error({ err: err.message }, 'subscribe failed');
        else if (granted?.some((g) => g.qos > 2)) this.log.error({ granted }, 'broker refused a subscription (check the ACL)');
      },
    );
    members?.link((payload) => this.publishMembersRequest(payload));
    this.desk?.link((payload) => this.publishDeskChange(client, payload));
    this.publishState();
    this.pump();
  }

  private onClose(): void {
    const client = this.client;
    if (this.connectedAt !== null) {
      this.log.warn({ inFlight: this.inFlight.size }, 'broker connection lost; events stay in the outbox');
    }
    // The wait starts again from reconnectPeriodMs only after a connection that held. One the broker cut at once (a
    // rate limit that the outbox's backlog runs into, with the PUBACKs lost in the cut) would otherwise be retried at
    // the same short period for ever, each time with the same events and too few tokens to get them through.
    const lasted = this.connectedSince === null ? 0 : performance.now() - this.connectedSince;
    if (lasted >= STABLE_CONNECTION_MS) this.reconnectDelay = this.deps.config.reconnectPeriodMs;
    this.connectedSince = null;
    this.connectedAt = null;
    this.epoch++;
    this.inFlight.clear();
    this.deps.members?.link(null);
    this.desk?.link(null);
    if (client && !this.stopped) {
      // Back off: double the wait after each failed attempt, with some jitter so a hundred branches coming back
      // after a central outage do not all knock at once.
      const { reconnectMaxMs } = this.deps.config;
      this.reconnectDelay = Math.min(reconnectMaxMs, this.reconnectDelay * 2);
      client.options.reconnectPeriod = Math.round(this.reconnectDelay * (0.75 + Math.random() * 0.5));
    }
  }

  private pump(): void {
    const client = this.client;
    if (!client || this.stopped || this.halted || !this.connected) return;
    if (this.ackRetry === null) this.flushAcks();
    const room = this.eventWindow - this.inFlight.size;
    if (room <= 0) return;
    // Rows the broker acknowledged but the store has not marked yet still read as unpublished: skip them, so a
    // store that refuses writes does not make central receive the same events again and again.
    const unmarked = new Set(this.acked);
    let rows: OutboxRow[];
    try {
      rows = this.deps.outbox.unpublished(this.inFlight.size + unmarked.size + room);
    } catch (err) {
      this.log.error({ err: describeStorageError(err) }, 'could not read the outbox');
      return;
    }
    for (const row of rows) {
      if (this.inFlight.has(row.id) || unmarked.has(row.id)) continue;
      this.send(client, row);
    }
  }

  private send(client: MqttClient, row: OutboxRow): void {
    const check = EventSchema.safeParse(row.payload);
    if (!check.success && !this.invalidLogged.has(row.id)) {
      // Sent anyway (central counts and logs it); holding it back would stop every later event behind it.
      this.invalidLogged.add(row.id);
      this.log.error({ id: row.id, errors: formatIssues(check.error) }, 'outbox event does not match the contract');
    }
    const epoch = this.epoch;
    this.inFlight.add(row.id);
    client.publish(this.topics.events, JSON.stringify(row.payload), { qos: 1, retain: false }, (err) => {
      if (!err) {
        // PUBACK: the broker has it. True whichever connection it came on.
        this.acked.push(row.id);
        this.scheduleAckFlush();
        if (epoch === this.epoch) {
          this.inFlight.delete(row.id);
          this.kick();
        }
        return;
      }
      if (epoch !== this.epoch || this.stopped) return;
      this.inFlight.delete(row.id);
      if (!client.connected) return; // the close handler starts again from the outbox
      this.log.error({ id: row.id, err: err.message }, 'broker refused an event; pausing before sending again');
      this.halted = true;
      if (this.retryTimer === null) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          this.halted = false;
          this.kick();
        }, this.deps.config.reconnectPeriodMs);
      }
    });
  }

  private scheduleAckFlush(): void {
    if (this.ackFlush !== null || this.ackRetry !== null) return;
    this.ackFlush = setImmediate(() => {
      this.ackFlush = null;
      this.flushAcks();
    });
  }

  /** One outbox write for all the PUBACKs of a turn of the loop (the outbox syncs to disk on every write). */
  private flushAcks(): void {
    if (this.acked.length === 0) return;
    const ids = this.acked;
    this.acked = [];
    try {
      this.deps.outbox.markPublished(ids);
      if (this.ackFailures > 0) this.log.info({ count: ids.length }, 'acknowledged events marked published again');
      this.ackFailures = 0;
    } catch (err) {
      this.acked = ids.concat(this.acked);
      this.ackFailures += 1;
      const delay = Math.min(ACK_RETRY_MAX_MS, ACK_RETRY_FIRST_MS * 2 ** Math.min(this.ackFailures - 1, 20));
      // Once, then at each doubling: the storage alarm is the store writer's to raise, this is only the uplink's view.
      if ((this.ackFailures & (this.ackFailures - 1)) === 0) {
        this.log.warn({ count: this.acked.length, retryMs: delay, err: describeStorageError(err) }, 'could not mark acknowledged events published; they are not sent again meanwhile');
      }
      if (!this.stopped) {
        this.ackRetry = setTimeout(() => {
          this.ackRetry = null;
          this.flushAcks();
          this.kick();
        }, delay);
        this.ackRetry.unref();
      }
    }
  }

  private scheduleState(): void {
    if (this.stateTimer !== null || this.stopped) return;
    this.stateTimer = setTimeout(() => {
      this.stateTimer = null;
      this.publishState();
    }, STATE_DEBOUNCE_MS);
  }

  private publishState(): void {
    const client = this.client;
    if (!client || !this.connected) return;
    let state: unknown;
    try {
      state = {
        ...this.deps.state.current(),
        uplink: { connectedAt: this.connectedAt?.toISOString() ?? null, reconnects: this.reconnects },
      };
    } catch (err) {
      this.log.error({ err }, 'could not read the gateway state');
      return;
    }
    const check = GatewayStateSchema.safeParse(state);
    if (!check.success) {
      this.log.error({ errors: formatIssues(check.error) }, 'gateway state does not match the contract; not published');
      return;
    }
    client.publish(this.topics.state, JSON.stringify(check.data), { qos: 1, retain: true });
  }

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    if (this.stopped) return;
    if (topic === this.topics.command) {
      this.commandHandler
        .handle({
          topic,
          payload,
          retain: packet.retain,
          responseTopic: packet.properties?.responseTopic,
          correlationData: packet.properties?.correlationData,
        })
        .then((answer) => this.reply(answer))
        .catch((err: unknown) => this.log.error({ err }, 'command handling failed'));
    } else if (topic === this.topics.policy) {
      this.onPolicy(payload);
    } else if (this.deps.members && topic === this.membersTopic) {
      this.deps.members.receive('announcement', payload);
    } else if (this.deps.members && topic === this.topics.membersChunk) {
      this.deps.members.receive('transfer', payload);
    } else if (this.desk && topic === this.topics.membersChangeReply) {
      this.desk.receive(payload);
    } else {
      this.log.warn({ topic }, 'message on a topic this gateway does not take; ignored');
    }
  }

  /** A member-list request from the sync; false when the link is down (it asks again after the next connect). */
  private publishMembersRequest(payload: Buffer): boolean {
    const client = this.client;
    if (!client?.connected || this.stopped) return false;
    client.publish(this.topics.membersRequest, payload, { qos: 1, retain: false }, (err) => {
      if (err) this.log.warn({ err: err.message }, 'member-list request not accepted by the broker');
    });
    return true;
  }

  /** A desk change (QoS 1): resolves once the broker has it; refused at once on a connection that is down. */
  private publishDeskChange(client: MqttClient, payload: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!client.connected || this.stopped || this.client !== client) {
        reject(new Error('not connected to the broker'));
        return;
      }
      client.publish(this.topics.membersChange, payload, { qos: 1, retain: false }, (err) => (err ? reject(err) : resolve()));
    });
  }

  private reply(answer: CommandAnswer): void {
    const client = this.client;
    if (!client?.connected) {
      this.log.warn({ reply: answer.reply }, 'link down: command reply not sent');
      return;
    }
    const properties = this.deps.config.protocolVersion === 5 && answer.correlationData ? { correlationData: answer.correlationData } : undefined;
    client.publish(answer.topic, JSON.stringify(answer.reply), { qos: 1, retain: false, ...(properties ? { properties } : {}) });
  }

  private onPolicy(payload: Buffer): void {
    if (payload.length === 0) {
      this.log.info('retained policy cleared at the broker; the policy in force stays');
      return;
    }
    // The retained policy comes again on every connect: offer a document once, not on every reconnect.
    const text = payload.toString('latin1');
    if (text === this.lastPolicyText) return;
    this.lastPolicyText = text;
    // Size, encoding and JSON first (a 10 MB or non-UTF-8 payload is refused unread), then central's signature on
    // the JSON as it came: a forged, altered or unsigned policy never reaches the policy in force.
    const json = readJson(payload, MAX_PAYLOAD_BYTES.policy);
    if (!json.ok) {
      this.refusals.refused('policy from central', json.errors.join('; '));
      return;
    }
    const verified = verifyMessage(this.centralKeys, this.topics.policy, json.value);
    if (!verified.ok) {
      this.refusals.refused('policy from central', `signature: ${verified.reason}`);
      return;
    }
    // The document as staff would write it: the signature has done its work.
    const { sig: _sig, ...doc } = json.value as Record<string, unknown>;
    try {
      const result = this.deps.policy.offer(doc, 'central');
      if (result.ok) this.log.info({ version: result.version }, 'policy from central applied');
      else this.log.warn({ errors: result.errors }, 'policy from central refused; the previous policy stays in force');
    } catch (err) {
      this.log.error({ err }, 'policy offer failed');
    }
  }
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** A file the config names, or an error that says which setting and why (it becomes the uplink-failed alarm). */
function readConfigFile(setting: string, path: string): Buffer {
  // Bounded: a path to a FIFO or /dev/zero must fail, not hang the start.
  const read = readFileBytes(path, { what: `${setting} (${path})`, maxBytes: MAX_SECRET_FILE_BYTES });
  if (!read.ok) throw new Error(read.error);
  return Buffer.from(read.bytes);
}

/** A password, a certificate or a CA bundle: a chain of a few certificates is well under this. */
const MAX_SECRET_FILE_BYTES = 1024 * 1024;
