// The durable notification outbox: the planner (incidents, rules, rota) asks "send this to this person over this
// channel, for this incident, escalation step and repeat"; the row is in SQLite before the call returns, and a worker sends
// it: bounded concurrency in all and per channel, exponential backoff with jitter between attempts, given up after
// N attempts or a maximum age and then marked failed with the last reason. A row is claimed (`sending`) before its
// send starts; one a crash left `sending` is sent again at the next start: at least once to the channel, recorded
// once. Receivers can drop the rare repeat by its delivery id (X-OAG-Delivery, the e-mail's Message-ID).
//
// Secrets and personal numbers: central's planner queues rows without a link, and the links module issues one just
// before each e-mail or SMS goes (`links`), so the link is never in this table. A caller that brings its own
// (`ackLink`) has it kept only until the row is delivered, failed or cancelled (then NULL, in the same statement).
// Either way it is never logged and is cut out of any reason a far end echoes back. Text that looks like a card
// number (8 or more digits in a row, or 4-digit groups) is masked before it is stored: alarm texts carry
// pseudonyms, and this keeps a slip from reaching a phone.
import { createHash } from 'node:crypto';
import type { Database as Db } from 'better-sqlite3';
import type { Logger } from 'pino';
import { z } from 'zod';
import { validate } from '../../policies/errors.js';
import { ChannelNameSchema, OutboxConfigSchema, type OutboxConfig } from './channels-config.js';
import { DeliveryError, MESSAGE_SEVERITIES, shortText, type Channel, type Clock, type OutgoingMessage } from './channels/types.js';
import { OutboxStore, type NewRow, type OutboxRow, type OutboxState, type SendingRow } from './outbox-store.js';

export type { OutboxRow, OutboxState } from './outbox-store.js';

/** Timers the worker sleeps on; tests pass fake ones and move time themselves. */
export interface OutboxTimer {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export const systemTimer: OutboxTimer = {
  set(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clear(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

/**
 * Called synchronously, inside the transaction that records the outcome, so that what a hook writes (the incident
 * marked notified, a `channel-failed` incident) commits with it. A hook that throws is logged and its writes are
 * rolled back; the outcome is recorded all the same.
 */
export interface OutboxHooks {
  onDelivered?(row: OutboxRow): void;
  /** Given up: a permanent refusal, too many attempts, or too old. `row.lastError` says why. */
  onFailed?(row: OutboxRow): void;
  /** A channel starts failing (after `failuresBeforeUnhealthy` failures in a row) or works again. */
  onChannelHealth?(channel: string, ok: boolean, reason: string): void;
}

// eslint-disable-next-line no-control-regex
const oneLine = (max: number) => z.string().min(1).max(max).regex(/^[^\u0000-\u001f\u007f]*$/, { error: 'must be one line of text' });

export const NotificationRequestSchema = z.strictObject({
  incidentId: z.string().min(1).max(64).regex(/^[A-Za-z0-9._:-]+$/, { error: 'must be letters, digits and . _ : -' }),
  /** Escalation step (0 = the first people told). */
  step: z.int().min(0).max(100_000),
  /** 0 for the step's first message, 1… for each reminder. */
  repeat: z.int().min(0).max(1_000_000).default(0),
  channel: ChannelNameSchema,
  recipient: z.strictObject({
    /** The contact's name in the rules. */
    id: oneLine(100),
    name: oneLine(100).optional(),
    address: z.string().min(1).max(320),
  }),
  severity: z.enum(MESSAGE_SEVERITIES).optional(),
  subject: oneLine(200),
  text: z.string().min(1).max(4000),
  /** The recipient's one-time link (e-mail and SMS): kept only until the row is delivered. */
  ackLink: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2048).optional(),
  details: z
    .record(z.string().min(1).max(64), z.union([z.string().max(500), z.number(), z.boolean(), z.null()]))
    .refine((d) => Object.keys(d).length <= 32, { error: 'at most 32 entries' })
    .optional(),
});
export type NotificationRequest = z.input<typeof NotificationRequestSchema>;

export interface EnqueueResult {
  id: number;
  /** False when the same (incident, step, recipient, channel) was asked for before: that row stands. */
  created: boolean;
}

export class OutboxInputError extends Error {
  constructor(readonly errors: string[]) {
    super(`alert outbox: refused, nothing queued\n${errors.map((e) => `  ${e}`).join('\n')}`);
    this.name = 'OutboxInputError';
  }
}

export interface ChannelHealth {
  channel: string;
  kind: Channel['kind'];
  ok: boolean;
  /** Since when it has been failing or working; null when it has never failed. */
  since: Date | null;
  reason: string | null;
  /** Messages pending or being sent on it. */
  waiting: number;
}

export interface OutboxOptions {
  db: Db;
  channels: ReadonlyMap<string, Channel>;
  clock: Clock;
  logger: Logger;
  config?: z.input<typeof OutboxConfigSchema> | undefined;
  hooks?: OutboxHooks | undefined;
  timer?: OutboxTimer | undefined;
  /** For the jitter; tests pass a fixed one. */
  random?: (() => number) | undefined;
  /**
   * Issues the recipient's acknowledgement link just before each e-mail or SMS is sent, for rows queued without
   * one: the link then exists only in the message (central/alerts/ack-links.ts keeps its hash).
   */
  links?: OutboxLinks | undefined;
}

export interface OutboxLinks {
  linkFor(row: OutboxRow, at: Date): string | undefined;
}

const MAX_BATCH = 1000;
/** The longest the worker sleeps without looking at the queue (a clock step, a row written by another path). */
const MAX_SLEEP_MS = 60_000;
const NUMBER_LIKE = /\b(?:\d{8,}|\d{4}(?: \d{4}){2,}(?: \d{1,4})?)\b/g;

/** A card or account number has no place in an alert: masked, as the text may end up on a phone's lock screen. */
export function maskNumbers(text: string): string {
  return text.replace(NUMBER_LIKE, '[number removed]');
}

/** The link, and the long parts of it a far end might echo back encoded, replaced by `[link]`. */
export function redactLink(text: string, link: string | undefined): string {
  if (link === undefined) return text;
  const parts = new Set([link, encodeURIComponent(link), JSON.stringify(link).slice(1, -1)]);
  try {
    const url = new URL(link);
    for (const segment of url.pathname.split('/')) if (segment.length >= 16) parts.add(segment);
    for (const value of url.searchParams.values()) if (value.length >= 16) parts.add(value);
  } catch {
    // Validated as a URL at enqueue; nothing more to find if it were not.
  }
  let out = text;
  for (const part of [...parts].sort((a, b) => b.length - a.length)) out = out.split(part).join('[link]');
  return out;
}

/** The same for every attempt of a row, and after a restart. */
export function deliveryId(row: { incidentId: string; step: number; repeat: number; recipientId: string; channel: string }): string {
  return createHash('sha256').update(`${row.incidentId}\n${row.step}\n${row.repeat}\n${row.recipientId}\n${row.channel}`).digest('hex').slice(0, 32);
}

/** Attempt n (from 1) failed: wait base·2^(n−1), capped, shortened by up to `jitter` of itself at random. */
export function retryDelayMs(attempts: number, config: Pick<OutboxConfig, 'baseDelayMs' | 'maxDelayMs' | 'jitter'>, random: () => number): number {
  const full = Math.min(config.maxDelayMs, config.baseDelayMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(full * (1 - config.jitter * random()));
}

export class Outbox {
  readonly store: OutboxStore;
  private readonly config: OutboxConfig;
  private readonly db: Db;
  private readonly channels: ReadonlyMap<string, Channel>;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly hooks: OutboxHooks;
  private readonly timer: OutboxTimer;
  private readonly random: () => number;
  private readonly links: OutboxLinks | undefined;
  private started = false;
  private stopped = false;
  private kickQueued = false;
  private wake: { at: number; handle: unknown } | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly busy = new Map<string, number>();
  private readonly health = new Map<string, { ok: boolean; failures: number }>();

  constructor(options: OutboxOptions) {
    const config = validate(OutboxConfigSchema, options.config ?? {});
    if (!config.ok) throw new OutboxInputError(config.errors.map((e) => `outbox.${e}`));
    this.config = config.value;
    this.db = options.db;
    this.channels = options.channels;
    this.clock = options.clock;
    this.logger = options.logger;
    this.hooks = options.hooks ?? {};
    this.timer = options.timer ?? systemTimer;
    this.random = options.random ?? Math.random;
    this.links = options.links;
    this.store = new OutboxStore(options.db);
  }

  /** Resumes what a previous run left `sending`, then sends whatever is due. */
  start(): void {
    if (this.started) return;
    this.started = true;
    const now = this.now();
    const resumed = this.store.resumeSending(now);
    if (resumed > 0) this.logger.warn({ resumed }, 'alert outbox: messages the last run was sending are sent again (at least once)');
    for (const h of this.store.health()) this.health.set(h.channel, { ok: h.ok, failures: 0 });
    this.pump();
  }

  /** Stops taking rows and waits for the sends under way; what is left is sent after the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clearWake();
    await Promise.allSettled([...this.inFlight]);
  }

  /**
   * Queues one notification or several, all or none: a bad one is refused with every problem named
   * (`[1].recipient.address: must be an e-mail address`) and nothing is queued. Synchronous, so a planner can call
   * it inside its own transaction; sending starts after that returns.
   */
  enqueue(input: NotificationRequest | readonly NotificationRequest[]): EnqueueResult[] {
    const many = Array.isArray(input);
    const checked = this.check(many ? (input as readonly unknown[]) : [input], many);
    if (checked.problems.length > 0) throw new OutboxInputError(checked.problems);
    return this.insert(checked.rows);
  }

  /**
   * The planner's way in (central/alerts/outbox-sink.ts): a request this outbox cannot send (its channel is not
   * configured, it refuses the address) is recorded as failed at once, with the reason, and reported through
   * onFailed, while the others go out; one contact's typo must not keep the rest of the rota from being told. A
   * request that is malformed (a bug, not a configuration) is still refused whole.
   */
  accept(input: readonly NotificationRequest[]): EnqueueResult[] {
    const checked = this.check(input, true);
    if (checked.malformed.length > 0) throw new OutboxInputError(checked.malformed);
    return this.insert(checked.rows);
  }

  /** The incident was acknowledged or cleared: what is still pending for it is not sent. Returns how many. */
  cancel(incidentId: string, reason = 'not needed any more: the incident was acknowledged'): number {
    const n = this.store.cancel(incidentId, this.now(), shortText(reason));
    if (n > 0) this.logger.info({ incident: incidentId, cancelled: n }, 'alert outbox: pending messages cancelled');
    return n;
  }

  get(id: number): OutboxRow | undefined {
    return this.store.get(id);
  }

  /** Every message for an incident, for its history on the dashboard. */
  forIncident(incidentId: string): OutboxRow[] {
    return this.store.forIncident(incidentId);
  }

  counts(): Record<OutboxState, number> {
    return this.store.counts();
  }

  /** Each configured channel: working or failing since when and why, and what waits on it. */
  channelHealth(): ChannelHealth[] {
    const saved = new Map(this.store.health().map((h) => [h.channel, h]));
    const waiting = this.store.waitingByChannel();
    return [...this.channels.values()].map((c) => {
      const h = saved.get(c.name);
      return { channel: c.name, kind: c.kind, ok: h?.ok ?? true, since: h?.since ?? null, reason: h?.reason ?? null, waiting: waiting.get(c.name) ?? 0 };
    });
  }

  /** Central's retention: finished rows older than this are deleted. */
  purgeFinishedBefore(before: Date): number {
    return this.store.purgeFinishedBefore(before.getTime());
  }

  /** Resolves when nothing is being sent and nothing is due now (tests; an orderly stop). */
  async idle(): Promise<void> {
    for (;;) {
      // Let a queued kick claim what was just enqueued.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.inFlight.size === 0) return;
      await Promise.allSettled([...this.inFlight]);
    }
  }

  /** `problems` is every one, in order; `malformed` those that are not about this outbox's channels. */
  private check(list: readonly unknown[], many: boolean): { problems: string[]; malformed: string[]; rows: Array<{ row: NewRow; refused: string[] }> } {
    if (list.length > MAX_BATCH) {
      const tooMany = [`(root): at most ${MAX_BATCH} notifications at once (got ${list.length})`];
      return { problems: tooMany, malformed: tooMany, rows: [] };
    }
    const problems: string[] = [];
    const malformed: string[] = [];
    const rows: Array<{ row: NewRow; refused: string[] }> = [];
    list.forEach((raw, i) => {
      const at = many ? `[${i}].` : '';
      const parsed = validate(NotificationRequestSchema, raw);
      if (!parsed.ok) {
        const lines = parsed.errors.map((e) => `${at}${e}`);
        malformed.push(...lines);
        problems.push(...lines);
        return;
      }
      const r = parsed.value;
      const refused: string[] = [];
      const channel = this.channels.get(r.channel);
      if (channel === undefined) {
        const names = [...this.channels.keys()];
        refused.push(`channel: no channel named "${r.channel}" is configured (${names.length === 0 ? 'none is' : `configured: ${names.join(', ')}`})`);
      } else {
        const address = channel.checkAddress(r.recipient.address);
        if (!address.ok) refused.push(`recipient.address: ${address.error} (channel ${r.channel} is ${channel.kind})`);
        if (r.ackLink !== undefined && channel.kind === 'webhook') refused.push('ackLink: a webhook goes to a shared room, not to one person: it carries no personal link');
      }
      if (r.ackLink !== undefined) {
        for (const field of ['subject', 'text'] as const) {
          if (redactLink(r[field], r.ackLink) !== r[field]) refused.push(`${field}: must not contain the acknowledgement link: pass it as ackLink, kept only until delivered`);
        }
      }
      problems.push(...refused.map((e) => `${at}${e}`));
      rows.push({
        refused: refused.map((e) => `${at}${e}`),
        row: {
          incidentId: r.incidentId,
          step: r.step,
          repeat: r.repeat,
          recipientId: r.recipient.id,
          recipientName: r.recipient.name === undefined ? undefined : maskNumbers(r.recipient.name),
          address: r.recipient.address,
          channel: r.channel,
          severity: r.severity,
          subject: maskNumbers(r.subject),
          text: maskNumbers(r.text),
          details: r.details === undefined ? undefined : Object.fromEntries(Object.entries(r.details).map(([k, v]) => [k, typeof v === 'string' ? maskNumbers(v) : v])),
          // A refused row is never sent: its link is not kept even for a moment.
          ackLink: refused.length > 0 ? undefined : r.ackLink,
        },
      });
    });
    return { problems, malformed, rows };
  }

  private insert(rows: ReadonlyArray<{ row: NewRow; refused: string[] }>): EnqueueResult[] {
    const now = this.now();
    const results = this.db.transaction(() =>
      rows.map(({ row, refused }) => {
        const result = this.store.insert(row, now);
        if (result.created && refused.length > 0) {
          this.store.failed(result.id, now, `not sent: ${refused.map((e) => e.replace(/^\[\d+\]\./, '')).join('; ')}`);
          const failed = this.store.get(result.id);
          if (failed !== undefined) this.callHook('onFailed', () => this.hooks.onFailed?.(failed));
        }
        return result;
      }),
    )();
    if (rows.some((r) => r.refused.length > 0)) this.logger.error({ refused: rows.flatMap((r) => r.refused) }, 'alert outbox: notifications refused, marked failed');
    this.kick();
    return results;
  }

  private now(): number {
    return this.clock.now().getTime();
  }

  private kick(): void {
    if (!this.started || this.stopped || this.kickQueued) return;
    this.kickQueued = true;
    // After the caller's transaction has committed (enqueue may be called inside one).
    queueMicrotask(() => {
      this.kickQueued = false;
      this.pump();
    });
  }

  private pump(): void {
    if (!this.started || this.stopped) return;
    try {
      this.fill();
      this.scheduleWake();
    } catch (error) {
      // The database refused (disk, closed): look again later; rows stay where they are.
      this.logger.error({ err: shortText((error as Error).message ?? String(error)) }, 'alert outbox: cannot read the queue');
      this.setWake(this.now() + this.config.baseDelayMs);
    }
  }

  private fill(): void {
    const { concurrency, channelConcurrency } = this.config;
    while (this.inFlight.size < concurrency) {
      const now = this.now();
      const full = [...this.busy].filter(([, n]) => n >= channelConcurrency).map(([name]) => name);
      const due = this.store.due(now, full, concurrency - this.inFlight.size);
      let claimed = false;
      for (const { id, channel: name } of due) {
        if (this.inFlight.size >= concurrency) return;
        if ((this.busy.get(name) ?? 0) >= channelConcurrency) continue;
        const row = this.store.claim(id, now);
        if (row === undefined) continue;
        claimed = true;
        const channel = this.channels.get(name);
        if (channel === undefined) this.recordFailure(row, new DeliveryError(name, 'this channel is not configured any more', { retryable: false, scope: 'message' }), undefined);
        else this.launch(channel, row);
      }
      if (!claimed) return;
    }
  }

  private launch(channel: Channel, row: SendingRow): void {
    this.busy.set(channel.name, (this.busy.get(channel.name) ?? 0) + 1);
    const sending: Promise<void> = this.deliver(channel, row).finally(() => {
      this.inFlight.delete(sending);
      const left = (this.busy.get(channel.name) ?? 1) - 1;
      if (left === 0) this.busy.delete(channel.name);
      else this.busy.set(channel.name, left);
      this.pump();
    });
    this.inFlight.add(sending);
  }

  private async deliver(channel: Channel, row: SendingRow): Promise<void> {
    let failure: DeliveryError | undefined;
    let link = row.ackLink;
    try {
      if (link === undefined && channel.kind !== 'webhook' && this.links !== undefined) link = this.issueLink(channel, row);
      await channel.send(this.message(channel, row, link));
    } catch (error) {
      failure =
        error instanceof DeliveryError
          ? error
          : new DeliveryError(channel.name, `failed unexpectedly: ${shortText((error as Error)?.message ?? String(error))}`, { retryable: true, scope: 'channel' });
    }
    try {
      if (failure === undefined) this.recordDelivered(row);
      else this.recordFailure(row, failure, link);
    } catch (error) {
      // Sent (or not) but not recorded: the row stays `sending` and goes again after the next start.
      this.logger.error(
        { outbox: row.id, incident: row.incidentId, channel: row.channel, err: shortText((error as Error).message ?? String(error)) },
        'alert outbox: cannot record the outcome of a send',
      );
    }
  }

  /** A fresh link for this attempt, from the links module: it keeps the hash, nothing here keeps the link. */
  private issueLink(channel: Channel, row: SendingRow): string | undefined {
    try {
      return this.links?.linkFor(row, this.clock.now());
    } catch (error) {
      throw new DeliveryError(channel.name, `could not issue the acknowledgement link: ${shortText((error as Error)?.message ?? String(error))}`, {
        retryable: true,
        scope: 'message',
      });
    }
  }

  private message(channel: Channel, row: SendingRow, ackLink: string | undefined): OutgoingMessage {
    // Stored as the planner gave it (its reports match on it); sent as the channel writes it (`+447700900123`).
    const address = channel.checkAddress(row.address);
    return {
      deliveryId: deliveryId(row),
      incidentId: row.incidentId,
      step: row.step,
      repeat: row.repeat,
      recipient: { id: row.recipientId, name: row.recipientName ?? undefined, address: address.ok ? address.address : row.address },
      severity: row.severity ?? undefined,
      subject: row.subject,
      text: row.text,
      ackLink,
      details: row.details,
    };
  }

  private recordDelivered(row: SendingRow): void {
    const now = this.now();
    this.db.transaction(() => {
      if (!this.store.delivered(row.id, now)) return;
      this.channelWorks(row.channel, now);
      const done = this.store.get(row.id);
      if (done !== undefined) this.callHook('onDelivered', () => this.hooks.onDelivered?.(done));
    })();
    this.logger.info({ outbox: row.id, incident: row.incidentId, step: row.step, channel: row.channel, recipient: row.recipientId, attempts: row.attempts }, 'alert delivered');
  }

  private recordFailure(row: SendingRow, failure: DeliveryError, link: string | undefined): void {
    const now = this.now();
    const reason = redactLink(failure.reason, link);
    const expires = row.createdAt.getTime() + this.config.maxAgeMinutes * 60_000;
    const retry = failure.retryable && row.attempts < this.config.maxAttempts && now < expires;
    let final = reason;
    if (failure.retryable && !retry) {
      final = row.attempts >= this.config.maxAttempts ? `gave up after ${row.attempts} attempts: ${reason}` : `gave up: not delivered within ${this.config.maxAgeMinutes} min: ${reason}`;
    }
    const next = Math.min(now + Math.max(retryDelayMs(row.attempts, this.config, this.random), failure.retryAfterMs ?? 0), expires);
    this.db.transaction(() => {
      if (retry) this.store.retry(row.id, next, reason);
      else if (this.store.failed(row.id, now, final)) {
        const failed = this.store.get(row.id);
        if (failed !== undefined) this.callHook('onFailed', () => this.hooks.onFailed?.(failed));
      }
      if (failure.scope === 'channel') this.channelFails(row.channel, reason, now);
    })();
    const where = { outbox: row.id, incident: row.incidentId, step: row.step, channel: row.channel, recipient: row.recipientId, attempts: row.attempts };
    if (retry) this.logger.warn({ ...where, retryAt: new Date(next).toISOString(), reason }, 'alert not delivered yet: will retry');
    else this.logger.error({ ...where, reason: final }, 'alert not delivered: failed');
  }

  private channelFails(channel: string, reason: string, now: number): void {
    const h = this.health.get(channel) ?? { ok: true, failures: 0 };
    h.failures += 1;
    this.health.set(channel, h);
    if (!h.ok || h.failures < this.config.failuresBeforeUnhealthy) return;
    h.ok = false;
    this.store.putHealth(channel, false, now, reason);
    this.logger.error({ channel, reason }, 'alert channel failing');
    this.callHook('onChannelHealth', () => this.hooks.onChannelHealth?.(channel, false, reason));
  }

  private channelWorks(channel: string, now: number): void {
    const h = this.health.get(channel);
    if (h === undefined) return;
    h.failures = 0;
    if (h.ok) return;
    h.ok = true;
    const reason = 'delivering again';
    this.store.putHealth(channel, true, now, reason);
    this.logger.info({ channel }, 'alert channel working again');
    this.callHook('onChannelHealth', () => this.hooks.onChannelHealth?.(channel, true, reason));
  }

  private callHook(name: keyof OutboxHooks, call: () => void): void {
    try {
      // A savepoint: a hook that throws leaves nothing half-written.
      this.db.transaction(call)();
    } catch (error) {
      this.logger.error({ hook: name, err: shortText((error as Error)?.message ?? String(error)) }, 'alert outbox: a hook failed');
    }
  }

  private scheduleWake(): void {
    const next = this.store.nextDueMs();
    if (next === null) return this.clearWake();
    const now = this.now();
    if (next <= now) {
      // Due but every slot it could use is taken: the send that finishes first pumps again.
      if (this.inFlight.size > 0) return this.clearWake();
      return this.setWake(now + this.config.baseDelayMs);
    }
    this.setWake(Math.min(next, now + MAX_SLEEP_MS));
  }

  private setWake(at: number): void {
    if (this.wake?.at === at) return;
    this.clearWake();
    const wake = {
      at,
      handle: this.timer.set(() => {
        if (this.wake === wake) this.wake = undefined;
        this.pump();
      }, Math.max(0, at - this.now())),
    };
    this.wake = wake;
  }

  private clearWake(): void {
    if (this.wake === undefined) return;
    this.timer.clear(this.wake.handle);
    this.wake = undefined;
  }
}
