// Every message from the broker goes through here: topic → schema → store → bus. A bad payload is logged with
// what is wrong, counted, and stored nowhere; it never throws. Messages are read with the contract's reader
// schemas, so a gateway of any 1.x version is understood: an alarm, mode or event type this central does not know
// is stored as it came (the dashboard shows it as unknown), a field it does not know is dropped.
import type { Logger } from 'pino';
import { z } from 'zod';
import {
  EVENT_TYPES,
  isKnown,
  MAX_PAYLOAD_BYTES,
  PolicyMessageSchema,
  parseMessage,
  parseTopic,
  ReceivedAvailabilitySchema,
  ReceivedCommandReplySchema,
  ReceivedEventSchema,
  ReceivedKnownEventSchema,
  ReceivedMemberDeskChangeSchema,
  ReceivedStateSchema,
  readJson,
  type ParseResult,
  type ReceivedEvent,
} from '../policies/contract/index.js';
import type { CentralBus } from './bus.js';
import { EventBatcher, type BatchStats } from './history/event-batcher.js';
import type { HistoryStore } from './history/history-store.js';

export interface IngestStats {
  received: number;
  stored: number;
  duplicates: number;
  /** Events stored more than LATE_MS after they happened (an outage at the branch or the broker); counted by their `at`. */
  late: number;
  rejected: number;
  ignored: number;
  /** Messages the store could not take (left unacknowledged for the broker to send again). */
  storeFailures: number;
  /** The last few rejections, newest first, for the operator. */
  lastRejections: Array<{ at: string; topic: string; errors: string[] }>;
}

/** Events committed together (group commit): how many commits, holding how many events. */
export type IngestCommitStats = BatchStats;

export interface IncomingMessage {
  topic: string;
  payload: Buffer;
  retain: boolean;
  correlationData?: Buffer | undefined;
}

const KEEP_REJECTIONS = 20;
/** An event older than this on arrival is late: the figures count it in its own hour all the same. */
export const LATE_MS = 3_600_000;

export class Ingest {
  readonly stats: IngestStats = { received: 0, stored: 0, duplicates: 0, late: 0, rejected: 0, ignored: 0, storeFailures: 0, lastRejections: [] };

  /** The events that arrive while a commit runs go into the next one together (central/history/event-batcher.ts). */
  private readonly events: EventBatcher;

  constructor(
    private readonly deps: { prefix: string; store: HistoryStore; bus: CentralBus; clock: { now(): Date }; logger: Logger },
  ) {
    this.events = new EventBatcher(deps.store);
  }

  /** How the events' commits were grouped (the ingest bench prints it). */
  get commits(): IngestCommitStats {
    return { ...this.events.stats };
  }

  /**
   * Resolves once the message is stored (committed), refused or ignored: then it may be acknowledged to the broker.
   * Rejects only when the store failed (disk full, PostgreSQL away): that message must not be acknowledged, so that
   * the broker delivers it again (central/link.ts). Events handed in while a commit runs are committed together in
   * the next one, each resolving after it; a refused event never joins a batch, a failed commit rejects all of it.
   */
  async handle(msg: IncomingMessage): Promise<void> {
    this.stats.received++;
    try {
      await this.route(msg);
    } catch (err) {
      this.stats.storeFailures++;
      // The link says it once per outage; the bus makes it an incident (central/main.ts), cleared by the next write.
      this.deps.logger.debug({ topic: msg.topic, err: (err as Error).message }, 'message not stored: the store failed');
      if (this.storeFailing === null) {
        this.storeFailing = { since: this.deps.clock.now().toISOString(), error: (err as Error).message };
        this.deps.bus.emit('store', { ok: false, error: this.storeFailing.error });
      }
      throw err;
    }
    if (this.storeFailing !== null) {
      this.storeFailing = null;
      this.deps.bus.emit('store', { ok: true });
    }
  }

  /** Since when and why the store fails messages, while it does (null once a message is handled again). */
  private storeFailing: { since: string; error: string } | null = null;

  storeProblem(): { since: string; error: string } | null {
    return this.storeFailing;
  }

  private async route(msg: IncomingMessage): Promise<void> {
    const { store, bus, clock } = this.deps;
    const where = parseTopic(this.deps.prefix, msg.topic);
    if (!where) return this.reject(msg.topic, ['(topic): not a contract topic']);
    const now = clock.now();
    const { site } = where;
    switch (where.kind) {
      case 'availability': {
        if (msg.payload.length === 0) return this.ignore();
        const m = parseMessage(ReceivedAvailabilitySchema, msg.payload);
        if (!m.ok) return this.reject(msg.topic, m.errors);
        const online = m.value.state === 'online';
        // `online` says when that connection began; a will's `offline` is only known when it arrives.
        const at = online || msg.retain ? new Date(Math.min(Date.parse(m.value.at), now.getTime())) : now;
        await store.setAvailability(site, online, at);
        this.stats.stored++;
        bus.emit('site', site);
        return;
      }
      case 'state': {
        if (msg.payload.length === 0) return this.ignore();
        const m = parseMessage(ReceivedStateSchema, msg.payload);
        if (!m.ok) return this.reject(msg.topic, m.errors);
        if (m.value.site !== site) return this.reject(msg.topic, [`site: "${m.value.site}" does not match the topic's site "${site}"`]);
        await store.setState(m.value, now);
        this.stats.stored++;
        bus.emit('site', site);
        return;
      }
      case 'events': {
        const m = readEvent(msg.payload);
        if (!m.ok) return this.reject(msg.topic, m.errors);
        if (m.value.site !== site) return this.reject(msg.topic, [`site: "${m.value.site}" does not match the topic's site "${site}"`]);
        if (await this.events.insert(m.value, now)) {
          this.stats.stored++;
          // Debug only: after an outage every event of it is late, and the count is in the stats.
          if (now.getTime() - Date.parse(m.value.at) > LATE_MS) {
            this.stats.late++;
            this.deps.logger.debug({ site, id: m.value.id, at: m.value.at }, 'late event stored: counted at the time it happened');
          }
          bus.emit('event', m.value);
        } else {
          this.stats.duplicates++;
          this.deps.logger.debug({ site, id: m.value.id }, 'event already stored: a resend, counted once');
        }
        return;
      }
      case 'policy': {
        // Central's own retained publications come back here. Central's sequence is what it published (the API),
        // never what the broker holds: a policy there that central did not publish is a forgery or a leftover, and
        // is refused with the reason, so it shows in the stats and the log.
        if (msg.payload.length === 0) return this.ignore();
        const m = parseMessage(PolicyMessageSchema, msg.payload);
        if (!m.ok) return this.reject(msg.topic, m.errors);
        const mismatch = notPublishedByCentral(await store.policy(site), m.value);
        if (mismatch !== undefined) return this.reject(msg.topic, [mismatch]);
        return this.ignore();
      }
      case 'command/reply': {
        const m = parseMessage(ReceivedCommandReplySchema, msg.payload);
        if (!m.ok) return this.reject(msg.topic, m.errors);
        bus.emit('reply', { site, reply: m.value, correlation: msg.correlationData?.toString('utf8') ?? null });
        return;
      }
      case 'command':
        return this.ignore(); // central's own commands, echoed by the broker
      case 'members/request':
        bus.emit('members-request', { site, payload: msg.payload });
        return;
      case 'members/chunk':
        return this.ignore(); // central's own chunks (not subscribed to; an older session might still bring them)
      case 'members/change': {
        // A change staff made at the branch's desk: the member service answers it, and a malformed one it can name.
        const m = parseMessage(ReceivedMemberDeskChangeSchema, msg.payload);
        if (m.ok) {
          bus.emit('members-change', { site, arrival: { change: m.value } });
          return;
        }
        this.reject(msg.topic, m.errors);
        const id = readChangeId(msg.payload);
        if (id !== null) bus.emit('members-change', { site, arrival: { id, errors: m.errors } });
        return;
      }
      case 'members/change/reply':
        return this.ignore(); // central's own answers
    }
  }

  private ignore(): void {
    this.stats.ignored++;
  }

  private reject(topic: string, errors: string[]): void {
    this.stats.rejected++;
    this.stats.lastRejections.unshift({ at: this.deps.clock.now().toISOString(), topic, errors });
    this.stats.lastRejections.length = Math.min(this.stats.lastRejections.length, KEEP_REJECTIONS);
    this.deps.logger.warn({ topic, errors }, 'message refused: does not match the contract');
  }
}

const TypeOnly = z.object({ type: z.string() });
const IdOnly = z.object({ id: z.uuid() });

/** The id of a desk change that did not parse, when it has a readable one (the refusal must name it to reach anyone). */
function readChangeId(payload: Buffer): string | null {
  const json = readJson(payload, MAX_PAYLOAD_BYTES['members/change']);
  if (!json.ok) return null;
  const read = IdOnly.safeParse(json.value);
  return read.success ? read.data.id : null;
}

/**
 * An `events` payload. When the reader's union of known and unknown types refuses it, an event of a known type is
 * refused with its own schema's errors (`inside: required`), which the union alone cannot name.
 */
function readEvent(payload: Buffer): ParseResult<ReceivedEvent> {
  const read = parseMessage(ReceivedEventSchema, payload);
  if (read.ok) return read;
  const limit = { maxBytes: MAX_PAYLOAD_BYTES.events };
  const peek = parseMessage(TypeOnly, payload, limit);
  if (!peek.ok || !isKnown(EVENT_TYPES, peek.value.type)) return read;
  return parseMessage(ReceivedKnownEventSchema, payload, limit);
}

/** Why a retained policy is not the one central published for the site, or undefined when it is. */
function notPublishedByCentral(published: { version: number; doc: unknown } | null, held: { version: number }): string | undefined {
  if (published === null) return `version: ${held.version} is not a version central published (none for this site)`;
  if (held.version !== published.version) return `version: ${held.version} is not the version central published (${published.version})`;
  // Central's signature, when the message carries one, is not part of what was published.
  const { sig: _sig, ...content } = held as { sig?: unknown };
  const parsed = PolicyMessageSchema.safeParse(published.doc);
  if (!parsed.success || JSON.stringify(parsed.data) !== JSON.stringify(content)) {
    return `(root): version ${held.version} holds other content than the version central published`;
  }
  return undefined;
}
