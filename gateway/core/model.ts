// Shapes shared by the gateway's pieces. The ones that cross the wire are the MQTT contract's (policies/contract).
import type { GatewayEvent } from '../../policies/contract/events.js';

export { ALARM_NAMES, ALARM_SEVERITY, DOOR_STATES } from '../../policies/contract/common.js';
export type { AlarmName, AlarmSeverity, DoorState } from '../../policies/contract/common.js';

/** An event as written to the outbox and published on `events`. */
export type LoggedEvent = GatewayEvent;
