// Valid contract messages to start from in tests; each test changes one field.
import { monotonicUlid, type Command, type GatewayEvent, type GatewayState, type OCCUPANCY_CHANGES } from '../../../policies/contract/index.js';

export const AT = '2025-06-02T09:30:00.000Z';
const nextId = monotonicUlid();

export function eventId(ms = Date.parse(AT)): string {
  return nextId(ms);
}

export function stateFixture(over: Partial<GatewayState> = {}): GatewayState {
  return {
    site: 'town',
    at: AT,
    mode: 'open-access',
    modeSince: '2025-06-02T08:00:00.000Z',
    modeUntil: '2025-06-02T18:00:00.000Z',
    door: 'locked',
    lights: true,
    occupancy: { inside: 3, capacity: 40 },
    alarms: [],
    memberList: { version: 7, count: 1200, updatedAt: '2025-06-01T02:00:00.000Z' },
    policy: { version: 3, source: 'file' },
    clock: { trusted: true },
    readers: [
      { id: 'entry-1', role: 'entry', online: true },
      { id: 'exit-1', role: 'exit', online: true },
    ],
    ...over,
  };
}

export function accessEvent(over: Partial<Extract<GatewayEvent, { type: 'access' }>> = {}): GatewayEvent {
  return {
    id: eventId(),
    at: AT,
    site: 'town',
    type: 'access',
    decision: 'granted',
    reason: 'member',
    mode: 'open-access',
    reader: 'entry',
    person: '0a1b2c3d',
    ...over,
  };
}

export function occupancyEvent(inside: number, at = AT, site = 'town', change: (typeof OCCUPANCY_CHANGES)[number] = 'entry'): GatewayEvent {
  return { id: eventId(Date.parse(at)), at, site, type: 'occupancy', change, inside };
}

export function commandFixture(over: Partial<Command> = {}, at = AT): Command {
  return { id: '3b241101-e2bb-4255-8caf-4136c566a962', at, command: 'unlock', actor: 'alice', ...over };
}
