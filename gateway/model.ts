// Shapes shared by the gateway's pieces. The ones that cross the wire are the MQTT contract's
// (policies/contract); these aliases keep the gateway's code readable.
export const DOOR_STATES = ['locked', 'unlocked', 'open', 'held-open', 'forced-open', 'released', 'lockdown'] as const;
export type DoorState = (typeof DOOR_STATES)[number];

export const ALARM_NAMES = [
  'forced-open',
  'held-open',
  'fire',
  'tamper',
  'people-inside-after-close',
  'reader-offline',
  'clock-untrusted',
  'member-list-stale',
  'policy-refused',
] as const;
export type AlarmName = (typeof ALARM_NAMES)[number];

/** An event as written to the outbox and published on `events`. */
export interface LoggedEvent {
  id: string;
  at: string;
  site: string;
  type: string;
  [field: string]: unknown;
}
