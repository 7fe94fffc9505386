import { describe, expect, it } from 'vitest';
import {
  allSitesFilter,
  AvailabilitySchema,
  CommandReplySchema,
  CommandSchema,
  EventSchema,
  GatewayStateSchema,
  monotonicUlid,
  parseMessage,
  parseTopic,
  PolicyMessageSchema,
  topics,
  ulid,
  ulidTime,
} from '../../../policies/contract/index.js';
import { accessEvent, AT, commandFixture, occupancyEvent, stateFixture } from './fixtures.js';

const buf = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

describe('topics', () => {
  it('builds every site topic under the prefix and parses them back', () => {
    const t = topics('oa/v1', 'leeds-central');
    expect(t).toEqual({
      availability: 'oa/v1/sites/leeds-central/availability',
      state: 'oa/v1/sites/leeds-central/state',
      events: 'oa/v1/sites/leeds-central/events',
      command: 'oa/v1/sites/leeds-central/command',
      commandReply: 'oa/v1/sites/leeds-central/command/reply',
      policy: 'oa/v1/sites/leeds-central/policy',
      membersRequest: 'oa/v1/sites/leeds-central/members/request',
      membersChunk: 'oa/v1/sites/leeds-central/members/chunk',
      root: 'oa/v1/sites/leeds-central/',
    });
    expect(parseTopic('oa/v1', t.commandReply)).toEqual({ site: 'leeds-central', kind: 'command/reply' });
    expect(parseTopic('oa/v1', t.events)).toEqual({ site: 'leeds-central', kind: 'events' });
    expect(allSitesFilter('x/y')).toBe('x/y/sites/+/#');
  });

  it('refuses site ids and prefixes that would break out of a topic level', () => {
    expect(() => topics('oa/v1', 'a/b')).toThrow(/site id/);
    expect(() => topics('oa/v1', '+')).toThrow(/site id/);
    expect(() => topics('oa/#', 'town')).toThrow(/prefix/);
    expect(parseTopic('oa/v1', 'oa/v1/sites/town/secrets')).toBeNull();
    expect(parseTopic('oa/v1', 'other/v1/sites/town/events')).toBeNull();
    expect(parseTopic('oa/v1', 'oa/v1/sites/Town/events')).toBeNull();
  });
});

describe('availability', () => {
  it('accepts online/offline with a time and names a bad state', () => {
    expect(parseMessage(AvailabilitySchema, buf({ state: 'online', at: AT })).ok).toBe(true);
    expect(parseMessage(AvailabilitySchema, buf({ state: 'asleep', at: AT }))).toEqual({
      ok: false,
      errors: [expect.stringMatching(/^state: must be one of "online", "offline"/)],
    });
  });
});

describe('state', () => {
  it('accepts a full state', () => {
    expect(parseMessage(GatewayStateSchema, buf(stateFixture())).ok).toBe(true);
    expect(parseMessage(GatewayStateSchema, buf(stateFixture({ memberList: null, modeUntil: null }))).ok).toBe(true);
  });

  it('names each wrong field', () => {
    const bad = stateFixture({
      occupancy: { inside: -1, capacity: 0 },
      alarms: ['fire', 'smoke' as never],
      door: 'ajar' as never,
    });
    const r = parseMessage(GatewayStateSchema, buf({ ...bad, extra: 1 }));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^occupancy\.inside: must be at least 0/),
        expect.stringMatching(/^occupancy\.capacity: must be greater than 0/),
        expect.stringMatching(/^alarms\[1\]: must be one of/),
        expect.stringMatching(/^door: must be one of/),
        'extra: unknown key',
      ]),
    );
  });

  it('refuses a local time without an offset', () => {
    const r = parseMessage(GatewayStateSchema, buf(stateFixture({ at: '2025-06-02T09:30:00' })));
    expect(r).toEqual({ ok: false, errors: [expect.stringMatching(/^at: must be an ISO 8601 date-time/)] });
  });
});

describe('events', () => {
  it('accepts every event type', () => {
    const base = { id: ulid(Date.parse(AT)), at: AT, site: 'town' };
    const all = [
      accessEvent(),
      accessEvent({ decision: 'refused', reason: 'expired', person: null }),
      { ...base, type: 'door', state: 'forced-open' },
      { ...base, type: 'alarm', alarm: 'held-open', state: 'raised', detail: 'door open 45 s' },
      { ...base, type: 'mode', from: 'staffed', to: 'open-access', until: '2025-06-02T20:00:00+01:00' },
      occupancyEvent(4),
      { ...base, type: 'staff', action: 'unlock', actor: 'central:alice' },
      { ...base, type: 'policy', result: 'refused', version: null, source: 'central', error: 'schedule.weekly.mon[0].to: must be after from' },
      { ...base, type: 'members', result: 'applied', version: 12, count: 5000 },
      { ...base, type: 'system', what: 'start' },
      { ...base, type: 'warning', minutesLeft: 15 },
    ];
    for (const e of all) expect(parseMessage(EventSchema, buf(e)), JSON.stringify(e)).toMatchObject({ ok: true });
  });

  it('refuses an unknown type, a bad id, a clear card number and a grant with a refusal reason', () => {
    expect(parseMessage(EventSchema, buf({ ...occupancyEvent(1), type: 'coffee' })).ok).toBe(false);
    expect(parseMessage(EventSchema, buf({ ...occupancyEvent(1), id: '123' }))).toEqual({
      ok: false,
      errors: [expect.stringMatching(/^id: must be a ULID/)],
    });
    expect(parseMessage(EventSchema, buf(accessEvent({ person: '04a2246a8b2c80' })))).toEqual({
      ok: false,
      errors: [expect.stringMatching(/^person: must be an 8-character hex pseudonym/)],
    });
    expect(parseMessage(EventSchema, buf(accessEvent({ reason: 'expired' })))).toEqual({
      ok: false,
      errors: ['reason: must be a grant reason when decision is granted'],
    });
    expect(parseMessage(EventSchema, buf(accessEvent({ decision: 'refused', reason: 'member' })))).toEqual({
      ok: false,
      errors: ['reason: must be a refusal reason when decision is refused'],
    });
  });

  it('says so when the payload is not JSON or empty', () => {
    expect(parseMessage(EventSchema, Buffer.from('{"id":'))).toEqual({ ok: false, errors: [expect.stringMatching(/^\(root\): not JSON/)] });
    expect(parseMessage(EventSchema, Buffer.alloc(0))).toEqual({ ok: false, errors: ['(root): empty payload'] });
  });
});

describe('command', () => {
  it('accepts each command and requires text with announce only', () => {
    expect(parseMessage(CommandSchema, buf(commandFixture())).ok).toBe(true);
    expect(parseMessage(CommandSchema, buf(commandFixture({ command: 'announce', text: 'Closing soon' }))).ok).toBe(true);
    expect(parseMessage(CommandSchema, buf(commandFixture({ command: 'announce' })))).toEqual({ ok: false, errors: ['text: required with announce'] });
    expect(parseMessage(CommandSchema, buf(commandFixture({ text: 'hi' })))).toEqual({ ok: false, errors: ['text: only allowed with announce'] });
  });

  it('names an unknown command and a bad id', () => {
    const r = parseMessage(CommandSchema, buf({ ...commandFixture(), command: 'open-all', id: 'x' }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors).toEqual([expect.stringMatching(/^id: must be a UUID/), expect.stringMatching(/^command: must be one of "unlock"/)]);
  });

  it('has replies that are ok, or not ok with an error', () => {
    expect(parseMessage(CommandReplySchema, buf({ ok: true })).ok).toBe(true);
    expect(parseMessage(CommandReplySchema, buf({ ok: false, error: 'not in lockdown' })).ok).toBe(true);
    expect(parseMessage(CommandReplySchema, buf({ ok: false })).ok).toBe(false);
  });
});

describe('policy', () => {
  it('is the policies schema: a bad window is named by its path', () => {
    const r = parseMessage(
      PolicyMessageSchema,
      buf({ version: 2, site: 'town', schedule: { weekly: { mon: [{ from: '10:00', to: '09:00', mode: 'open-access' }] } } }),
    );
    expect(r).toEqual({ ok: false, errors: ['schedule.weekly.mon[0].to: must be after from'] });
  });
});

describe('ulid', () => {
  it('encodes the time first, so ids sort by time, also within one millisecond', () => {
    const next = monotonicUlid();
    const ids = [next(1000), next(1000), next(1000), next(999), next(2000)];
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(5);
    expect(ulidTime(ids[0]!)).toBe(1000);
    expect(ulid(Date.parse(AT))).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
  });
});
