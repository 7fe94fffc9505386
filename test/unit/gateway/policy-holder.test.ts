// Which policy is in force at a branch: central's signed sequence, a console override over one of its versions
// until central's next, the file before central sent any; and no number a sender picks can pin the branch.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EventBus } from '../../../gateway/core/bus.js';
import { systemClock } from '../../../gateway/core/clock.js';
import { EventLog } from '../../../gateway/core/event-log.js';
import type { LoggedEvent } from '../../../gateway/core/model.js';
import { PolicyHolder } from '../../../gateway/core/policy-holder.js';
import { openStore } from '../../../gateway/store/index.js';
import type { Store } from '../../../gateway/store/index.js';
import { parsePolicy } from '../../../policies/index.js';
import type { Policy } from '../../../policies/index.js';
import { removeDir } from '../../helpers/gateway-harness.js';

const SITE = 'town-central';
const doc = (version: number, changeoverMinutes = 0): Record<string, unknown> => ({
  version,
  site: SITE,
  schedule: { changeoverMinutes, weekly: { mon: [{ from: '08:00', to: '20:00', mode: 'open-access' }] } },
});
const FILE: Policy = (() => {
  const parsed = parsePolicy(doc(3, 1));
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  return parsed.policy;
})();
/** A console draft: a policy without a version. */
const draft = (changeoverMinutes: number): Record<string, unknown> => {
  const { version: _version, ...rest } = doc(1, changeoverMinutes);
  return rest;
};

let dir: string;
let store: Store;
let events: LoggedEvent[];
const holders: PolicyHolder[] = [];

/** `doors`: the branch's door ids, as the controller hands them from the hardware (`main` first). */
function holder(doors: readonly string[] = ['main']): PolicyHolder {
  const bus = new EventBus();
  bus.on('event-logged', (event) => events.push(event));
  const log = new EventLog({ site: SITE, bus, clock: systemClock, logger: pino({ level: 'silent' }) });
  const made = new PolicyHolder({ site: SITE, doors, store, events: log, bus, clock: systemClock }, FILE);
  holders.push(made);
  return made;
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  vi.setSystemTime(new Date('2026-03-04T12:00:00Z'));
  dir = mkdtempSync(join(tmpdir(), 'oag-policy-'));
  store = openStore(join(dir, 'gateway.sqlite'));
  events = [];
});
afterEach(() => {
  for (const made of holders.splice(0)) made.stop();
  store.close();
  removeDir(dir);
  vi.useRealTimers();
});

describe('the policy in force', () => {
  it('is the file until central sends a version, whatever the numbers; then central 5; an override over 5; central 6 supersedes it', () => {
    const policies = holder();
    expect(policies.status).toMatchObject({ source: 'file', version: 3, central: null, override: null });
    // Central's first version replaces the file even though the file's own number is higher.
    expect(policies.offer(doc(2), 'central')).toMatchObject({ ok: true, version: 2, changed: true });
    expect(policies.offer(doc(5), 'central')).toMatchObject({ ok: true, version: 5, changed: true });
    expect(policies.reported).toEqual({ version: 5, source: 'central' });

    expect(policies.override(draft(10), { actor: 'mia', at: new Date() })).toMatchObject({ ok: true, version: 5 });
    expect(policies.current.schedule.changeoverMinutes).toBe(10);
    expect(policies.status).toMatchObject({ source: 'console', version: 5, central: 5, override: { by: 'mia', at: '2026-03-04T12:00:00.000Z', over: { source: 'central', version: 5 } } });
    expect(policies.reported).toEqual({ version: 5, source: 'console', override: { by: 'mia', at: '2026-03-04T12:00:00.000Z' } });

    // Central's 5 again (a retained message on reconnect) changes nothing: the override stays in force.
    expect(policies.offer(doc(5), 'central')).toMatchObject({ ok: true, changed: false });
    expect(policies.source).toBe('console');
    expect(policies.offer(doc(6), 'central')).toMatchObject({ ok: true, version: 6, changed: true });
    expect(policies.status).toMatchObject({ source: 'central', version: 6, override: null });
    expect(policies.current.schedule.changeoverMinutes).toBe(0);
  });

  it('refuses an older central version and central 5 again with other content, and keeps what was in force', () => {
    const policies = holder();
    policies.offer(doc(5), 'central');
    policies.override(draft(10), { actor: 'mia', at: new Date() });
    const before = policies.status;
    expect(policies.offer(doc(4), 'central')).toEqual({ ok: false, recorded: true, errors: ["version: 4 is older than central's version 5, already applied"] });
    expect(policies.offer(doc(5, 20), 'central')).toMatchObject({ ok: false, errors: [expect.stringMatching(/^version: 5 is central's version already applied, with other content/)] });
    expect(policies.status).toEqual(before);
  });

  it('refuses a version no later one could outrank (2^53−1) at parse, with the reason, from central and from a saved row', () => {
    const policies = holder();
    expect(policies.offer(doc(2 ** 53 - 1), 'central')).toMatchObject({ ok: false, errors: ['version: must be at most 2147483647'] });
    expect(policies.status).toMatchObject({ source: 'file', central: null });
    expect(events.find((e) => e.type === 'policy')).toMatchObject({ result: 'refused', source: 'central', error: 'version: must be at most 2147483647' });
    // A row saved by an older release with such a version is not restored; the file is in force and central's 1 is taken.
    store.settings.set('policy', { source: 'central', document: doc(2 ** 53 - 1) });
    const restarted = holder();
    expect(restarted.status).toMatchObject({ source: 'file', version: 3 });
    expect(restarted.offer(doc(1), 'central')).toMatchObject({ ok: true, version: 1 });
  });

  it('refuses a booking for a door the branch does not have, naming it and the doors there are; keeps it after the door is gone', () => {
    const withRoom = (version: number, door: string): Record<string, unknown> => ({
      ...doc(version),
      bookings: [{ group: 'chess-club', weekly: { day: 'mon', from: '20:00', to: '22:00' }, doors: [door] }],
    });
    const policies = holder(['main', 'meeting-room']);
    const error = 'bookings[0].doors[0]: no door "meeting-rom" at this branch (doors: main, meeting-room)';
    expect(policies.offer(withRoom(5, 'meeting-rom'), 'central')).toEqual({ ok: false, recorded: true, errors: [error] });
    expect(events.filter((e) => e.type === 'policy')).toMatchObject([{ result: 'refused', source: 'central', version: 5, error }]);
    expect(policies.status).toMatchObject({ source: 'file', central: null });
    const { version: _version, ...roomDraft } = withRoom(1, 'meeting-rom');
    expect(policies.override(roomDraft, { actor: 'mia', at: new Date() })).toMatchObject({ ok: false, errors: [error] });
    expect(policies.offer(withRoom(5, 'meeting-room'), 'central')).toMatchObject({ ok: true, version: 5 });
    // The meeting room taken out of the config: central's policy stays in force rather than the older file.
    expect(holder(['main']).status).toMatchObject({ source: 'central', version: 5 });
  });

  it('gives the console no number: an override keeps the version it was made over and cannot outrank central', () => {
    const policies = holder();
    policies.offer(doc(7), 'central');
    // Even a draft carrying a version takes the base's.
    expect(policies.override({ ...draft(10), version: 2 ** 31 - 1 }, { actor: 'mia', at: new Date() })).toMatchObject({ ok: true, version: 7 });
    expect(policies.offer(doc(8), 'central')).toMatchObject({ ok: true, version: 8, changed: true });
    expect(policies.source).toBe('central');
  });

  it('keeps central’s version and the override over it after a restart', () => {
    const first = holder();
    first.offer(doc(5), 'central');
    first.override(draft(10), { actor: 'mia', at: new Date() });
    const again = holder();
    expect(again.status).toEqual(first.status);
    expect(again.current.schedule.changeoverMinutes).toBe(10);
    expect(again.offer(doc(5), 'central')).toMatchObject({ ok: true, changed: false });
    expect(again.offer(doc(4), 'central').ok).toBe(false);
  });

  it('writes one event per kind of refusal per ten minutes, then one with how many more', async () => {
    const policies = holder();
    for (let i = 0; i < 50; i++) policies.offer({ ...doc(9), site: 'village' }, 'central');
    const refusals = (): LoggedEvent[] => events.filter((e) => e.type === 'policy');
    expect(refusals()).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(refusals()).toHaveLength(2);
    expect(refusals()[1]).toMatchObject({ result: 'refused', source: 'central', version: null, error: expect.stringMatching(/^49 more policies from central refused for the same reason since 2026-03-04T12:00:00.000Z; the last: site: "village"/) });
    // A quiet interval writes nothing more; the next refusal after it is written in full again.
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(refusals()).toHaveLength(2);
    expect(policies.offer({ ...doc(9), site: 'village' }, 'central')).toMatchObject({ ok: false, recorded: true });
    expect(refusals()).toHaveLength(3);
  });
});
