// The durable alert outbox with real parts: a SQLite file, an SMTP server and an HTTP receiver on loopback, and
// fake time (the outbox's injected clock and timer) so that backoff is stepped through, not waited for. What a
// person on call would notice: the message arrives once, arrives late rather than never, says why when it cannot,
// and nothing is lost by a restart.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAlerts } from '../../central/alerts/alerts.js';
import { parseAlertChannelsConfig, type OutboxConfig } from '../../central/alerts/channels-config.js';
import { createAlertChannels, type AlertChannels } from '../../central/alerts/channels/create.js';
import { Outbox, OutboxInputError, type NotificationRequest, type OutboxHooks, type OutboxRow, type OutboxTimer } from '../../central/alerts/outbox.js';
import { SqliteAlertsStore } from '../../central/alerts/sqlite-alerts-store.js';
import { createIncidentOutbox } from '../../central/alerts/outbox-sink.js';
import { HttpSink } from '../helpers/http-sink.js';
import { SmtpSink, writeTestCaFile } from '../helpers/smtp-sink.js';

const TOKEN = 'Zk3q9X2mPq7TtY1vW8sR4uN6bC0dE5fG';
const ACK = `https://central.example.org/ack/${TOKEN}`;
const SECRET = 'a-webhook-secret-of-some-length';

/** The outbox's clock and timer, moved by the test. */
class FakeTime implements OutboxTimer {
  ms = Date.parse('2026-03-14T21:00:00Z');
  private seq = 0;
  private timers: Array<{ id: number; at: number; fn: () => void }> = [];
  readonly clock = { now: () => new Date(this.ms) };

  set(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.push({ id, at: this.ms + ms, fn });
    return id;
  }

  clear(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }

  /** Moves time on, firing each timer at its moment, in order. */
  advance(ms: number): void {
    const until = this.ms + ms;
    for (;;) {
      const next = [...this.timers].sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (next === undefined || next.at > until) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.ms = next.at;
      next.fn();
    }
    this.ms = until;
  }
}

let dir: string;
let smtp: SmtpSink;
let http: HttpSink;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oag-alert-outbox-'));
  const { writeFileSync } = await import('node:fs');
  writeFileSync(join(dir, 'webhook-secret'), SECRET);
  smtp = await SmtpSink.start();
  http = await HttpSink.start();
});

afterAll(async () => {
  await smtp.close();
  await http.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Rig {
  time: FakeTime;
  db: Database.Database;
  outbox: Outbox;
  channels: AlertChannels;
  logs: string[];
  delivered: OutboxRow[];
  failed: OutboxRow[];
  health: Array<{ channel: string; ok: boolean; reason: string }>;
}

const rigs: Rig[] = [];
let dbCount = 0;

function rig(options: { dbPath?: string; time?: FakeTime; config?: Partial<OutboxConfig>; hooks?: OutboxHooks } = {}): Rig {
  const time = options.time ?? new FakeTime();
  const dbPath = options.dbPath ?? join(dir, `central-${++dbCount}.sqlite`);
  const db = new Database(dbPath);
  db.pragma('journal_mode = WAL');
  const channels = createAlertChannels(
    parseAlertChannelsConfig({
      channels: {
        mail: { type: 'email', host: '127.0.0.1', port: smtp.port, caFile: writeTestCaFile(dir), from: 'alarms@library.example.org', timeoutMs: 5000 },
        hook: { type: 'webhook', url: http.url('/hook'), secretFile: join(dir, 'webhook-secret'), timeoutMs: 5000 },
        sms: { type: 'sms', url: http.url('/sms'), body: '{"to":"{to}","text":"{text}"}', timeoutMs: 5000 },
      },
    }),
    { clock: time.clock },
  );
  const logs: string[] = [];
  const r: Rig = { time, db, channels, logs, delivered: [], failed: [], health: [], outbox: undefined as unknown as Outbox };
  r.outbox = new Outbox({
    store: new SqliteAlertsStore(db),
    channels: channels.byName,
    clock: time.clock,
    timer: time,
    random: () => 0,
    logger: pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) }),
    config: { baseDelayMs: 10_000, maxDelayMs: 300_000, maxAttempts: 10, failuresBeforeUnhealthy: 2, ...options.config },
    hooks: options.hooks ?? {
      onDelivered: (row) => void r.delivered.push(row),
      onFailed: (row) => void r.failed.push(row),
      onChannelHealth: (channel, ok, reason) => void r.health.push({ channel, ok, reason }),
    },
  });
  rigs.push(r);
  return r;
}

beforeEach(async () => {
  await smtp.up();
  smtp.messages.length = 0;
  http.requests.length = 0;
  http.answers = [];
});

afterEach(async () => {
  smtp.release();
  http.release();
  for (const r of rigs.splice(0)) {
    await r.outbox.stop();
    await r.channels.close();
    if (r.db.open) r.db.close();
  }
});

function email(overrides: Partial<NotificationRequest> = {}): NotificationRequest {
  return {
    incidentId: 'inc-1',
    step: 0,
    channel: 'mail',
    recipient: { id: 'ops-anna', name: 'Anna Berg', address: 'anna@library.example.org' },
    severity: 'major',
    subject: 'People inside after close at Northfield',
    text: '3 people are inside Northfield library, closed since 20:00.',
    ackLink: ACK,
    ...overrides,
  };
}

const webhook = (overrides: Partial<NotificationRequest> = {}): NotificationRequest =>
  email({ channel: 'hook', recipient: { id: 'arc', address: 'arc' }, ackLink: undefined, ...overrides });

const sms = (overrides: Partial<NotificationRequest> = {}): NotificationRequest =>
  email({ channel: 'sms', recipient: { id: 'ops-anna', address: '+447700900123' }, ...overrides });

const rawLink = (db: Database.Database, id: number): string | null =>
  (db.prepare('SELECT ack_link FROM alert_outbox WHERE id = ?').get(id) as { ack_link: string | null }).ack_link;

describe('alert outbox', () => {
  it('delivers an e-mail with its link, records it once, then forgets the link and tells the planner', async () => {
    const r = rig();
    r.outbox.start();
    const [queued] = await r.outbox.enqueue(email());
    expect(queued).toEqual({ id: expect.any(Number), created: true });
    expect(rawLink(r.db, queued!.id)).toBe(ACK);
    await r.outbox.idle();
    expect(smtp.messages).toHaveLength(1);
    expect(smtp.messages[0]!.to).toEqual(['anna@library.example.org']);
    expect(smtp.messages[0]!.text).toContain(ACK);
    const row = (await r.outbox.get(queued!.id))!;
    expect(row).toMatchObject({ state: 'delivered', attempts: 1, lastError: null, channel: 'mail', recipientId: 'ops-anna' });
    expect(row.finishedAt).toEqual(r.time.clock.now());
    expect(rawLink(r.db, queued!.id)).toBeNull();
    expect(r.delivered.map((d) => [d.id, d.state])).toEqual([[queued!.id, 'delivered']]);
    expect(r.logs.join('\n')).not.toContain(TOKEN);
  });

  it('asked twice for the same incident, step, recipient and channel, delivers once', async () => {
    const r = rig();
    r.outbox.start();
    const first = (await r.outbox.enqueue(email()))[0]!;
    expect((await r.outbox.enqueue(email()))[0]).toEqual({ id: first.id, created: false });
    await r.outbox.idle();
    expect((await r.outbox.enqueue(email({ text: 'asked again after delivery' })))[0]).toEqual({ id: first.id, created: false });
    await r.outbox.idle();
    expect(smtp.messages).toHaveLength(1);
    // A new step is a new message to the same person.
    await r.outbox.enqueue(email({ step: 1 }));
    await r.outbox.idle();
    expect(smtp.messages).toHaveLength(2);
  });

  it('refuses bad requests with every problem named and queues none of the batch', async () => {
    const r = rig();
    r.outbox.start();
    let error: unknown;
    try {
      await r.outbox.enqueue([
        email(),
        email({ channel: 'pager' }),
        email({ recipient: { id: 'ops-bo', address: 'not an address' } }),
        email({ text: `Acknowledge here: ${ACK}` }),
        webhook({ ackLink: ACK }),
        sms({ recipient: { id: 'ops-anna', address: '07700 900123' } }),
        email({ subject: 'two\nlines', step: -1 }),
      ]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(OutboxInputError);
    expect((error as OutboxInputError).errors).toEqual([
      '[1].channel: no channel named "pager" is configured (configured: mail, hook, sms)',
      '[2].recipient.address: must be an e-mail address (channel mail is email)',
      '[3].text: must not contain the acknowledgement link: pass it as ackLink, kept only until delivered',
      '[4].ackLink: a webhook goes to a shared room, not to one person: it carries no personal link',
      '[5].recipient.address: must be a phone number in international form, e.g. +447700900123 (channel sms is sms)',
      '[6].step: must be at least 0',
      '[6].subject: must be one line of text',
    ]);
    await r.outbox.idle();
    expect(await r.outbox.counts()).toEqual({ pending: 0, sending: 0, delivered: 0, failed: 0, cancelled: 0 });
    expect(smtp.messages).toHaveLength(0);
  });

  it('masks a card number that slipped into the text, in the mail and in the database', async () => {
    const r = rig();
    r.outbox.start();
    await r.outbox.enqueue(email({ text: 'Card 6330000012345678 and 6330 0000 1234 5679 were refused at 20:58.' }));
    await r.outbox.idle();
    expect(smtp.messages[0]!.text).toContain('Card [number removed] and [number removed] were refused at 20:58.');
    const stored = r.db.prepare('SELECT body FROM alert_outbox').get() as { body: string };
    expect(stored.body).not.toMatch(/12345678|1234 5679/);
  });

  it('an SMTP server down, then up: retried with backoff, delivered once, the channel reported failing then working', async () => {
    const r = rig();
    r.outbox.start();
    await smtp.down();
    const { id } = (await r.outbox.enqueue(email()))[0]!;
    await r.outbox.idle();
    let row = (await r.outbox.get(id))!;
    expect(row).toMatchObject({ state: 'pending', attempts: 1 });
    expect(row.lastError).toMatch(/ECONNREFUSED/);
    expect(row.nextAttemptAt!.getTime() - r.time.ms).toBe(10_000);

    r.time.advance(9_999);
    await r.outbox.idle();
    expect((await r.outbox.get(id))!.attempts).toBe(1);
    r.time.advance(1);
    await r.outbox.idle();
    row = (await r.outbox.get(id))!;
    expect(row).toMatchObject({ state: 'pending', attempts: 2 });
    expect(row.nextAttemptAt!.getTime() - r.time.ms).toBe(20_000);
    expect(r.health).toEqual([{ channel: 'mail', ok: false, reason: expect.stringMatching(/ECONNREFUSED/) }]);
    expect((await r.outbox.channelHealth()).find((h) => h.channel === 'mail')).toMatchObject({ ok: false, waiting: 1 });

    await smtp.up();
    r.time.advance(20_000);
    await r.outbox.idle();
    expect(smtp.messages).toHaveLength(1);
    expect(await r.outbox.get(id)).toMatchObject({ state: 'delivered', attempts: 3 });
    expect(r.health.at(-1)).toEqual({ channel: 'mail', ok: true, reason: 'delivering again' });
    r.time.advance(3_600_000);
    await r.outbox.idle();
    expect(smtp.messages).toHaveLength(1);
  });

  it('a webhook answering 500 then 200 is delivered once, with the same delivery id both times', async () => {
    const r = rig();
    r.outbox.start();
    http.answers.push({ status: 500, body: 'oops' });
    const { id } = (await r.outbox.enqueue(webhook()))[0]!;
    await r.outbox.idle();
    expect(await r.outbox.get(id)).toMatchObject({ state: 'pending', attempts: 1, lastError: 'HTTP 500 Internal Server Error: oops' });
    r.time.advance(10_000);
    await r.outbox.idle();
    expect(await r.outbox.get(id)).toMatchObject({ state: 'delivered', attempts: 2 });
    expect(http.requests).toHaveLength(2);
    expect(http.requests[0]!.headers['x-oag-delivery']).toBe(http.requests[1]!.headers['x-oag-delivery']);
    r.time.advance(3_600_000);
    await r.outbox.idle();
    expect(http.requests).toHaveLength(2);
  });

  it('waits as long as a 429 asks (Retry-After) when that is longer than its own backoff', async () => {
    const r = rig();
    r.outbox.start();
    http.answers.push({ status: 429, headers: { 'retry-after': '90' } });
    const { id } = (await r.outbox.enqueue(webhook()))[0]!;
    await r.outbox.idle();
    expect((await r.outbox.get(id))!.nextAttemptAt!.getTime() - r.time.ms).toBe(90_000);
    r.time.advance(89_999);
    await r.outbox.idle();
    expect(http.requests).toHaveLength(1);
    r.time.advance(1);
    await r.outbox.idle();
    expect(await r.outbox.get(id)).toMatchObject({ state: 'delivered', attempts: 2 });
  });

  it('a webhook answering 400 fails at once, is not retried, keeps the reason and tells the planner', async () => {
    const r = rig();
    r.outbox.start();
    http.answers.push({ status: 400, body: '{"error":"unknown field severity"}' });
    const { id } = (await r.outbox.enqueue(webhook()))[0]!;
    await r.outbox.idle();
    const row = (await r.outbox.get(id))!;
    expect(row).toMatchObject({ state: 'failed', attempts: 1, lastError: 'HTTP 400 Bad Request: {"error":"unknown field severity"}' });
    expect(r.failed.map((f) => [f.id, f.lastError])).toEqual([[id, row.lastError]]);
    r.time.advance(24 * 3_600_000);
    await r.outbox.idle();
    expect(http.requests).toHaveLength(1);
  });

  it('gives up after maxAttempts, marks the row failed with the last reason, and forgets the link', async () => {
    const r = rig({ config: { maxAttempts: 3 } });
    r.outbox.start();
    http.answers.push({ status: 503 }, { status: 503 }, { status: 503, body: 'still down' });
    const { id } = (await r.outbox.enqueue(sms()))[0]!;
    await r.outbox.idle();
    r.time.advance(10_000);
    await r.outbox.idle();
    r.time.advance(20_000);
    await r.outbox.idle();
    expect(await r.outbox.get(id)).toMatchObject({ state: 'failed', attempts: 3, lastError: 'gave up after 3 attempts: HTTP 503 Service Unavailable: still down' });
    expect(rawLink(r.db, id)).toBeNull();
    expect(r.failed.map((f) => f.id)).toEqual([id]);
    r.time.advance(3_600_000);
    await r.outbox.idle();
    expect(http.requests).toHaveLength(3);
  });

  it('gives up once a message is older than maxAgeMinutes, after a last attempt at that age', async () => {
    const r = rig({ config: { baseDelayMs: 40_000, maxAgeMinutes: 1 } });
    r.outbox.start();
    http.answers.push({ status: 502 }, { status: 502 }, { status: 502 });
    const { id } = (await r.outbox.enqueue(webhook()))[0]!;
    await r.outbox.idle();
    r.time.advance(40_000);
    await r.outbox.idle();
    expect((await r.outbox.get(id))!.nextAttemptAt!.getTime() - r.time.ms).toBe(20_000);
    r.time.advance(20_000);
    await r.outbox.idle();
    expect(await r.outbox.get(id)).toMatchObject({ state: 'failed', attempts: 3, lastError: 'gave up: not delivered within 1 min: HTTP 502 Bad Gateway' });
  });

  it('cuts the link out of a reason the far end echoes back, in the database and the log', async () => {
    const r = rig();
    r.outbox.start();
    http.answers.push({ status: 422, body: `{"error":"message too long","message":"...${ACK}"}` });
    const { id } = (await r.outbox.enqueue(sms()))[0]!;
    await r.outbox.idle();
    const row = (await r.outbox.get(id))!;
    expect(row.state).toBe('failed');
    expect(row.lastError).toContain('[link]');
    expect(row.lastError).not.toContain(TOKEN);
    expect(r.logs.join('\n')).not.toContain(TOKEN);
    expect(JSON.stringify(r.db.prepare('SELECT * FROM alert_outbox').all())).not.toContain(TOKEN);
  });

  it('holds at most channelConcurrency sends on one channel, so a hung webhook does not hold up the e-mail', async () => {
    const r = rig({ config: { concurrency: 4, channelConcurrency: 2 } });
    r.outbox.start();
    http.hold();
    await r.outbox.enqueue([1, 2, 3, 4, 5].map((step) => webhook({ step })));
    await http.waitFor(2);
    expect(await r.outbox.counts()).toMatchObject({ sending: 2, pending: 3 });
    await r.outbox.enqueue(email());
    await smtp.waitFor(1);
    expect(http.requests).toHaveLength(2);
    http.release();
    await r.outbox.idle();
    expect(await r.outbox.counts()).toMatchObject({ delivered: 6, pending: 0, sending: 0 });
    expect(http.requests).toHaveLength(5);
  });

  it('sends critical alarms first when more are due than there are slots', async () => {
    const r = rig({ config: { concurrency: 1, channelConcurrency: 1 } });
    r.outbox.start();
    await r.outbox.enqueue([
      email({ incidentId: 'inc-minor', severity: 'minor', subject: 'minor' }),
      email({ incidentId: 'inc-none', severity: undefined, subject: 'no severity' }),
      email({ incidentId: 'inc-fire', severity: 'critical', subject: 'fire' }),
    ]);
    await r.outbox.idle();
    expect(smtp.messages.map((m) => m.subject)).toEqual(['fire', 'minor', 'no severity']);
  });

  it('cancels what is still pending for an acknowledged incident, and forgets its link', async () => {
    const r = rig();
    r.outbox.start();
    await smtp.down();
    const { id } = (await r.outbox.enqueue(email()))[0]!;
    await r.outbox.idle();
    expect(await r.outbox.cancel('inc-1')).toBe(1);
    expect(await r.outbox.get(id)).toMatchObject({ state: 'cancelled', lastError: 'not needed any more: the incident was acknowledged' });
    expect(rawLink(r.db, id)).toBeNull();
    await smtp.up();
    r.time.advance(3_600_000);
    await r.outbox.idle();
    expect(smtp.messages).toHaveLength(0);
  });

  // The hook runs once the outcome is recorded, not inside its transaction: the store may be PostgreSQL, shared by
  // several instances, where the outcome and the incident's record are two calls.
  it('tells a hook each delivery once; a hook that throws is logged and the delivery still stands, not sent again', async () => {
    let throwNext = false;
    const r = rig({
      hooks: {
        onDelivered: (row) => {
          r.db.prepare('INSERT INTO notified (incident) VALUES (?)').run(row.incidentId);
          if (throwNext) throw new Error('planner bug');
        },
      },
    });
    r.db.exec('CREATE TABLE notified (incident TEXT)');
    r.outbox.start();
    await r.outbox.enqueue(email({ incidentId: 'inc-a' }));
    await r.outbox.idle();
    throwNext = true;
    const { id } = (await r.outbox.enqueue(email({ incidentId: 'inc-b' })))[0]!;
    await r.outbox.idle();
    expect(r.db.prepare('SELECT incident FROM notified').all()).toEqual([{ incident: 'inc-a' }, { incident: 'inc-b' }]);
    expect((await r.outbox.get(id))!.state).toBe('delivered');
    r.time.advance(10 * 60_000);
    await r.outbox.idle();
    expect(smtp.messages).toHaveLength(2);
    expect(r.logs.some((l) => l.includes('a hook failed') && l.includes('planner bug'))).toBe(true);
  });
});

describe('alert outbox across a restart', () => {
  it('delivers rows left pending and a row left sending by a crash, each once', async () => {
    const dbPath = join(dir, 'restart.sqlite');
    const time = new FakeTime();
    const before = rig({ dbPath, time, config: { concurrency: 1, channelConcurrency: 1 } });
    before.outbox.start();
    smtp.hold();
    await before.outbox.enqueue(['ops-anna', 'ops-bo', 'ops-cy'].map((id) => email({ recipient: { id, address: `${id}@library.example.org` } })));
    await new Promise<void>((resolve) => {
      const look = (): void => (smtp.heldCount === 1 ? resolve() : void setImmediate(look));
      look();
    });
    expect(await before.outbox.counts()).toMatchObject({ sending: 1, pending: 2 });
    // The crash: the database goes away mid-send, and the server never says yes to that message.
    before.db.close();
    smtp.drop();
    await before.outbox.idle();

    const after = rig({ dbPath, time });
    expect(await after.outbox.counts()).toMatchObject({ sending: 1, pending: 2 });
    after.outbox.start();
    await after.outbox.idle();
    expect(smtp.messages.map((m) => m.to[0]).sort()).toEqual(['ops-anna@library.example.org', 'ops-bo@library.example.org', 'ops-cy@library.example.org']);
    expect(await after.outbox.counts()).toMatchObject({ delivered: 3, pending: 0, sending: 0 });
    expect((await after.outbox.forIncident('inc-1')).map((row) => row.attempts).sort()).toEqual([1, 1, 2]);
  });

  it('a send the far end accepted just before the crash goes again with the same delivery id, and is recorded once', async () => {
    const dbPath = join(dir, 'restart-accepted.sqlite');
    const time = new FakeTime();
    const before = rig({ dbPath, time });
    before.outbox.start();
    http.hold();
    const { id } = (await before.outbox.enqueue(webhook()))[0]!;
    await http.waitFor(1);
    before.db.close();
    http.release();
    await before.outbox.idle();

    const after = rig({ dbPath, time });
    after.outbox.start();
    await after.outbox.idle();
    expect(http.requests).toHaveLength(2);
    expect(http.requests[1]!.headers['x-oag-delivery']).toBe(http.requests[0]!.headers['x-oag-delivery']);
    expect(await after.outbox.get(id)).toMatchObject({ state: 'delivered', attempts: 2 });
    expect(after.delivered.map((d) => d.id)).toEqual([id]);
  });

  it('remembers a failing channel across a restart, and says when it works again', async () => {
    const dbPath = join(dir, 'restart-health.sqlite');
    const time = new FakeTime();
    const before = rig({ dbPath, time });
    before.outbox.start();
    http.answers.push({ status: 500 }, { status: 500 });
    await before.outbox.enqueue(webhook());
    await before.outbox.idle();
    time.advance(10_000);
    await before.outbox.idle();
    expect(before.health).toEqual([{ channel: 'hook', ok: false, reason: 'HTTP 500 Internal Server Error' }]);
    await before.outbox.stop();
    before.db.close();

    const after = rig({ dbPath, time });
    expect((await after.outbox.channelHealth()).find((h) => h.channel === 'hook')).toMatchObject({ ok: false, reason: 'HTTP 500 Internal Server Error', waiting: 1 });
    after.outbox.start();
    time.advance(20_000);
    await after.outbox.idle();
    expect(after.health).toEqual([{ channel: 'hook', ok: true, reason: 'delivering again' }]);
  });
});

describe('alert outbox wired to the incidents (central/alerts/outbox-sink.ts)', () => {
  const LINKS = 'https://central.example.org/ack/';

  /** Central's alerting as main.ts puts it together: incidents, rules, links and escalation, and this outbox. */
  async function central(options: { channels?: Record<string, unknown> } = {}) {
    const time = new FakeTime();
    const db = new Database(join(dir, `wired-${++dbCount}.sqlite`));
    db.pragma('journal_mode = WAL');
    const logger = pino({ level: 'silent' });
    const store = new SqliteAlertsStore(db);
    const alerts = createAlerts({
      store,
      timezone: 'Europe/London',
      clock: time.clock,
      logger,
      linkPrefix: LINKS,
      timers: { setTimeout: (fn, ms) => time.set(fn, ms), clearTimeout: (h) => time.clear(h) },
    });
    const saved = await alerts.rules.save(
      {
        contacts: [
          { name: 'Anna Berg', email: 'anna@library.example.org', sms: '+447700900123' },
          { name: 'Alarm centre', webhook: http.url('/arc') },
        ],
        rules: [{ id: 'fire', alarms: ['fire'], steps: [{ afterMinutes: 0, contacts: ['Anna Berg', 'Alarm centre'] }] }],
      },
      { actor: 'admin:ann', at: time.clock.now() },
    );
    expect(saved.ok).toBe(true);
    const channels = createAlertChannels(
      parseAlertChannelsConfig({
        channels: options.channels ?? {
          email: { type: 'email', host: '127.0.0.1', port: smtp.port, caFile: writeTestCaFile(dir), from: 'alarms@library.example.org', timeoutMs: 5000 },
          webhook: { type: 'webhook', secretFile: join(dir, 'webhook-secret'), timeoutMs: 5000 },
          sms: { type: 'sms', url: http.url('/sms'), body: '{"to":"{to}","text":"{text}"}', timeoutMs: 5000 },
        },
      }),
      { clock: time.clock },
    );
    const wired = createIncidentOutbox({
      store,
      channels: channels.byName,
      clock: time.clock,
      timer: time,
      random: () => 0,
      logger,
      config: { baseDelayMs: 10_000, failuresBeforeUnhealthy: 1 },
      reports: alerts.incidents,
      links: alerts.links,
      changes: alerts.incidents,
    });
    wired.outbox.start();
    alerts.start(wired.sink);
    const r: Rig = { time, db, channels, logs: [], delivered: [], failed: [], health: [], outbox: wired.outbox };
    rigs.push(r);
    const fire = async (): Promise<number> => {
      const incident = await alerts.incidents.alarm({ site: 'northfield', alarm: 'fire', state: 'raised', severity: 'critical', at: time.clock.now().toISOString() }, time.clock.now());
      time.advance(0);
      await wired.outbox.idle();
      return incident!.id;
    };
    return { ...r, alerts, fire, stop: () => alerts.stop() };
  }

  it('an alarm reaches the person by e-mail and SMS with a personal link that acknowledges in their name, and the alarm centre by webhook', async () => {
    const c = await central();
    try {
      const id = await c.fire();
      expect(smtp.messages).toHaveLength(1);
      expect(smtp.messages[0]!.to).toEqual(['anna@library.example.org']);
      expect(smtp.messages[0]!.subject).toContain('fire at northfield');
      const mailLink = /https:\/\/central\.example\.org\/ack\/([A-Za-z0-9_-]{43})/.exec(smtp.messages[0]!.text);
      expect(mailLink).not.toBeNull();
      const sms = http.requests.find((r) => r.path === '/sms')!;
      const smsBody = JSON.parse(sms.body) as { to: string; text: string };
      expect(smsBody.to).toBe('+447700900123');
      expect(smsBody.text).toMatch(/https:\/\/central\.example\.org\/ack\/[A-Za-z0-9_-]{43}$/);
      const hook = http.requests.find((r) => r.path === '/arc')!;
      expect(JSON.parse(hook.body)).toMatchObject({ incidentId: String(id), recipient: { id: 'Alarm centre' }, severity: 'critical' });
      expect(hook.body).not.toContain('/ack/');

      const detail = (await c.alerts.incidents.get(id))!;
      expect(detail.notifications.map((n) => [n.recipient, n.channel, n.deliveredAt !== null])).toEqual(
        expect.arrayContaining([
          ['Anna Berg', 'email', true],
          ['Anna Berg', 'sms', true],
          ['Alarm centre', 'webhook', true],
        ]),
      );
      // The links exist only in the messages: not in the outbox, not in the logs.
      const token = mailLink![1]!;
      expect(JSON.stringify(c.db.prepare('SELECT * FROM alert_outbox').all())).not.toContain(token);

      expect(await c.alerts.links.acknowledge(token, { note: 'on my way' }, c.time.clock.now())).toMatchObject({
        ok: true,
        incident: { status: 'acknowledged', acknowledged: { by: 'contact:Anna Berg', note: 'on my way' } },
      });
    } finally {
      await c.stop();
    }
  });

  it('a channel that is not configured fails that message with the reason in the incident; the others are told', async () => {
    const c = await central({
      channels: { email: { type: 'email', host: '127.0.0.1', port: smtp.port, caFile: writeTestCaFile(dir), from: 'alarms@library.example.org', timeoutMs: 5000 } },
    });
    try {
      const id = await c.fire();
      expect(smtp.messages).toHaveLength(1);
      const failures = (await c.alerts.incidents.get(id))!.history.filter((h) => h.kind === 'delivery-failed').map((h) => h.note);
      expect(failures).toEqual(
        expect.arrayContaining([
          'Anna Berg (sms): not sent: channel: no channel named "sms" is configured (configured: email)',
          'Alarm centre (webhook): not sent: channel: no channel named "webhook" is configured (configured: email)',
        ]),
      );
    } finally {
      await c.stop();
    }
  });

  it('a failing e-mail server is itself an incident, cleared when mail goes again; what an acknowledgement made moot is not sent', async () => {
    const c = await central();
    try {
      await smtp.down();
      const id = await c.fire();
      const failing = (await c.alerts.incidents.open()).find((i) => i.alarm === 'email-failed');
      expect(failing).toMatchObject({ site: '(central)', detail: expect.stringMatching(/ECONNREFUSED/) });

      expect((await c.alerts.incidents.acknowledge(id, { actor: 'user:ops' }, c.time.clock.now())).ok).toBe(true);
      expect((await c.outbox.forIncident(String(id))).find((row) => row.channel === 'email')).toMatchObject({ state: 'cancelled' });

      // The channel-failed incident is mailed too (to nobody here: no rule takes it); once mail works it clears.
      await smtp.up();
      await c.alerts.incidents.alarm({ site: 'riverside', alarm: 'fire', state: 'raised', severity: 'critical', at: c.time.clock.now().toISOString() }, c.time.clock.now());
      c.time.advance(0);
      await c.outbox.idle();
      expect(smtp.messages.map((m) => m.subject)).toEqual([expect.stringContaining('fire at riverside')]);
      expect((await c.alerts.incidents.open()).find((i) => i.alarm === 'email-failed')).toBeUndefined();
    } finally {
      await c.stop();
    }
  });
});
