// The durable notification outbox: the planner (incidents, rules, rota) asks "send this to this person over this
// channel, for this incident, escalation step and repeat"; the row is in the store before the call resolves, and a worker sends
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
import type { Logger } from 'pino';
import { z } from 'zod';
import { validate } from '../../policies/errors.js';
import { ChannelNameSchema, OutboxConfigSchema, type OutboxConfig } from './channels-config.js';
import { DeliveryError, MESSAGE_SEVERITIES, shortText, type Channel, type Clock, type OutgoingMessage } from './channels/types.js';
import type { AlertsStore, OutboxInsert } from './alerts-store.js';
import type { NewRow, OutboxRow, OutboxState, SendingRow } from './outbox-store.js';

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
 * Called once the outcome is recorded, and awaited, so that what a hook writes (the incident's record of the
 * delivery, a `channel-failed` incident) is written before the next row is taken. A hook that throws is logged;
 * the outcome stays recorded.
 */
export interface OutboxHooks {
  onDelivered?(row: OutboxRow): void | Promise<void>;
  /** Given up: a permanent refusal, too many attempts, or too old. `row.lastError` says why. */
  onFailed?(row: OutboxRow): void | Promise<void>;
  /** A channel starts failing (after `failuresBeforeUnhealthy` failures in a row) or works again. */
  onChannelHealth?(channel: string, ok: boolean, reason: string): void | Promise<void>;
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
  /** Where the rows are (central's alerts store: SQLite, or PostgreSQL shared by every instance). */
  store: AlertsStore;
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
  /**
   * With several instances sharing the outbox: a row left `sending` is sent again only once its claim is this old
   * (longer than any send takes), since a younger one may be another instance's send under way (a leader that lost
   * its lock mid-send finishes it). 0, one instance: every row left `sending` is due again at start.
   */
  resumeAfterMs?: number | undefined;
}

export interface OutboxLinks {
  linkFor(row: OutboxRow, at: Date): Promise<string | undefined>;
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
  readonly store: AlertsStore;
  private readonly config: OutboxConfig;
  private readonly channels: ReadonlyMap<string, Channel>;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly hooks: OutboxHooks;
  private readonly timer: OutboxTimer;
  private readonly random: () => number;
  private readonly links: OutboxLinks | undefined;
  private readonly resumeAfterMs: number;
  private started = false;
  private stopped = false;
  private kickQueued = false;
  private wake: { at: number; handle: unknown } | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly busy = new Map<string, number>();
  private readonly health = new Map<string, { ok: boolean; failures: number }>();
  /** The pump under way, and whether another was asked for meanwhile (pumps never overlap). */
  private pumping: Promise<void> | null = null;
  private pumpAgain = false;

  constructor(options: OutboxOptions) {
    const config = validate(OutboxConfigSchema, options.config ?? {});
    if (!config.ok) throw new OutboxInputError(config.errors.map((e) => `outbox.${e}`));
    this.config = config.value;
    this.store = options.store;
    this.channels = options.channels;
    this.clock = options.clock;
    this.logger = options.logger;
    this.hooks = options.hooks ?? {};
    this.timer = options.timer ?? systemTimer;
    this.random = options.random ?? Math.random;
    this.links = options.links;
    this.resumeAfterMs = options.resumeAfterMs ?? 0;
  }

  /** Resumes what a previous run (or a leader before this one) left `sending`, then sends whatever is due. */
  start(): void {
    // Again after a stop too: an instance that leads again tells again.
    if (this.started && !this.stopped) return;
    this.started = true;
    this.stopped = false;
    this.track(
      (async () => {
        await this.resume();
        for (const h of await this.store.channelHealth()) this.health.set(h.channel, { ok: h.ok, failures: 0 });
      })().catch((error: unknown) => {
        this.logger.error({ err: shortText((error as Error).message ?? String(error)) }, 'alert outbox: cannot resume the queue');
      }),
    );
  }

  /** Stops taking rows and waits for the sends under way; what is left is sent after the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clearWake();
    await Promise.allSettled([...this.inFlight, this.pumping]);
  }

  /**
   * Queues one notification or several, all or none: a bad one is refused with every problem named
   * (`[1].recipient.address: must be an e-mail address`) and nothing is queued.
   */
  async enqueue(input: NotificationRequest | readonly NotificationRequest[]): Promise<EnqueueResult[]> {
    const many = Array.isArray(input);
    const checked = this.check(many ? (input as readonly unknown[]) : [input], many);
    if (checked.problems.length > 0) throw new OutboxInputError(checked.problems);
    return this.insert(this.inserts(checked.rows));
  }

  /**
   * The planner's way in (central/alerts/outbox-sink.ts): a request this outbox cannot send (its channel is not
   * configured, it refuses the address) is recorded as failed at once, with the reason, and reported through
   * onFailed, while the others go out; one contact's typo must not keep the rest of the rota from being told. A
   * request that is malformed (a bug, not a configuration) is still refused whole.
   */
  async accept(input: readonly NotificationRequest[]): Promise<EnqueueResult[]> {
    return this.insert(this.rowsFor(input));
  }

  /**
   * `accept` in two halves, for a planner that writes the rows in its own transaction: the rows (checked, nothing
   * written; a malformed request throws), then `accepted` once they are written.
   */
  rowsFor(input: readonly NotificationRequest[]): OutboxInsert[] {
    const checked = this.check(input, true);
    if (checked.malformed.length > 0) throw new OutboxInputError(checked.malformed);
    return this.inserts(checked.rows);
  }

  async accepted(rows: readonly OutboxInsert[], results: ReadonlyArray<{ id: number; created: boolean }>): Promise<void> {
    const refused = rows.filter((r) => r.refused !== null);
    if (refused.length > 0) this.logger.error({ refused: refused.map((r) => r.refused) }, 'alert outbox: notifications refused, marked failed');
    for (const [i, result] of results.entries()) {
      if (!result.created || rows[i]?.refused === null || rows[i] === undefined) continue;
      const failed = await this.store.outboxRow(result.id);
      if (failed !== undefined) await this.callHook('onFailed', () => this.hooks.onFailed?.(failed));
    }
    this.kick();
  }

  /** The incident was acknowledged or cleared: what is still pending for it is not sent. Returns how many. */
  async cancel(incidentId: string, reason = 'not needed any more: the incident was acknowledged'): Promise<number> {
    const n = await this.store.outboxCancel(incidentId, this.now(), shortText(reason));
    if (n > 0) this.logger.info({ incident: incidentId, cancelled: n }, 'alert outbox: pending messages cancelled');
    return n;
  }

  get(id: number): Promise<OutboxRow | undefined> {
    return this.store.outboxRow(id);
  }

  /** Every message for an incident, for its history on the dashboard. */
  forIncident(incidentId: string): Promise<OutboxRow[]> {
    return this.store.outboxForIncident(incidentId);
  }

  counts(): Promise<Record<OutboxState, number>> {
    return this.store.outboxCounts();
  }

  /** Each configured channel: working or failing since when and why, and what waits on it. */
  async channelHealth(): Promise<ChannelHealth[]> {
    const saved = new Map((await this.store.channelHealth()).map((h) => [h.channel, h]));
    const waiting = await this.store.waitingByChannel();
    return [...this.channels.values()].map((c) => {
      const h = saved.get(c.name);
      return { channel: c.name, kind: c.kind, ok: h?.ok ?? true, since: h?.since ?? null, reason: h?.reason ?? null, waiting: waiting.get(c.name) ?? 0 };
    });
  }

  /** Central's retention: finished rows older than this are deleted. */
  purgeFinishedBefore(before: Date): Promise<number> {
    return this.store.purgeFinishedBefore(before.getTime());
  }

  /** Resolves when nothing is being sent or looked for and nothing is due now (tests; an orderly stop). */
  async idle(): Promise<void> {
    for (;;) {
      // Let a queued kick claim what was just enqueued.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.inFlight.size === 0 && this.pumping === null && !this.kickQueued) return;
      await Promise.allSettled([...this.inFlight, this.pumping]);
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

  private inserts(rows: ReadonlyArray<{ row: NewRow; refused: string[] }>): OutboxInsert[] {
    return rows.map(({ row, refused }) => ({ row, refused: refused.length === 0 ? null : `not sent: ${refused.map((e) => e.replace(/^\[\d+\]\./, '')).join('; ')}` }));
  }

  private async insert(rows: readonly OutboxInsert[]): Promise<EnqueueResult[]> {
    const results = await this.store.outboxInsert(rows, this.now());
    await this.accepted(rows, results);
    return results;
  }

  private now(): number {
    return this.clock.now().getTime();
  }

  /** Work that `idle` and `stop` wait for. */
  private track(work: Promise<void>): void {
    const tracked: Promise<void> = work.finally(() => {
      this.inFlight.delete(tracked);
      this.pump();
    });
    this.inFlight.add(tracked);
  }

  private kick(): void {
    if (!this.started || this.stopped || this.kickQueued) return;
    this.kickQueued = true;
    queueMicrotask(() => {
      this.kickQueued = false;
      this.pump();
    });
  }

  private pump(): void {
    if (!this.started || this.stopped) return;
    if (this.pumping !== null) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = (async () => {
      do {
        this.pumpAgain = false;
        try {
          await this.fill();
          await this.scheduleWake();
        } catch (error) {
          // The database refused (disk, closed, the server away): look again later; rows stay where they are.
          this.logger.error({ err: shortText((error as Error).message ?? String(error)) }, 'alert outbox: cannot read the queue');
          this.setWake(this.now() + this.config.baseDelayMs);
        }
      } while (this.pumpAgain && !this.stopped);
    })().finally(() => {
      this.pumping = null;
    });
  }

  /** Rows left `sending` by a run (or an instance) that is gone are due again: at least once. */
  private async resume(): Promise<void> {
    const now = this.now();
    const resumed = await this.store.resumeSending(now, this.resumeAfterMs > 0 ? now - this.resumeAfterMs : undefined);
    if (resumed > 0) this.logger.warn({ resumed }, 'alert outbox: messages the last run was sending are sent again (at least once)');
  }

  private async fill(): Promise<void> {
    // Shared: a claim another instance made that has grown old is its sender gone (or dead), looked at each time.
    if (this.resumeAfterMs > 0) await this.resume();
    const { concurrency, channelConcurrency } = this.config;
    while (!this.stopped && this.inFlight.size < concurrency) {
      const full = [...this.busy].filter(([, n]) => n >= channelConcurrency).map(([name]) => name);
      // One row a claim: claimed in the store at once (another instance's outbox skips it), and the channels at
      // their limit left out in the store, so their backlog cannot hide another channel's due rows.
      const [row] = await this.store.claimDue(this.now(), full, 1);
      if (row === undefined) return;
      const channel = this.channels.get(row.channel);
      if (channel === undefined) await this.recordFailure(row, new DeliveryError(row.channel, 'this channel is not configured any more', { retryable: false, scope: 'message' }), undefined);
      else this.launch(channel, row);
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
      if (link === undefined && channel.kind !== 'webhook' && this.links !== undefined) link = await this.issueLink(channel, row);
      await channel.send(this.message(channel, row, link));
    } catch (error) {
      failure =
        error instanceof DeliveryError
          ? error
          : new DeliveryError(channel.name, `failed unexpectedly: ${shortText((error as Error)?.message ?? String(error))}`, { retryable: true, scope: 'channel' });
    }
    try {
      if (failure === undefined) await this.recordDelivered(row);
      else await this.recordFailure(row, failure, link);
    } catch (error) {
      // Sent (or not) but not recorded: the row stays `sending` and goes again after the next start.
      this.logger.error(
        { outbox: row.id, incident: row.incidentId, channel: row.channel, err: shortText((error as Error).message ?? String(error)) },
        'alert outbox: cannot record the outcome of a send',
      );
    }
  }

  /** A fresh link for this attempt, from the links module: it keeps the hash, nothing here keeps the link. */
  private async issueLink(channel: Channel, row: SendingRow): Promise<string | undefined> {
    try {
      return await this.links?.linkFor(row, this.clock.now());
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

  private async recordDelivered(row: SendingRow): Promise<void> {
    const now = this.now();
    if (await this.store.outboxDelivered(row.id, now)) {
      await this.channelWorks(row.channel, now);
      const done = await this.store.outboxRow(row.id);
      if (done !== undefined) await this.callHook('onDelivered', () => this.hooks.onDelivered?.(done));
    }
    this.logger.info({ outbox: row.id, incident: row.incidentId, step: row.step, channel: row.channel, recipient: row.recipientId, attempts: row.attempts }, 'alert delivered');
  }

  private async recordFailure(row: SendingRow, failure: DeliveryError, link: string | undefined): Promise<void> {
    const now = this.now();
    const reason = redactLink(failure.reason, link);
    const expires = row.createdAt.getTime() + this.config.maxAgeMinutes * 60_000;
    const retry = failure.retryable && row.attempts < this.config.maxAttempts && now < expires;
    let final = reason;
    if (failure.retryable && !retry) {
      final = row.attempts >= this.config.maxAttempts ? `gave up after ${row.attempts} attempts: ${reason}` : `gave up: not delivered within ${this.config.maxAgeMinutes} min: ${reason}`;
    }
    const next = Math.min(now + Math.max(retryDelayMs(row.attempts, this.config, this.random), failure.retryAfterMs ?? 0), expires);
    if (retry) await this.store.outboxRetry(row.id, next, reason);
    else if (await this.store.outboxFailed(row.id, now, final)) {
      const failed = await this.store.outboxRow(row.id);
      if (failed !== undefined) await this.callHook('onFailed', () => this.hooks.onFailed?.(failed));
    }
    if (failure.scope === 'channel') await this.channelFails(row.channel, reason, now);
    const where = { outbox: row.id, incident: row.incidentId, step: row.step, channel: row.channel, recipient: row.recipientId, attempts: row.attempts };
    if (retry) this.logger.warn({ ...where, retryAt: new Date(next).toISOString(), reason }, 'alert not delivered yet: will retry');
    else this.logger.error({ ...where, reason: final }, 'alert not delivered: failed');
  }

  private async channelFails(channel: string, reason: string, now: number): Promise<void> {
    const h = this.health.get(channel) ?? { ok: true, failures: 0 };
    h.failures += 1;
    this.health.set(channel, h);
    if (!h.ok || h.failures < this.config.failuresBeforeUnhealthy) return;
    h.ok = false;
    await this.store.putChannelHealth(channel, false, now, reason);
    this.logger.error({ channel, reason }, 'alert channel failing');
    await this.callHook('onChannelHealth', () => this.hooks.onChannelHealth?.(channel, false, reason));
  }

  private async channelWorks(channel: string, now: number): Promise<void> {
    const h = this.health.get(channel);
    if (h === undefined) return;
    h.failures = 0;
    if (h.ok) return;
    h.ok = true;
    const reason = 'delivering again';
    await this.store.putChannelHealth(channel, true, now, reason);
    this.logger.info({ channel }, 'alert channel working again');
    await this.callHook('onChannelHealth', () => this.hooks.onChannelHealth?.(channel, true, reason));
  }

  private async callHook(name: keyof OutboxHooks, call: () => void | Promise<void>): Promise<void> {
    try {
      await call();
    } catch (error) {
      this.logger.error({ hook: name, err: shortText((error as Error)?.message ?? String(error)) }, 'alert outbox: a hook failed');
    }
  }

  private async scheduleWake(): Promise<void> {
    let next = await this.store.nextDueMs();
    if (this.resumeAfterMs > 0) {
      // And when the oldest claim would be old enough to take over.
      const oldest = await this.store.oldestSendingMs();
      if (oldest !== null) next = Math.min(next ?? Number.MAX_SAFE_INTEGER, oldest + this.resumeAfterMs + 1);
    }
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
