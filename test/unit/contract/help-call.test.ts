// Contract 1.4, the help-call button: the alarm central pages on, the command that tells the branch someone is
// coming, and the state that shows it; older readers keep reading all of it.
import { describe, expect, it } from 'vitest';
import {
  ALARM_SEVERITY,
  CommandSchema,
  CONTRACT_MINOR,
  EventSchema,
  GatewayStateSchema,
  parseMessage,
  ReceivedCommandSchema,
  ReceivedEventSchema,
  ReceivedStateSchema,
} from '../../../policies/contract/index.js';
import { AT, commandFixture, eventId, stateFixture } from './fixtures.js';

const buf = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
const OPEN_CALL = { requested: true, since: AT, presses: 2, acknowledgedBy: 'Sam Okafor', acknowledgedAt: AT };

describe('help-requested', () => {
  it('is a critical alarm, the highest severity, sent and read with it', () => {
    expect(ALARM_SEVERITY['help-requested']).toBe('critical');
    const event = { id: eventId(), at: AT, site: 'town', type: 'alarm', alarm: 'help-requested', state: 'raised', severity: 'critical' };
    expect(parseMessage(EventSchema, buf(event)).ok).toBe(true);
    expect(parseMessage(ReceivedEventSchema, buf(event))).toEqual({ ok: true, value: { ...event, v: 0 } });
  });

  it('is one of the state\'s active alarms beside the help object', () => {
    const state = { ...stateFixture(), v: CONTRACT_MINOR, alarms: ['help-requested'], help: OPEN_CALL };
    const read = parseMessage(ReceivedStateSchema, buf(state));
    expect(read.ok && read.value.alarms).toEqual(['help-requested']);
  });
});

describe('help-acknowledged', () => {
  it('carries who acknowledged in text, and requires it', () => {
    expect(parseMessage(CommandSchema, buf(commandFixture({ command: 'help-acknowledged', text: 'Sam Okafor' }))).ok).toBe(true);
    expect(parseMessage(CommandSchema, buf(commandFixture({ command: 'help-acknowledged' })))).toEqual({ ok: false, errors: ['text: required with help-acknowledged'] });
    expect(parseMessage(ReceivedCommandSchema, buf(commandFixture({ command: 'help-acknowledged' })))).toEqual({
      ok: false,
      errors: ['text: required with help-acknowledged'],
    });
  });

  it('refuses a name that is too long or more than one line, naming why', () => {
    expect(parseMessage(CommandSchema, buf(commandFixture({ command: 'help-acknowledged', text: 'x'.repeat(65) })))).toEqual({
      ok: false,
      errors: ['text: must be at most 64 characters (who acknowledged)'],
    });
    expect(parseMessage(ReceivedCommandSchema, buf(commandFixture({ command: 'help-acknowledged', text: 'Sam\nOkafor' })))).toEqual({
      ok: false,
      errors: ['text: must be one line without control characters (who acknowledged)'],
    });
    expect(parseMessage(CommandSchema, buf(commandFixture({ command: 'help-acknowledged', text: 'x'.repeat(64) }))).ok).toBe(true);
  });
});

describe('help in the state', () => {
  it('is sent whole, open or not', () => {
    expect(GatewayStateSchema.parse(stateFixture({ help: OPEN_CALL })).help).toEqual(OPEN_CALL);
    const none = { requested: false, since: null, presses: 0, acknowledgedBy: null, acknowledgedAt: null };
    expect(GatewayStateSchema.parse(stateFixture({ help: none })).help).toEqual(none);
  });

  it('is optional: a state from a gateway before 1.4 reads without it', () => {
    const read = parseMessage(ReceivedStateSchema, buf(stateFixture()));
    expect(read.ok && read.value.help).toBeUndefined();
  });

  it("names a bad field, and keeps a newer gateway's extra field out", () => {
    const bad = parseMessage(ReceivedStateSchema, buf(stateFixture({ help: { ...OPEN_CALL, presses: -1, acknowledgedAt: '21:00' } })));
    expect(bad).toEqual({ ok: false, errors: [expect.stringMatching(/^help\.presses: /), expect.stringMatching(/^help\.acknowledgedAt: must be an ISO 8601/)] });
    const newer = parseMessage(ReceivedStateSchema, buf({ ...stateFixture({ help: OPEN_CALL }), v: CONTRACT_MINOR + 1, help: { ...OPEN_CALL, channel: 'intercom' } }));
    expect(newer.ok && newer.value.help).toEqual(OPEN_CALL);
  });
});
