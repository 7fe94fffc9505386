// The durable notification outbox: the planner (incidents, rules, rota) asks "send this to this person over this
// channel, for this incident and escalation step"; the row is in SQLite before the call returns, and a worker sends
// it: bounded concurrency in all and per channel, exponential backoff with jitter between attempts, given up after
// N attempts or a maximum age and then marked failed with the last reason. A row is claimed (`sending`) before its
// send starts; one a crash left `sending` is sent again at the next start: at least once to the channel, recorded
// once. Receivers can drop the rare repeat by its delivery id (X-OAG-Delivery, the e-mail's Message-ID).
//
// Secrets and personal numbers: the acknowledgement link lives in the row only until the row is delivered, failed
// or cancelled (then NULL, in the same statement), is never logged, and is cut out of any reason a far end echoes
// back. Text that looks like a card number (8 or more digits in a row, or 4-digit groups) is masked before it is
// stored: alarm texts carry pseudonyms, and this keeps a slip from reaching a phone.
import { createHash } from 'node:crypto';
import type { Database as Db } from 'better-sqlite3';
import type { Logger } from 'pino';
import { z } from 'zod';
import { ALARM_SEVERITIES } from '../../policies/contract/index.js';
import { validate } from '../../policies/errors.js';
import { ChannelNameSchema, OutboxConfigSchema, type OutboxConfig } from './channels-config.js';
import { DeliveryError, shortText, type Channel, type Clock, type OutgoingMessage } from './channels/types.js';
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
  /** The planner's number for this send of the incident: each escalation and each repeat is a new step. */
  step: z.int().min(0).max(100_000),
  channel: ChannelNameSchema,
  recipient: z.strictObject({
    id: z.string().min(1).max(64).regex(/^[A-Za-z0-9._@:-]+$/, { error: 'must be letters, digits and . _ @ : -' }),
    name: oneLine(100).optional(),
    address: z.string().min(1).max(320),
  }),
  severity: z.enum(ALARM_SEVERITIES).optional(),
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
export function deliveryId(row: { incidentId: string; step: number; recipientId: string; channel: string }): string {
  return createHash('sha256').update(`${row.incidentId}\n${row.step}\n${row.recipientId}\n${row.channel}`).digest('hex').slice(0, 32);
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
    const list: readonly unknown[] = many ? (input as readonly unknown[]) : [input];
    if (list.length > MAX_BATCH) throw new OutboxInputError([`(root): at most ${MAX_BATCH} notifications at once (got ${list.length})`]);
    const errors: string[] = [];
    const rows: NewRow[] = [];
    list.forEach((raw, i) => {
      const at = many ? `[${i}].` : '';
      const problems = (lines: string[]): void => void errors.push(...lines.map((line) => `${at}${line}`));
      const parsed = validate(NotificationRequestSchema, raw);
      if (!parsed.ok) return problems(parsed.errors);
      const r = parsed.value;
      const channel = this.channels.get(r.channel);
      if (channel === undefined) {
        const names = [...this.channels.keys()];
        return problems([`channel: no channel named "${r.channel}" is configured (${names.length === 0 ? 'none is' : `configured: ${names.join(', ')}`})`]);
      }
      const address = channel.checkAddress(r.recipient.address);
      const found: string[] = [];
      if (!address.ok) found.push(`recipient.address: ${address.error} (channel ${r.channel} is ${channel.kind})`);
      if (r.ackLink !== undefined) {
        if (channel.kind === 'webhook') found.push('ackLink: a webhook goes to a shared room, not to one person: it carries no personal link');
        for (const field of ['subject', 'text'] as const) {
          if (redactLink(r[field], r.ackLink) !== r[field]) found.push(`${field}: must not contain the acknowledgement link: pass it as ackLink, kept only until delivered`);
        }
      }
      if (found.length > 0 || !address.ok) return problems(found);
      rows.push({
        incidentId: r.incidentId,
        step: r.step,
        recipientId: r.recipient.id,
        recipientName: r.recipient.name === undefined ? undefined : maskNumbers(r.recipient.name),
        address: address.address,
        channel: r.channel,
        severity: r.severity,
        subject: maskNumbers(r.subject),
        text: maskNumbers(r.text),
        details: r.details === undefined ? undefined : Object.fromEntries(Object.entries(r.details).map(([k, v]) => [k, typeof v === 'string' ? maskNumbers(v) : v])),
        ackLink: r.ackLink,
      });
    });
    if (errors.length > 0) throw new OutboxInputError(errors);
    const now = this.now();
    const results = this.db.transaction(() => rows.map((row) => this.store.insert(row, now)))();
    this.kick();
    return results;
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
        if (channel === undefined) this.recordFailure(row, new DeliveryError(name, 'this channel is not configured any more', { retryable: false, scope: 'message' }));
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
    try {
      await channel.send(this.message(row));
    } catch (error) {
      failure =
        error instanceof DeliveryError
          ? error
          : new DeliveryError(channel.name, `failed unexpectedly: ${shortText((error as Error)?.message ?? String(error))}`, { retryable: true, scope: 'channel' });
    }
    try {
      if (failure === undefined) this.recordDelivered(row);
      else this.recordFailure(row, failure);
    } catch (error) {
      // Sent (or not) but not recorded: the row stays `sending` and goes again after the next start.
      this.logger.error(
        { outbox: row.id, incident: row.incidentId, channel: row.channel, err: shortText((error as Error).message ?? String(error)) },
        'alert outbox: cannot record the outcome of a send',
      );
    }
  }

  private message(row: SendingRow): OutgoingMessage {
    return {
      deliveryId: deliveryId(row),
      incidentId: row.incidentId,
      step: row.step,
      recipient: { id: row.recipientId, name: row.recipientName ?? undefined, address: row.address },
      severity: row.severity ?? undefined,
      subject: row.subject,
      text: row.text,
      ackLink: row.ackLink,
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

  private recordFailure(row: SendingRow, failure: DeliveryError): void {
    const now = this.now();
    const reason = redactLink(failure.reason, row.ackLink);
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
