// The topics the gateway subscribes to, fed malformed messages through the real broker: commands, policies, the
// member-list announcement and member-list chunks. The fuzzer signs in as central (the only user the ACL lets
// write there). Every command gets a reply, which makes a barrier: once the reply to a marker command has come
// back, every message sent before it has been handled (one connection, one session, in order).
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from 'mqtt';
import type { MqttClient } from 'mqtt';
import { parsePolicy } from '../../policies/index.js';
import { MembersAnnouncementSchema, MembersTransferSchema, membersCurrentTopic, topics as siteTopics } from '../../policies/contract/index.js';
import { EMPTY_LIST_HASH } from '../../policies/member-list.js';
import type { Rng } from './mutate.js';
import { malformedJson } from './mutate.js';

export interface MqttTarget {
  url: string;
  username: string;
  password: string;
  tls: { ca: string; cert: string; key: string };
  site: string;
  /** The gateway's deployment key id, so that a template announcement gets past the key check. */
  keyId: string;
  /** The member list the gateway holds (version, count, hash): a template that confirms it. */
  list: { version: number; count: number; hash: string };
}

export interface TopicSurface {
  name: 'command' | 'policy' | 'members/current' | 'members/chunk';
  topic: string;
  /** A valid-looking example (one the gateway refuses or ignores as it stands: stale, not newer, unknown transfer). */
  example(): unknown;
  /** True when the gateway would accept this message as it is (so it is not malformed). */
  accepts(payload: Buffer): boolean;
}

function parsed(payload: Buffer): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload)) as unknown;
  } catch {
    return undefined;
  }
}

export function topicSurfaces(target: MqttTarget): TopicSurface[] {
  const t = siteTopics('oa/v1', target.site);
  const policy = {
    version: 1,
    site: target.site,
    schedule: { weekly: Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, [{ from: '00:00', to: '24:00', mode: 'open-access' }]])) },
  };
  return [
    {
      name: 'command',
      topic: t.command,
      // Dated years ago: refused as stale even when a mutation leaves it valid (a fresh one would run).
      example: () => ({ id: randomUUID(), at: '2020-01-01T00:00:00.000Z', command: 'lights-on', actor: 'soak' }),
      accepts: () => false,
    },
    {
      name: 'policy',
      topic: t.policy,
      // Version 1 is in force: the example is refused as not newer; a mutation that makes it newer and valid is skipped.
      example: () => policy,
      accepts: (payload) => {
        const doc = parsed(payload) as { version?: unknown; site?: unknown } | undefined;
        if (doc === undefined) return false;
        const result = parsePolicy(doc);
        return result.ok && result.policy.site === target.site && result.policy.version > 1;
      },
    },
    {
      name: 'members/current',
      topic: membersCurrentTopic('oa/v1'),
      example: () => ({
        version: target.list.version,
        count: target.list.count,
        hash: target.list.hash,
        keyId: target.keyId,
        at: new Date().toISOString(),
        createdAt: '2026-01-01T00:00:00.000Z',
        chunkSize: 5000,
        deltasFrom: 1,
      }),
      accepts: (payload) => MembersAnnouncementSchema.safeParse(parsed(payload)).success,
    },
    {
      name: 'members/chunk',
      topic: t.membersChunk,
      example: () => ({
        type: 'chunk',
        transfer: randomUUID(),
        version: target.list.version + 1,
        keyId: target.keyId,
        kind: 'snapshot',
        base: null,
        count: 0,
        hash: EMPTY_LIST_HASH,
        index: 0,
        total: 1,
        chunkHash: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
        entries: [],
      }),
      accepts: (payload) => MembersTransferSchema.safeParse(parsed(payload)).success,
    },
  ];
}

export class MqttFuzzer {
  private client: MqttClient | undefined;
  private readonly replies = new Map<string, () => void>();
  repliesSeen = 0;

  constructor(private readonly target: MqttTarget) {}

  get replyTopic(): string {
    return siteTopics('oa/v1', this.target.site).commandReply;
  }

  async connect(): Promise<void> {
    const { tls } = this.target;
    const client = connect(this.target.url, {
      protocolVersion: 5,
      clientId: `soak-fuzzer-${process.pid}`,
      username: this.target.username,
      password: this.target.password,
      ca: readFileSync(tls.ca),
      cert: readFileSync(tls.cert),
      key: readFileSync(tls.key),
      reconnectPeriod: 200,
    });
    this.client = client;
    client.on('message', (_topic, _payload, packet) => {
      this.repliesSeen += 1;
      const key = packet.properties?.correlationData?.toString('hex');
      if (key !== undefined) this.replies.get(key)?.();
    });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    await client.subscribeAsync(this.replyTopic, { qos: 1 });
  }

  /** Publishes one message and resolves when the broker has it (PUBACK). */
  async publish(topic: string, payload: Buffer): Promise<void> {
    const correlationData = randomBytes(8);
    await this.client!.publishAsync(topic, payload, {
      qos: 1,
      properties: topic.endsWith('/command') ? { responseTopic: this.replyTopic, correlationData } : {},
    });
  }

  /** A marker command; resolves true once the gateway answered it (everything sent before has been handled). */
  async barrier(site: string, timeoutMs: number): Promise<boolean> {
    const correlationData = randomBytes(8);
    const answered = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.replies.set(correlationData.toString('hex'), () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    await this.client!.publishAsync(siteTopics('oa/v1', site).command, Buffer.from('{"barrier":true}'), {
      qos: 1,
      properties: { responseTopic: this.replyTopic, correlationData },
    });
    const result = await answered;
    this.replies.delete(correlationData.toString('hex'));
    return result;
  }

  async close(): Promise<void> {
    await this.client?.endAsync(true);
  }
}

/** One malformed message for a topic, with the strategy that made it; undefined when it came out valid. */
export function malformedMessage(rng: Rng, surface: TopicSurface): { strategy: string; bytes: Buffer } | undefined {
  // The payload limits are a few hundred kB: most inputs stay under, some go over.
  const made = malformedJson(rng, surface.example(), 512 * 1024);
  if (surface.accepts(made.bytes)) return undefined;
  return made;
}
