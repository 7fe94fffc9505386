import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  ALARM_NAMES,
  allSitesFilter,
  AvailabilitySchema,
  CommandReplySchema,
  CommandSchema,
  CONTRACT_MINOR,
  contractVersionOf,
  EventSchema,
  GatewayStateSchema,
  MembersAnnouncementSchema,
  monotonicUlid,
  parseMessage,
  parseTopic,
  PolicyMessageSchema,
  ReceivedAvailabilitySchema,
  ReceivedCommandReplySchema,
  ReceivedCommandSchema,
  ReceivedEventSchema,
  ReceivedKnownEventSchema,
  ReceivedMembersAnnouncementSchema,
  ReceivedStateSchema,
  topics,
  ulid,
  ulidTime,
  type AlarmName,
  type BranchMode,
  type COMMAND_NAMES,
  type Command,
  type CommandName,
  type DoorState,
  type GatewayEvent,
  type GatewayState,
  type ReceivedState,
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
      membersChange: 'oa/v1/sites/leeds-central/members/change',
      membersChangeReply: 'oa/v1/sites/leeds-central/members/change/reply',
      root: 'oa/v1/sites/leeds-central/',
    });
    expect(parseTopic('oa/v1', t.commandReply)).toEqual({ site: 'leeds-central', kind: 'command/reply' });
    expect(parseTopic('oa/v1', t.events)).toEqual({ site: 'leeds-central', kind: 'events' });
    expect(parseTopic('oa/v1', t.membersChange)).toEqual({ site: 'leeds-central', kind: 'members/change' });
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
    expect(parseMessage(CommandSchema, buf(commandFixture({ text: 'hi' })))).toEqual({ ok: false, errors: ['text: only allowed with announce and help-acknowledged'] });
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

describe('contract versions: a reader takes any 1.x message, a sender sends what its version knows', () => {
  it("reads a newer gateway's state: unknown alarm, mode and door kept as they came, unknown fields dropped", () => {
    const newer = {
      ...stateFixture({ alarms: ['fire'] }),
      v: CONTRACT_MINOR + 1,
      mode: 'quiet-hours',
      door: 'ajar',
      alarms: ['fire', 'smoke-detected'],
      occupancy: { inside: 3, capacity: 40, seated: 2 },
      solar: { watts: 120 },
    };
    const r = parseMessage(ReceivedStateSchema, buf(newer));
    expect(r).toEqual({
      ok: true,
      value: { ...stateFixture(), v: CONTRACT_MINOR + 1, mode: 'quiet-hours', door: 'ajar', alarms: ['fire', 'smoke-detected'], occupancy: { inside: 3, capacity: 40 } },
    });
    // This version's gateway could never have sent it.
    const sent = parseMessage(GatewayStateSchema, buf(newer));
    expect(sent.ok).toBe(false);
    if (!sent.ok) expect(sent.errors).toEqual(expect.arrayContaining(['solar: unknown key', expect.stringMatching(/^alarms\[1\]: must be one of/)]));
  });

  it('reads a message without `v` as 1.0; a site stamps its own minor version, central does not yet', () => {
    const old = parseMessage(ReceivedStateSchema, buf(stateFixture()));
    expect(old.ok && old.value.v).toBe(0);
    expect(old.ok && contractVersionOf(old.value)).toBe('1.0');
    expect(contractVersionOf({ v: 4 })).toBe('1.4');

    expect(GatewayStateSchema.parse(stateFixture()).v).toBe(CONTRACT_MINOR);
    expect(AvailabilitySchema.parse({ state: 'online', at: AT }).v).toBe(CONTRACT_MINOR);
    expect(CommandReplySchema.parse({ ok: true }).v).toBe(CONTRACT_MINOR);
    expect(parseMessage(ReceivedAvailabilitySchema, buf({ state: 'online', at: AT }))).toEqual({ ok: true, value: { v: 0, state: 'online', at: AT } });
    expect(parseMessage(ReceivedCommandReplySchema, buf({ ok: false, error: 'no', extra: 1 }))).toEqual({ ok: true, value: { v: 0, ok: false, error: 'no' } });

    // A 1.0 gateway refuses any key it does not know, `v` included: central leaves it out until they are gone.
    expect('v' in CommandSchema.parse(commandFixture())).toBe(false);
    expect(ReceivedCommandSchema.parse(commandFixture()).v).toBe(0);
  });

  it('reads a command it does not know (the gateway refuses it by name), and still requires text with announce', () => {
    expect(parseMessage(ReceivedCommandSchema, buf({ ...commandFixture(), command: 'output-on', text: 'porch', output: 'porch-light' }))).toEqual({
      ok: true,
      value: { ...commandFixture(), v: 0, command: 'output-on', text: 'porch' },
    });
    expect(parseMessage(ReceivedCommandSchema, buf(commandFixture({ command: 'announce' })))).toEqual({ ok: false, errors: ['text: required with announce'] });
    expect(parseMessage(ReceivedCommandSchema, buf(commandFixture({ text: 'hi' })))).toEqual({ ok: false, errors: ['text: only allowed with announce and help-acknowledged'] });
    expect(parseMessage(ReceivedCommandSchema, buf({ ...commandFixture(), command: 'Open All' }))).toEqual({
      ok: false,
      errors: [expect.stringMatching(/^command: must be a name/)],
    });
  });

  it('still refuses what is not a name, and values out of range, in an open list', () => {
    const r = parseMessage(ReceivedStateSchema, buf({ ...stateFixture(), alarms: ['Smoke!'], occupancy: { inside: -1, capacity: null } }));
    expect(r).toEqual({
      ok: false,
      errors: [expect.stringMatching(/^occupancy\.inside: must be at least 0/), expect.stringMatching(/^alarms\[0\]: must be a name/)],
    });
  });

  it('reads an event of a type it does not know whole, and a known type with names it does not know', () => {
    const base = { id: ulid(Date.parse(AT)), at: AT, site: 'town' };
    const unknown = { ...base, v: CONTRACT_MINOR + 1, type: 'air-quality', sensor: 'reading-room', co2ppm: 900 };
    expect(parseMessage(ReceivedEventSchema, buf(unknown))).toEqual({ ok: true, value: unknown });
    const alarm = { ...base, type: 'alarm', alarm: 'smoke-detected', state: 'raised', zone: 'stacks' };
    expect(parseMessage(ReceivedEventSchema, buf(alarm))).toEqual({ ok: true, value: { ...base, v: 0, type: 'alarm', alarm: 'smoke-detected', state: 'raised' } });
    // Severity (1.2) is an open list too: a newer gateway's level is kept as it came.
    const urgent = { ...base, v: CONTRACT_MINOR + 1, type: 'alarm', alarm: 'fire', state: 'raised', severity: 'life-safety' };
    expect(parseMessage(ReceivedEventSchema, buf(urgent))).toEqual({ ok: true, value: urgent });
    expect(parseMessage(EventSchema, buf({ ...urgent, v: CONTRACT_MINOR })).ok).toBe(false);
    expect(parseMessage(EventSchema, buf({ ...urgent, v: CONTRACT_MINOR, severity: 'critical' })).ok).toBe(true);
    // An unknown reason cannot contradict the decision; a known one still must agree with it.
    expect(parseMessage(ReceivedEventSchema, buf(accessEvent({ decision: 'refused', reason: 'card-cloned' as never }))).ok).toBe(true);
    expect(parseMessage(ReceivedEventSchema, buf(accessEvent({ reason: 'expired' })))).toEqual({ ok: false, errors: ['reason: must be a grant reason when decision is granted'] });
    // The sender's schema knows only its own types.
    expect(parseMessage(EventSchema, buf(unknown)).ok).toBe(false);
  });

  it('refuses a bad event of any type, with the errors of the schema it was meant for', () => {
    expect(parseMessage(ReceivedEventSchema, buf({ ...occupancyEvent(1), id: '123' }))).toEqual({ ok: false, errors: [expect.stringMatching(/^id: must be a ULID/)] });
    expect(parseMessage(ReceivedEventSchema, buf({ ...occupancyEvent(1), type: 'Coffee Break' }))).toEqual({ ok: false, errors: [expect.stringMatching(/^type: must be a name/)] });
    expect(parseMessage(ReceivedEventSchema, buf({ ...occupancyEvent(1), type: 'coffee', id: '123' }))).toEqual({ ok: false, errors: [expect.stringMatching(/^id: must be a ULID/)] });
    // A known type with a field missing fails both forms; its own schema says which field.
    const { inside: _inside, ...noInside } = occupancyEvent(1) as Extract<GatewayEvent, { type: 'occupancy' }>;
    expect(parseMessage(ReceivedEventSchema, buf(noInside)).ok).toBe(false);
    expect(parseMessage(ReceivedKnownEventSchema, buf(noInside))).toEqual({ ok: false, errors: ['inside: required'] });
  });

  it("reads a 1.0 central's member-list announcement and a newer one with a field it does not know", () => {
    const announcement = {
      version: 3,
      count: 10,
      hash: 'a'.repeat(64),
      keyId: '0123456789abcdef',
      at: AT,
      createdAt: AT,
      chunkSize: 5000,
      deltasFrom: 1,
    };
    expect(parseMessage(ReceivedMembersAnnouncementSchema, buf(announcement))).toEqual({ ok: true, value: { ...announcement, v: 0 } });
    expect(parseMessage(ReceivedMembersAnnouncementSchema, buf({ ...announcement, v: 2, compression: 'zstd' }))).toEqual({
      ok: true,
      value: { ...announcement, v: 2 },
    });
    expect(parseMessage(MembersAnnouncementSchema, buf({ ...announcement, compression: 'zstd' })).ok).toBe(false);
  });
});

describe('known names', () => {
  it("are what a sender's TypeScript types allow", () => {
    expectTypeOf<AlarmName>().toEqualTypeOf<(typeof ALARM_NAMES)[number]>();
    expectTypeOf<'storage' | 'uplink-failed' | 'local-api-failed' | 'sip2-failed' | 'member-sync-failed' | 'retention-failed' | 'listener-failed' | 'config-invalid'>().toExtend<AlarmName>();
    expectTypeOf<GatewayState['alarms'][number]>().toEqualTypeOf<AlarmName>();
    expectTypeOf<GatewayState['mode']>().toEqualTypeOf<BranchMode>();
    expectTypeOf<GatewayState['door']>().toEqualTypeOf<DoorState>();
    expectTypeOf<Extract<GatewayEvent, { type: 'alarm' }>['alarm']>().toEqualTypeOf<AlarmName>();
    expectTypeOf<Command['command']>().toEqualTypeOf<CommandName>();
    expectTypeOf<CommandName>().toEqualTypeOf<(typeof COMMAND_NAMES)[number]>();
    // A reader takes any name.
    expectTypeOf<ReceivedState['alarms'][number]>().toEqualTypeOf<string>();
    // @ts-expect-error a gateway cannot send an alarm its version does not know
    const unknownAlarm: GatewayState = stateFixture({ alarms: ['smoke-detected'] });
    expect(unknownAlarm.alarms).toHaveLength(1);
  });

  it('include the alarms this version adds', () => {
    expect(ALARM_NAMES).toEqual(
      expect.arrayContaining(['storage', 'uplink-failed', 'local-api-failed', 'sip2-failed', 'member-sync-failed', 'retention-failed', 'listener-failed', 'config-invalid']),
    );
  });
});

describe('1.9: the building runs itself', () => {
  const base = { v: CONTRACT_MINOR, id: ulid(Date.parse(AT)), at: AT, site: 'town' };

  it('carries a switched output, the intruder alarm and an announcement as events of their own', () => {
    const events = [
      { ...base, type: 'output', output: 'pcs', on: false, by: 'schedule' },
      { ...base, type: 'intruder-alarm', action: 'set', outcome: 'failed', by: 'empty after close' },
      { ...base, type: 'announcement', phrase: 'evacuate', languages: ['cy', 'en'], outcome: 'played' },
    ];
    for (const event of events) expect(parseMessage(EventSchema, buf(event))).toEqual({ ok: true, value: event });
    expect(parseMessage(EventSchema, buf({ ...events[0], output: 'PCs on' })).ok).toBe(false);
    expect(parseMessage(EventSchema, buf({ ...events[1], action: 'arm' })).ok).toBe(false);
    // A central of 1.8 would have kept these whole as unknown types; a 1.9 reader also takes an outcome it does not know.
    expect(parseMessage(ReceivedEventSchema, buf({ ...events[2], v: CONTRACT_MINOR + 1, outcome: 'queued-elsewhere' })).ok).toBe(true);
  });

  it("reads the outputs, the panel and `secured` in a branch's state, and an older state without them", () => {
    const state = stateFixture({ outputs: [{ id: 'pcs', on: true, label: 'Public PCs' }], intruderAlarm: { state: 'setting', since: AT }, secured: false });
    expect(parseMessage(ReceivedStateSchema, buf(state))).toMatchObject({ ok: true, value: { outputs: [{ id: 'pcs', on: true }], intruderAlarm: { state: 'setting' }, secured: false } });
    expect(parseMessage(ReceivedStateSchema, buf(stateFixture()))).toMatchObject({ ok: true });
    // @ts-expect-error a gateway cannot send a panel state its version does not know
    const armed: GatewayState = stateFixture({ intruderAlarm: { state: 'armed', since: AT } });
    expect(parseMessage(GatewayStateSchema, buf(armed)).ok).toBe(false);
  });
});
