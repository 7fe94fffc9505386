// Incidents at central from what branches publish: the contract's payloads through central's ingest, store and bus,
// into incidents, escalation and acknowledgement links, on fake time, with central's database in a file so that a
// restart can be tested. The outbox's side is a table written in the scheduler's transaction.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createAlerts, type Alerts } from '../../central/alerts/alerts.js';
import { parseAlertChannelsConfig } from '../../central/alerts/channels-config.js';
import { createAlertChannels } from '../../central/alerts/channels/create.js';
import { SqliteAlertsStore } from '../../central/alerts/sqlite-alerts-store.js';
import { createIncidentOutbox } from '../../central/alerts/outbox-sink.js';
import { CentralBus } from '../../central/bus.js';
import { Ingest } from '../../central/ingest.js';
import { CentralStore } from '../../central/store.js';
import { SqliteHistory } from '../../central/history/sqlite-history.js';
import { topics } from '../../policies/contract/index.js';
import { eventId } from '../unit/contract/fixtures.js';
import { rulesInput, TableSink } from '../unit/alerts/helpers.js';
import { SmtpSink, writeTestCaFile } from '../helpers/smtp-sink.js';

// Monday 2 June 2025, 22:00 BST: Carol is on call.
const T0 = new Date('2025-06-02T21:00:00.000Z');
const MINUTE = 60_000;
const PREFIX = 'https://central.example.org/ack/';

let dir: string;
let running: Array<() => void | Promise<void>> = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'oag-alerts-'));
});

afterEach(async () => {
  for (const stop of running.splice(0).reverse()) await stop();
  vi.useRealTimers();
  rmSync(dir, { recursive: true, force: true });
});

/** Central as main.ts will put it together: its store, bus and ingest, and alerting fed from the bus. */
function startCentral() {
  const store = new CentralStore(join(dir, 'central.sqlite'));
  const bus = new CentralBus();
  const clock = { now: () => new Date() };
  const logger = pino({ level: 'silent' });
  const ingest = new Ingest({ prefix: 'oa/v1', store: new SqliteHistory(store), bus, clock, logger });
  const alerts: Alerts = createAlerts({ store: new SqliteAlertsStore(store.db), timezone: 'Europe/London', clock, logger, linkPrefix: PREFIX, intervalMs: 15_000 });
  const sink = new TableSink(store.db);
  const unfollow = alerts.follow({ bus, site: async (id) => store.site(id) });
  alerts.start(sink);
  const stop = async (): Promise<void> => {
    await alerts.stop();
    unfollow();
    store.close();
  };
  running.push(stop);
  const publish = (site: string, kind: 'events' | 'availability', payload: unknown, retain = false): Promise<void> =>
    ingest.handle({ topic: topics('oa/v1', site)[kind], payload: Buffer.from(JSON.stringify(payload)), retain });
  const alarm = (site: string, name: string, state: 'raised' | 'cleared', extra: Record<string, unknown> = {}): Promise<void> => {
    const now = new Date();
    return publish(site, 'events', { id: eventId(now.getTime()), at: now.toISOString(), site, type: 'alarm', alarm: name, state, ...extra });
  };
  return { store, ingest, alerts, sink, publish, alarm, stop: () => { running = running.filter((s) => s !== stop); return stop(); } };
}

const minutes = (n: number): Promise<void> => vi.advanceTimersByTimeAsync(n * MINUTE).then(() => undefined);
const tokenOf = (url: string | undefined): string => (url ?? '').slice(PREFIX.length);

describe('alarms at a branch become incidents that reach a person', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: T0 });
  });

  it('a fire: the on-call person at once, the next contact after 15 min, acknowledged by link, cleared by the branch', async () => {
    const c = startCentral();
    expect((await c.alerts.rules.save(rulesInput(), { actor: 'admin:ann', at: new Date() })).ok).toBe(true);

    await c.alarm('riverside', 'fire', 'raised', { severity: 'critical', detail: 'zone 2' });
    await vi.advanceTimersByTimeAsync(0);
    const [incident] = await c.alerts.incidents.open();
    expect(incident).toMatchObject({ site: 'riverside', alarm: 'fire', severity: 'critical', status: 'notified', detail: 'zone 2' });
    expect(c.sink.summary()).toEqual(['Carol sms 0.0']);

    await minutes(14);
    expect(c.sink.summary()).toEqual(['Carol sms 0.0']);
    await minutes(1);
    expect(c.sink.summary()).toEqual(['Carol sms 0.0', 'Bob email 1.0']);

    // The outbox sends Bob's e-mail with a link; Bob follows it.
    const bobs = await c.alerts.links.attach(c.sink.all()[1]!, new Date());
    expect(await c.alerts.links.acknowledge(tokenOf(bobs.ackUrl), { note: 'on my way' }, new Date())).toMatchObject({
      ok: true,
      incident: { status: 'acknowledged', acknowledged: { by: 'contact:Bob', note: 'on my way' } },
    });
    await minutes(60);
    expect(c.sink.summary()).toHaveLength(2);

    await c.alarm('riverside', 'fire', 'cleared', { severity: 'critical' });
    expect(await c.alerts.incidents.open()).toEqual([]);
    expect((await c.alerts.incidents.get(incident!.id))?.history.map((h) => `${h.kind} ${h.actor}`)).toEqual([
      'raised site:riverside',
      'notified central',
      'notified central',
      'acknowledged contact:Bob',
      'cleared site:riverside',
    ]);
  });

  it('an alarm this central does not know is an incident shown as unknown, and goes by the rules for any alarm', async () => {
    const c = startCentral();
    await c.alerts.rules.save(rulesInput(), { actor: 'admin:ann', at: new Date() });
    await c.alarm('north-a', 'smoke-detected', 'raised', { severity: 'major' });
    await c.alarm('riverside', 'smoke-detected', 'raised');
    await vi.advanceTimersByTimeAsync(0);
    expect((await c.alerts.incidents.open()).map((i) => [i.site, i.alarm, i.known, i.severity, i.status])).toEqual([
      ['riverside', 'smoke-detected', false, 'warning', 'raised'],
      ['north-a', 'smoke-detected', false, 'major', 'notified'],
    ]);
    expect(c.sink.summary()).toEqual(['Bob email 0.0', 'ARC webhook 0.0']);
  });

  it('a branch whose last will says offline for more than N minutes is an incident, cleared when it is back', async () => {
    const c = startCentral();
    await c.alerts.rules.save(rulesInput(), { actor: 'admin:ann', at: new Date() });
    await c.publish('hill', 'availability', { state: 'online', at: new Date().toISOString() }, true);
    await c.publish('hill', 'availability', { state: 'offline', at: new Date().toISOString() });
    await minutes(9.5);
    expect(await c.alerts.incidents.open()).toEqual([]);
    await minutes(0.75);
    expect((await c.alerts.incidents.open()).map((i) => `${i.site} ${i.alarm} ${i.status}`)).toEqual(['hill offline notified']);
    expect(c.sink.all().map((r) => r.subject)).toEqual(['[MAJOR] offline at hill']);
    await c.publish('hill', 'availability', { state: 'online', at: new Date().toISOString() }, true);
    expect(await c.alerts.incidents.open()).toEqual([]);
  });

  it('after a restart nothing is handed over twice, and what fell due while central was stopped goes out at start', async () => {
    const first = startCentral();
    await first.alerts.rules.save(rulesInput(), { actor: 'admin:ann', at: new Date() });
    await first.alarm('riverside', 'fire', 'raised', { severity: 'critical' });
    await minutes(1);
    expect(first.sink.summary()).toEqual(['Carol sms 0.0']);
    await first.stop();

    await minutes(30);
    const second = startCentral();
    expect((await second.alerts.rules.refresh()).version).toBe(1);
    await vi.advanceTimersByTimeAsync(0);
    expect(second.sink.summary()).toEqual(['Carol sms 0.0', 'Bob email 1.0']);
    await minutes(5);
    expect(second.sink.summary()).toHaveLength(2);
  });

  it('a malformed rules change is refused with its fields named and the rules in force keep paging', async () => {
    const c = startCentral();
    await c.alerts.rules.save(rulesInput(), { actor: 'admin:ann', at: new Date() });
    const refused = await c.alerts.rules.save({ ...rulesInput(), rules: [{ id: 'fire', alarms: ['fire'], steps: [{ afterMinutes: -1, contacts: ['Nobody'] }] }] }, {
      actor: 'admin:bo',
      at: new Date(),
    });
    expect(refused).toEqual({
      ok: false,
      code: 'invalid',
      errors: ['rules[0].steps[0].afterMinutes: must be at least 0', 'rules[0].steps[0].contacts[0]: no contact named "Nobody"'],
    });
    await c.alarm('riverside', 'fire', 'raised', { severity: 'critical' });
    await vi.advanceTimersByTimeAsync(0);
    expect(c.sink.summary()).toEqual(['Carol sms 0.0']);
  });
});

describe('…through the outbox to a mail server', () => {
  let smtp: SmtpSink;

  beforeAll(async () => {
    smtp = await SmtpSink.start();
  });

  afterAll(async () => {
    await smtp.close();
  });

  /** Carol on call tonight, Bob behind her, both by e-mail only. */
  const emailRules = () =>
    rulesInput({
      contacts: [
        { name: 'Carol', email: 'carol@example.org' },
        { name: 'Bob', email: 'bob@example.org' },
      ],
      rotas: { primary: { shifts: [{ days: ['mon'], from: '20:00', to: '08:00', contact: 'Carol' }] } },
      regions: {},
      rules: [{ id: 'fire', alarms: ['fire'], steps: [{ afterMinutes: 0, onCall: 'primary' }, { afterMinutes: 15, contacts: ['Bob'] }] }],
    });

  /** Central with its alerting and outbox as main.ts puts them together, on a clock the test moves. */
  async function centralWithMail() {
    await smtp.up();
    smtp.messages.length = 0;
    let now = T0;
    const clock = { now: () => now };
    const store = new CentralStore(join(dir, 'central.sqlite'));
    const bus = new CentralBus();
    const logger = pino({ level: 'silent' });
    const ingest = new Ingest({ prefix: 'oa/v1', store: new SqliteHistory(store), bus, clock, logger });
    // Escalation runs on kicks and on the test's own ticks, not on the interval.
    const alertsStore = new SqliteAlertsStore(store.db);
    const alerts = createAlerts({ store: alertsStore, timezone: 'Europe/London', clock, logger, linkPrefix: PREFIX, intervalMs: 3_600_000 });
    const channels = createAlertChannels(
      parseAlertChannelsConfig({
        channels: { email: { type: 'email', host: '127.0.0.1', port: smtp.port, caFile: writeTestCaFile(dir), from: 'alarms@library.example.org', timeoutMs: 5000 } },
      }),
      { clock },
    );
    const io = createIncidentOutbox({
      store: alertsStore,
      channels: channels.byName,
      clock,
      logger,
      config: { baseDelayMs: 100, maxDelayMs: 100, jitter: 0, failuresBeforeUnhealthy: 1 },
      reports: alerts.incidents,
      links: alerts.links,
      changes: alerts.incidents,
    });
    io.outbox.start();
    const scheduler = alerts.start(io.sink);
    const unfollow = alerts.follow({ bus, site: async (id) => store.site(id) });
    expect((await alerts.rules.save(emailRules(), { actor: 'admin:ann', at: now })).ok).toBe(true);
    running.push(async () => {
      unfollow();
      await alerts.stop();
      await io.stop();
      await channels.close();
      store.close();
    });
    const alarm = (site: string, name: string, state: 'raised' | 'cleared'): Promise<void> => {
      const payload = { id: eventId(now.getTime()), at: now.toISOString(), site, type: 'alarm', alarm: name, state, severity: 'critical' };
      return ingest.handle({ topic: topics('oa/v1', site).events, payload: Buffer.from(JSON.stringify(payload)), retain: false });
    };
    /** Moves the clock on in small steps while waiting for `done` (the outbox's retries are due by this clock). */
    const until = async (done: () => boolean | Promise<boolean>): Promise<void> => {
      for (let i = 0; i < 500 && !(await done()); i++) {
        now = new Date(now.getTime() + 200);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(await done()).toBe(true);
    };
    return { store, alerts, io, scheduler, alarm, until, advance: (ms: number) => (now = new Date(now.getTime() + ms)) };
  }

  it('the on-call person gets an e-mail whose one-time link acknowledges; the next contact is then not paged', async () => {
    const c = await centralWithMail();
    await c.alarm('riverside', 'fire', 'raised');
    await smtp.waitFor(1);
    await c.io.outbox.idle();
    const [mail] = smtp.messages;
    expect(mail?.to).toEqual(['carol@example.org']);
    expect(mail?.subject).toBe('[CRITICAL] fire at riverside');
    const link = /https:\/\/central\.example\.org\/ack\/[A-Za-z0-9_-]{43}/.exec(mail?.text ?? '')?.[0];
    expect(link).toBeDefined();
    const [incident] = await c.alerts.incidents.open();
    expect((await c.alerts.incidents.get(incident!.id))?.history.map((h) => h.kind)).toEqual(['raised', 'notified', 'delivered']);

    // The link is in the e-mail only: no table of central's database holds it.
    const tables = c.store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>;
    const token = tokenOf(link);
    for (const { name } of tables) expect(JSON.stringify(c.store.db.prepare(`SELECT * FROM "${name}"`).all())).not.toContain(token);

    expect(await c.alerts.links.acknowledge(token, { note: 'on my way' }, new Date(T0.getTime() + 60_000))).toMatchObject({
      ok: true,
      incident: { acknowledged: { by: 'contact:Carol', note: 'on my way' } },
    });
    c.advance(16 * MINUTE);
    await c.scheduler.tick();
    await c.io.outbox.idle();
    expect(smtp.messages.map((m) => m.to)).toEqual([['carol@example.org']]);
  });

  it('a mail server that is down is an incident at central; the message goes when it is back and the incident clears', async () => {
    const c = await centralWithMail();
    await smtp.down();
    await c.alarm('hill', 'fire', 'raised');
    await c.until(async () => (await c.alerts.incidents.open()).some((i) => i.alarm === 'email-failed'));
    const failed = (await c.alerts.incidents.open()).find((i) => i.alarm === 'email-failed');
    expect(failed).toMatchObject({ site: '(central)', severity: 'major', status: 'raised' });
    // The fire is still there, waiting for its message.
    expect((await c.alerts.incidents.open()).find((i) => i.alarm === 'fire')?.status).toBe('notified');

    await smtp.up();
    await c.until(async () => smtp.messages.length === 1 && !(await c.alerts.incidents.open()).some((i) => i.alarm === 'email-failed'));
    expect(smtp.messages[0]?.to).toEqual(['carol@example.org']);
    expect(await c.alerts.incidents.get(failed!.id)).toMatchObject({ status: 'cleared', cleared: { by: 'central' } });
  });
});
