// 1.8, several doors: a command may name the door it is for, and the state lists every door at a branch with several.
import { describe, expect, it } from 'vitest';
import { CommandSchema, EventSchema, GatewayStateSchema, parseMessage, ReceivedCommandSchema, ReceivedStateSchema } from '../../../policies/contract/index.js';
import { commandFixture, eventId, AT, stateFixture } from './fixtures.js';

const buf = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

describe('several doors in the contract (1.8)', () => {
  it('unlock and lock may name a door; another command naming one is refused by field', () => {
    expect(parseMessage(CommandSchema, buf(commandFixture({ command: 'unlock', door: 'meeting-room' }))).ok).toBe(true);
    expect(parseMessage(ReceivedCommandSchema, buf(commandFixture({ command: 'lock', door: 'meeting-room' }))).ok).toBe(true);
    expect(parseMessage(CommandSchema, buf(commandFixture({ command: 'lights-on', door: 'meeting-room' })))).toEqual({
      ok: false,
      errors: ['door: only allowed with unlock and lock'],
    });
    expect(parseMessage(CommandSchema, buf(commandFixture({ command: 'unlock', door: 'Meeting Room' }))).ok).toBe(false);
  });

  it("the state lists each door's state, and a state without the list (one door, an older gateway) still reads", () => {
    const doors = [
      { id: 'main', state: 'locked' as const },
      { id: 'meeting-room', state: 'forced-open' as const },
    ];
    expect(GatewayStateSchema.parse(stateFixture({ doors })).doors).toEqual(doors);
    expect(ReceivedStateSchema.parse(stateFixture()).doors).toBeUndefined();
  });

  it('a door event names its door at a branch with several', () => {
    const event = { id: eventId(), at: AT, site: 'town', type: 'door', state: 'open', door: 'meeting-room' };
    expect(EventSchema.parse(event)).toMatchObject({ door: 'meeting-room' });
  });
});
