// Alerting as central's leader runs it: with tellWhenLeading, escalation and the outbox wait for startTelling; when
// the instance loses the lead (central/main.ts calls stopTelling) nobody is told through it any more, and when it
// leads again it tells again, what came meanwhile included. Escalation and the outbox on fake timers.
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startCentralAlerts, type CentralAlerts } from '../../../central/alerts/central-alerts.js';
import { parseAlertChannelsConfig } from '../../../central/alerts/channels-config.js';
import { CentralBus } from '../../../central/bus.js';
import { CentralStore } from '../../../central/store.js';
import { until } from '../../helpers/until.js';
import { raise, rulesInput } from '../alerts/helpers.js';

const NOW = new Date('2025-06-02T21:00:00Z');

let store: CentralStore;
let alerts: CentralAlerts;
/** Every timer escalation and the outbox set and have not cleared, fired by the test. */
let due: Map<number, () => void>;
let handles = 0;
const set = (callback: () => void): number => {
  due.set(++handles, callback);
  return handles;
};
const clear = (handle: unknown): void => void due.delete(handle as number);

const fire = (): void => {
  const callbacks = [...due.values()];
  due.clear();
  for (const callback of callbacks) callback();
};
const notified = async (id: number): Promise<number> => ((await alerts.alerts.incidents.get(id))?.history ?? []).filter((h) => h.kind === 'notified').length;

beforeEach(async () => {
  store = new CentralStore(':memory:');
  due = new Map();
  alerts = startCentralAlerts({
    db: store.db,
    config: { ...parseAlertChannelsConfig({}), linkTtlMinutes: 60, tickSeconds: 15 },
    timezone: 'Europe/London',
    publicUrl: () => 'https://central.example.org',
    clock: { now: () => NOW },
    logger: pino({ level: 'silent' }),
    bus: new CentralBus(),
    site: async () => null,
    tellWhenLeading: true,
    timers: { setTimeout: set, clearTimeout: clear },
    outboxTimer: { set, clear },
  });
  expect((await alerts.alerts.rules.save(rulesInput(), { actor: 'admin:ann', at: NOW, basedOn: 0 })).ok).toBe(true);
});

afterEach(async () => {
  await alerts.close();
  store.close();
});

describe('telling, on the leader only', () => {
  it('tells once leading, stops when the lead is lost, and tells what came meanwhile when it leads again', async () => {
    const first = (await alerts.alerts.incidents.alarm(raise(), NOW))!;
    fire();
    expect(alerts.telling).toBe(false);
    expect(await notified(first.id)).toBe(0);

    alerts.startTelling();
    fire();
    await until(async () => (await notified(first.id)) === 1, 'the first alarm handed to the outbox');

    await alerts.stopTelling();
    expect(alerts.telling).toBe(false);
    const second = (await alerts.alerts.incidents.alarm(raise({ site: 'northfield' }), NOW))!;
    fire();
    await new Promise((resolve) => setImmediate(resolve));
    expect(due.size).toBe(0);
    expect(await notified(second.id)).toBe(0);

    alerts.startTelling();
    fire();
    await until(async () => (await notified(second.id)) === 1, 'the alarm raised meanwhile handed over once leading again');
    expect(await notified(first.id)).toBe(1);
  });
});
