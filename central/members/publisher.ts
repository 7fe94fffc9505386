// Central's side of the member-list protocol over MQTT: the retained announcement of the current version, and
// the answers to each branch's pull (a window of chunks of a delta or a snapshot, or a refusal saying why).
// Stateless per transfer: every request names its version, kind, base and chunks, so a branch that restarted,
// or lost its link, just asks again for what it lacks.
import type { Logger } from 'pino';
import { z } from 'zod';
import {
  MEMBER_REQUEST_MAX_AGE_MS,
  MembersAnnouncementSchema,
  MembersChunkSchema,
  MembersRefusalSchema,
  ReceivedMembersRequestSchema,
  membersCurrentTopic,
  parseMessage,
  topics,
  type MembersAnnouncement,
  type MembersChunk,
  type MembersRefusal,
  type MembersRequest,
} from '../../policies/contract/index.js';
import { chunkHash, snapshotChunkCount } from '../../policies/member-list.js';
import { signedPayload, type CentralSigningKey } from '../signing-key.js';
import type { CentralMemberStore, MemberVersion } from './member-store.js';

export interface MembersLink {
  readonly connected: boolean;
  publish(topic: string, payload: Buffer, options: { retain: boolean }): Promise<void>;
}

/** Tests only: look at (or spoil, or drop with null) each chunk before it goes out. */
export interface PublisherHooks {
  chunk?(chunk: MembersChunk, site: string): MembersChunk | null;
}

/** What central last saw of a branch's pull, for the dashboard. */
export interface TransferView {
  transfer: string;
  kind: 'delta' | 'snapshot' | null;
  version: number;
  total: number | null;
  /** Chunks sent so far in this transfer (the highest index sent + 1). */
  sent: number;
  requests: number;
  lastRequestAt: string;
  refused: string | null;
}

interface CachedChunk {
  entries: string[];
  hash: string;
}

const DELTA_CACHE = 4;
const CHUNK_CACHE = 64;

/** A small least-recently-used map: many branches pull the same chunks and deltas one after the other. */
class Lru<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly size: number) {}
  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: string, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.size) this.map.delete(this.map.keys().next().value!);
  }
  clear(): void {
    this.map.clear();
  }
}

export class MembersPublisher {
  private readonly deltas = new Lru<CachedChunk[]>(DELTA_CACHE);
  private readonly chunks = new Lru<CachedChunk>(CHUNK_CACHE);
  private readonly views = new Map<string, TransferView>();
  private announced: MembersAnnouncement | null = null;
  private cacheVersion = 0;
  readonly stats = { requests: 0, chunksSent: 0, bytesSent: 0, refusals: 0, ignored: 0 };

  constructor(
    private readonly deps: {
      members: CentralMemberStore;
      prefix: string;
      keyId: string;
      chunkSize: number;
      link: MembersLink;
      /** Every announcement, chunk and refusal goes out signed with it: branches take nothing else. */
      signingKey: CentralSigningKey;
      clock: { now(): Date };
      logger: Logger;
      hooks?: PublisherHooks | undefined;
    },
  ) {}

  /** The announcement last published (null before the first, or without a list). */
  get lastAnnouncement(): MembersAnnouncement | null {
    return this.announced;
  }

  transfers(): ReadonlyMap<string, TransferView> {
    return this.views;
  }

  /** Publishes the current version, retained. Returns it, or null when there is no list (or no link). */
  async announce(): Promise<MembersAnnouncement | null> {
    const current = await this.deps.members.current();
    if (current === null || !this.deps.link.connected) return null;
    if (current.keyId !== this.deps.keyId) {
      this.deps.logger.error({ listKeyId: current.keyId, keyId: this.deps.keyId }, 'the member list was made with another deployment key: import the LMS export again; not announced');
      return null;
    }
    const announcement = MembersAnnouncementSchema.parse({
      version: current.version,
      count: current.count,
      hash: current.hash,
      keyId: current.keyId,
      at: this.deps.clock.now().toISOString(),
      createdAt: current.createdAt,
      chunkSize: this.deps.chunkSize,
      deltasFrom: await this.deps.members.deltasFrom(),
    });
    const topic = membersCurrentTopic(this.deps.prefix);
    await this.deps.link.publish(topic, signedPayload(this.deps.signingKey, topic, announcement), { retain: true });
    if (this.announced?.version !== announcement.version) {
      this.deps.logger.info({ version: announcement.version, count: announcement.count }, 'member list announced');
    }
    this.announced = announcement;
    return announcement;
  }

  /** A branch's request (from `sites/{site}/members/request`). Never throws: a bad request is logged and refused. */
  async handleRequest(site: string, payload: Buffer): Promise<void> {
    this.stats.requests++;
    const parsed = parseMessage(ReceivedMembersRequestSchema, payload);
    if (!parsed.ok) {
      this.stats.ignored++;
      this.deps.logger.warn({ site, errors: parsed.errors }, 'member-list request refused: does not match the contract');
      const transfer = readTransferId(payload);
      if (transfer !== null) await this.refuse(site, transfer, 'bad-request', parsed.errors.join('; ').slice(0, 500));
      return;
    }
    const req = parsed.value;
    const age = Math.abs(this.deps.clock.now().getTime() - Date.parse(req.at));
    if (age > MEMBER_REQUEST_MAX_AGE_MS) {
      // Queued by the broker while central was away: the branch has asked again since, or will.
      this.stats.ignored++;
      this.deps.logger.debug({ site, at: req.at }, 'stale member-list request ignored');
      return;
    }
    try {
      await this.answer(site, req);
    } catch (err) {
      this.deps.logger.error({ err, site }, 'member-list request failed');
    }
  }

  private async answer(site: string, req: MembersRequest): Promise<void> {
    const { members, keyId } = this.deps;
    const view = this.view(site, req);
    if (req.keyId !== keyId) {
      return this.refuse(site, req.transfer, 'key-mismatch', `the branch's deployment key (id ${req.keyId}) is not central's (id ${keyId})`, view);
    }
    const current = await members.current();
    if (current === null || current.keyId !== keyId) return this.refuse(site, req.transfer, 'unavailable', 'central has no member list yet', view);
    if (req.version > current.version) {
      return this.refuse(site, req.transfer, 'unknown-version', `version ${req.version} does not exist; the current one is ${current.version}`, view);
    }
    let kind: 'delta' | 'snapshot';
    if (req.kind === 'snapshot') {
      kind = 'snapshot';
    } else if (req.version !== current.version) {
      return this.refuse(site, req.transfer, 'superseded', `version ${req.version} is superseded by ${current.version}`, view);
    } else if (await members.canDelta(req.base)) {
      kind = 'delta';
    } else if (req.kind === 'delta') {
      return this.refuse(site, req.transfer, 'superseded', `no delta from version ${req.base?.version ?? 'none'} to ${current.version}`, view);
    } else {
      kind = 'snapshot';
    }
    const target = req.version === current.version ? current : await members.version(req.version);
    if (target === null) return this.refuse(site, req.transfer, 'superseded', `version ${req.version} is no longer kept`, view);

    const parts = kind === 'delta' ? await this.delta(req.base!.version, current) : null;
    const total = parts !== null ? parts.length : snapshotChunkCount(target.count, this.deps.chunkSize);
    view.kind = kind;
    view.total = total;
    if (req.from >= total) return this.refuse(site, req.transfer, 'bad-request', `chunk ${req.from} does not exist (${total} chunks)`, view);
    const t = topics(this.deps.prefix, site);
    const sends: Array<Promise<void>> = [];
    for (let index = req.from; index < Math.min(total, req.from + req.count); index++) {
      const chunk = parts !== null ? parts[index]! : await this.snapshotChunk(target, index, total);
      if (chunk === null) {
        // A card in this range changed since: the branch must start again from the current version.
        await Promise.all(sends);
        return this.refuse(site, req.transfer, 'superseded', `version ${target.version} is superseded by ${current.version}`, view);
      }
      let message: MembersChunk | null = MembersChunkSchema.parse({
        type: 'chunk',
        transfer: req.transfer,
        version: target.version,
        keyId: target.keyId,
        kind,
        base: kind === 'delta' ? req.base!.version : null,
        count: target.count,
        hash: target.hash,
        index,
        total,
        chunkHash: chunk.hash,
        entries: chunk.entries,
      });
      if (this.deps.hooks?.chunk) message = this.deps.hooks.chunk(message, site);
      if (message === null) continue;
      // Signed over the branch's transfer id too: a chunk recorded from another transfer is refused there.
      const payload = signedPayload(this.deps.signingKey, t.membersChunk, message);
      this.stats.chunksSent++;
      this.stats.bytesSent += payload.length;
      view.sent = Math.max(view.sent, index + 1);
      sends.push(this.deps.link.publish(t.membersChunk, payload, { retain: false }));
    }
    await Promise.all(sends);
  }

  private view(site: string, req: MembersRequest): TransferView {
    let view = this.views.get(site);
    if (view === undefined || view.transfer !== req.transfer) {
      view = { transfer: req.transfer, kind: null, version: req.version, total: null, sent: 0, requests: 0, lastRequestAt: '', refused: null };
      this.views.set(site, view);
    }
    view.requests++;
    view.lastRequestAt = this.deps.clock.now().toISOString();
    view.refused = null;
    return view;
  }

  private async refuse(site: string, transfer: string, reason: MembersRefusal['reason'], message: string, view?: TransferView): Promise<void> {
    this.stats.refusals++;
    if (view) view.refused = reason;
    this.deps.logger.info({ site, reason, message }, 'member-list request refused');
    const refusal = MembersRefusalSchema.parse({ type: 'refused', transfer, reason, message, current: (await this.deps.members.current())?.version ?? null });
    const topic = topics(this.deps.prefix, site).membersChunk;
    await this.deps.link.publish(topic, signedPayload(this.deps.signingKey, topic, refusal), { retain: false });
  }

  private invalidateWhenNewer(current: MemberVersion): void {
    if (current.version === this.cacheVersion) return;
    this.cacheVersion = current.version;
    this.deltas.clear();
  }

  /** The delta from `base` to the current version, cut into chunks (computed once per base). */
  private async delta(base: number, current: MemberVersion): Promise<CachedChunk[]> {
    this.invalidateWhenNewer(current);
    const key = `${base}:${current.version}`;
    let parts = this.deltas.get(key);
    if (parts === undefined) {
      const entries = await this.deps.members.deltaEntries(base);
      parts = [];
      for (let i = 0; i === 0 || i < entries.length; i += this.deps.chunkSize) {
        const slice = entries.slice(i, i + this.deps.chunkSize);
        parts.push({ entries: slice, hash: chunkHash(slice) });
      }
      this.deltas.set(key, parts);
    }
    return parts;
  }

  private async snapshotChunk(version: MemberVersion, index: number, total: number): Promise<CachedChunk | null> {
    const key = `${version.version}:${total}:${index}`;
    // What chunk `index` of `total` of a version holds never changes, so a cached one stays good after that version
    // is superseded (the store could no longer make it once a card in its range changed).
    const cached = this.chunks.get(key);
    if (cached !== undefined) return cached;
    const entries = await this.deps.members.snapshotEntries(version.version, index, total);
    if (entries === null) return null;
    const chunk = { entries, hash: chunkHash(entries) };
    this.chunks.set(key, chunk);
    return chunk;
  }
}

function readTransferId(payload: Buffer): string | null {
  try {
    const t = (JSON.parse(payload.toString('utf8')) as { transfer?: unknown }).transfer;
    return z.uuid().safeParse(t).success ? (t as string) : null;
  } catch {
    return null;
  }
}
