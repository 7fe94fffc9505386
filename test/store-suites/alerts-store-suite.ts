// One behaviour for central's alerting whatever the database: every AlertsStore (SQLite, PostgreSQL) runs this suite
// (test/unit/central/alerts-store-sqlite.test.ts, test/system/alerts-store-postgres.test.ts), through the parts
// central builds on it (incidents, links, rules, escalation, the outbox). Two store objects on one database stand
// for two central instances: an incident acknowledged through one must stop the reminders the other (the leader)
// sends, and a message queued once is sent once whichever instance's outbox takes it.
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AckLinks } from '../../central/alerts/ack-links.js';
import type { AlertsStore, OutboxInsert } from '../../central/alerts/alerts-store.js';
import type { Channel, OutgoingMessage } from '../../central/alerts/channels/types.js';
import { EscalationScheduler } from '../../central/alerts/escalation.js';
import { Incidents } from '../../central/alerts/incidents.js';
import { Outbox, type NotificationRequest as OutboxRequest } from '../../central/alerts/outbox.js';
import { AlertRuleVersions } from '../../central/alerts/rule-versions.js';
import type { NotificationRequest, NotificationSink } from '../../central/alerts/types.js';
import { until } from '../helpers/until.js';
import { raise, rulesInput, rulesOf } from '../unit/alerts/helpers.js';

export interface AlertsStoreFixture {
  /** A store on a fresh, empty database. */
  store: AlertsStore;
  /** Another store object on the same database: a second central instance. */
  another(): Promise<AlertsStore>;
  /** Closes every store it opened and removes the database. */
  close(): Promise<void>;
}

const T0 = Date.parse('2025-06-02T21:00:00Z');
const at = (minutes: number): Date => new Date(T0 + minutes * 60_000);
const PREFIX = 'https://central.example.org/ack/';
const logger = pino({ level: 'silent' });

/** What the scheduler handed over, in order (`name channel step.repeat`); no outbox rows. */
class RecordingSink implements NotificationSink {
  readonly handedOver: NotificationRequest[] = [];
  rows(requests: readonly NotificationRequest[]): OutboxInsert[] {
    this.handedOver.push(...requests);
    return [];
  }
  async handed(): Promise<void> {}
  summary(): string[] {
    return this.handedOver.map((r) => `${r.recipient.name} ${r.recipient.channel} ${r.step}.${r.repeat}`);
  }
}

/** An e-mail channel that only counts what it is asked to send (slowly enough for two outboxes to meet). */
class CountingChannel implements Channel {
  readonly name = 'mail';
  readonly kind = 'email' as const;
  readonly sent: OutgoingMessage[] = [];
  checkAddress(address: string) {
    return { ok: true as const, address };
  }
  async send(message: OutgoingMessage): Promise<void> {
    this.sent.push(message);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  async close(): Promise<void> {}
}

/** An e-mail channel whose sends wait until released: a send under way at a given moment. */
class HeldChannel implements Channel {
  readonly name = 'mail';
  readonly kind = 'email' as const;
  readonly sent: OutgoingMessage[] = [];
  release: () => void = () => {};
  private readonly held = new Promise<void>((resolve) => (this.release = resolve));
  checkAddress(address: string) {
    return { ok: true as const, address };
  }
  async send(message: OutgoingMessage): Promise<void> {
    this.sent.push(message);
    await this.held;
  }
  async close(): Promise<void> {}
}

/** Central's alert parts on one store, as one instance has them, on a clock the test moves. */
function instance(store: AlertsStore, clock: { now(): Date }) {
  const incidents = new Incidents(store);
  return {
    incidents,
    links: new AckLinks(store, incidents, { linkPrefix: PREFIX }),
    rules: new AlertRuleVersions(store, { timezone: 'Europe/London' }),
    clock,
  };
}

function email(incidentId: string, who: string): OutboxRequest {
  return { incidentId, step: 0, channel: 'mail', recipient: { id: who, address: `${who}@library.example.org` }, severity: 'major', subject: 'Fire at Northfield', text: 'Fire at Northfield library.' };
}

export function alertsStoreSuite(engine: string, open: () => Promise<AlertsStoreFixture>): void {
  describe(`AlertsStore (${engine})`, () => {
    let fx: AlertsStoreFixture;
    let now: number;
    const clock = { now: () => new Date(now) };
    let a: ReturnType<typeof instance>;
    let b: ReturnType<typeof instance>;
    beforeEach(async () => {
      now = T0;
      fx = await open();
      a = instance(fx.store, clock);
      b = instance(await fx.another(), clock);
    });
    afterEach(async () => {
      await fx.close();
    });

    it('an incident raised through one instance is seen and acknowledged through another, and the leader stops reminding', async () => {
      const input = rulesInput();
      (input.rules as Array<{ repeatMinutes?: number }>)[0]!.repeatMinutes = 10;
      const rules = rulesOf(input);
      const sink = new RecordingSink();
      // `a` leads: it tells. `b` only records and serves the dashboard.
      const leader = new EscalationScheduler({ incidents: a.incidents, rules: () => rules, sink, clock });
      const fire = (await a.incidents.alarm(raise(), at(0)))!;
      await leader.tick();
      expect(sink.summary()).toEqual(['Carol sms 0.0']);

      expect(await b.incidents.open()).toMatchObject([{ id: fire.id, site: 'riverside', alarm: 'fire', status: 'notified' }]);
      now = at(5).getTime();
      expect(await b.incidents.acknowledge(fire.id, { actor: 'user:olive', note: 'on my way' }, at(5))).toMatchObject({ ok: true, incident: { status: 'acknowledged' } });
      // A second acknowledgement, through the leader, is told who was first.
      expect(await a.incidents.acknowledge(fire.id, { actor: 'user:bob' }, at(6))).toMatchObject({ ok: false, code: 'already-acknowledged', error: expect.stringContaining('user:olive') });

      for (const minutes of [10, 20, 30]) {
        now = at(minutes).getTime();
        await leader.tick();
      }
      expect(sink.summary()).toEqual(['Carol sms 0.0']);
      expect((await a.incidents.get(fire.id))?.history.map((h) => `${h.kind} ${h.actor}`)).toEqual(['raised site:riverside', 'notified central', 'acknowledged user:olive']);
    });

    it('a link sent by one instance acknowledges through another, once', async () => {
      const fire = (await a.incidents.alarm(raise(), at(0)))!;
      const { token } = await a.links.issue(fire.id, 'Carol', at(1));
      expect(await b.links.inspect(token, at(2))).toMatchObject({ ok: true, contact: 'Carol', incident: { id: fire.id, status: 'raised' } });
      const [first, second] = await Promise.all([b.links.acknowledge(token, { note: 'on my way' }, at(3)), a.links.acknowledge(token, {}, at(3))]);
      expect([first.ok, second.ok].filter(Boolean)).toHaveLength(1);
      expect((await a.incidents.get(fire.id))?.acknowledged).toMatchObject({ by: 'contact:Carol' });
      expect(await a.links.acknowledge(token, {}, at(4))).toMatchObject({ ok: false, reason: 'used' });
    });

    it('a repeat raise through another instance is history on the open incident, not a second one; one event told to both is one raise', async () => {
      const [one, two] = await Promise.all([a.incidents.alarm(raise({ detail: 'zone 1' }), at(0)), b.incidents.alarm(raise({ detail: 'zone 2' }), at(0))]);
      expect(one?.id).toBe(two?.id);
      expect((await a.incidents.get(one!.id))?.history.map((h) => h.kind).sort()).toEqual(['raised', 'raised-again']);
      // One event handed to every instance (each stores its share and is told the others'): one incident, one line.
      const event = raise({ site: 'town', alarm: 'forced-open', id: '0193a0c4-7d2e-7000-8000-000000000001' });
      const both = await Promise.all([a.incidents.alarm(event, at(0)), b.incidents.alarm(event, at(0))]);
      expect(both[0]?.id).toBe(both[1]?.id);
      expect((await b.incidents.get(both[0]!.id))?.history.map((h) => h.kind)).toEqual(['raised']);
      // A branch's alarms active when it is first seen become incidents once, whichever instance sees it first.
      const active = [raise({ site: 'hill', alarm: 'forced-open' })];
      const seen = await Promise.all([a.incidents.firstSight('hill', active, at(1)), b.incidents.firstSight('hill', active, at(1))]);
      expect(seen.filter((s) => s !== null).map((s) => s!.length)).toEqual([1]);
      expect(await a.incidents.firstSight('hill', active, at(2))).toBeNull();
      expect((await b.incidents.list({ state: 'open', site: 'hill', limit: 10 })).map((i) => i.alarm)).toEqual(['forced-open']);
    });

    it('rules saved through one instance are in force on the other, and a save based on an older version is refused', async () => {
      expect((await a.rules.refresh()).version).toBe(0);
      expect(await b.rules.save(rulesInput(), { actor: 'admin:ann', at: at(0), basedOn: 0 })).toMatchObject({ ok: true, version: 1 });
      expect((await a.rules.refresh()).version).toBe(1);
      expect(await a.rules.save(rulesInput(), { actor: 'admin:bo', at: at(1), basedOn: 0 })).toMatchObject({ ok: false, code: 'conflict' });
      expect((await a.rules.versions()).map((v) => [v.version, v.actor])).toEqual([[1, 'admin:ann']]);
    });

    it('a notification queued once is sent once when two instances’ outboxes take due rows at the same time', async () => {
      const channel = new CountingChannel();
      const channels = new Map([[channel.name, channel]]);
      const outboxes = [fx.store, await fx.another()].map(
        (store) => new Outbox({ store, channels, clock, logger, config: { concurrency: 4, channelConcurrency: 4 } }),
      );
      try {
        const people = Array.from({ length: 12 }, (_, i) => `person-${i}`);
        await outboxes[0]!.enqueue(people.map((p) => email('inc-1', p)));
        // Asked again through the other instance: the same rows, nothing new.
        expect((await outboxes[1]!.enqueue(email('inc-1', 'person-0')))[0]?.created).toBe(false);
        for (const o of outboxes) o.start();
        await Promise.all(outboxes.map((o) => o.idle()));
        await Promise.all(outboxes.map((o) => o.idle()));
        expect(channel.sent.map((m) => m.recipient.id).sort()).toEqual([...people].sort());
        expect(await outboxes[1]!.counts()).toMatchObject({ pending: 0, sending: 0, delivered: 12 });
        expect((await outboxes[0]!.forIncident('inc-1')).every((row) => row.attempts === 1)).toBe(true);
      } finally {
        await Promise.all(outboxes.map((o) => o.stop()));
      }
    });

    it('a message queued before its incident was acknowledged or closed through another instance is not sent, and shows cancelled saying why', async () => {
      const channel = new CountingChannel();
      const outbox = new Outbox({ store: fx.store, channels: new Map([[channel.name, channel]]), clock, logger });
      try {
        const fire = (await a.incidents.alarm(raise(), at(0)))!;
        const flood = (await a.incidents.alarm(raise({ alarm: 'flood' }), at(0)))!;
        const door = (await a.incidents.alarm(raise({ alarm: 'forced-open' }), at(0)))!;
        await outbox.enqueue([email(String(fire.id), 'carol'), email(String(flood.id), 'carol'), email(String(door.id), 'carol')]);
        // Through the other instance, whose outbox is not this one: this outbox is told nothing.
        expect((await b.incidents.acknowledge(fire.id, { actor: 'user:olive' }, at(1))).ok).toBe(true);
        expect((await b.incidents.resolve(flood.id, { actor: 'user:olive' }, at(1))).ok).toBe(true);
        outbox.start();
        await outbox.idle();
        expect(channel.sent.map((m) => m.subject)).toHaveLength(1);
        expect(await outbox.counts()).toMatchObject({ pending: 0, sending: 0, delivered: 1, cancelled: 2 });
        expect((await outbox.forIncident(String(fire.id)))[0]).toMatchObject({ state: 'cancelled', attempts: 0, lastError: 'not needed any more: the incident was acknowledged' });
        expect((await outbox.forIncident(String(flood.id)))[0]).toMatchObject({ state: 'cancelled', lastError: 'not needed any more: the incident was cleared' });
        expect((await outbox.forIncident(String(door.id)))[0]).toMatchObject({ state: 'delivered' });
      } finally {
        await outbox.stop();
      }
    });

    it('a new leader does not send again a row the old one is still sending; a row whose sender is gone, once its claim is old enough', async () => {
      const held = new HeldChannel();
      const oldLeader = new Outbox({ store: fx.store, channels: new Map([['mail', held]]), clock, logger });
      const fast = new CountingChannel();
      const wakes: Array<() => void> = [];
      const timer = { set: (fn: () => void) => wakes.push(fn), clear: () => {} };
      const newLeader = new Outbox({ store: await fx.another(), channels: new Map([['mail', fast]]), clock, logger, timer, resumeAfterMs: 60_000 });
      const wakeUp = async (): Promise<void> => {
        for (const wake of wakes.splice(0)) wake();
        await newLeader.idle();
      };
      try {
        await oldLeader.enqueue(email('inc-9', 'carol'));
        oldLeader.start();
        await until(() => held.sent.length === 1, 'the old leader sending');
        // The old leader lost its lock mid-send; the new one starts 5 s later and leaves that row to it.
        now += 5_000;
        newLeader.start();
        await newLeader.idle();
        expect(fast.sent).toEqual([]);
        held.release();
        await oldLeader.stop();
        expect(await newLeader.counts()).toMatchObject({ sending: 0, delivered: 1 });

        // An instance that died with a row claimed: nobody finishes it, so it goes again once the claim is old enough.
        await new Outbox({ store: fx.store, channels: new Map([['mail', held]]), clock, logger }).enqueue(email('inc-10', 'dan'));
        expect(await fx.store.claimDue(now, [], 1)).toHaveLength(1);
        now += 30_000;
        await wakeUp();
        expect(fast.sent).toEqual([]);
        now += 31_000;
        await wakeUp();
        expect(fast.sent.map((m) => m.recipient.id)).toEqual(['dan']);
        expect(await newLeader.counts()).toMatchObject({ pending: 0, sending: 0, delivered: 2 });
        expect(held.sent.map((m) => m.recipient.id)).toEqual(['carol']);
      } finally {
        held.release();
        await Promise.all([oldLeader.stop(), newLeader.stop()]);
      }
    });

    it('retention: incidents cleared before the cut go with their history, open ones and later ones stay; expired links and finished messages go', async () => {
      const old = (await a.incidents.alarm(raise({ site: 'old' }), at(0)))!;
      await a.incidents.alarm(raise({ site: 'old', state: 'cleared' }), at(10));
      const open = (await a.incidents.alarm(raise({ site: 'still' }), at(0)))!;
      const recent = (await a.incidents.alarm(raise({ site: 'recent' }), at(0)))!;
      await a.incidents.alarm(raise({ site: 'recent', state: 'cleared' }), at(100));
      const { token } = await a.links.issue(open.id, 'Carol', at(0));
      const outbox = new Outbox({ store: fx.store, channels: new Map([['mail', new CountingChannel()]]), clock, logger });
      await outbox.enqueue(email(String(old.id), 'carol'));
      await outbox.cancel(String(old.id));

      const cut = at(50 + 24 * 60);
      expect(await b.incidents.prune(at(50))).toBe(1);
      expect(await b.links.prune(cut)).toBe(1);
      expect(await outbox.purgeFinishedBefore(cut)).toBe(1);
      expect(await a.incidents.get(old.id)).toBeNull();
      expect((await a.incidents.get(open.id))?.status).toBe('raised');
      expect((await a.incidents.get(recent.id))?.status).toBe('cleared');
      expect(await a.links.inspect(token, at(1))).toMatchObject({ ok: false, reason: 'unknown' });
      expect(await outbox.forIncident(String(old.id))).toEqual([]);
    });
  });
}
