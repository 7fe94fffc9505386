// The contract as a list: which message goes on which topic, in which direction, retained or not, at which QoS.
// The AsyncAPI document (docs/asyncapi.yaml) is generated from this list and the schemas it names.
import type { z } from 'zod';
import { AvailabilitySchema } from './availability.js';
import { CommandReplySchema, CommandSchema } from './command.js';
import { EventSchema } from './events.js';
import { PolicyMessageSchema } from './policy.js';
import { GatewayStateSchema } from './state.js';
import type { SiteTopicKind } from './topics.js';

export interface ContractMessage {
  name: string;
  kind: SiteTopicKind;
  /** `site` publishes it (central receives); `central` publishes it (the site receives). */
  from: 'site' | 'central';
  retained: boolean;
  qos: 0 | 1;
  schema: z.ZodType;
  summary: string;
}

export const CONTRACT_MESSAGES: readonly ContractMessage[] = [
  {
    name: 'availability',
    kind: 'availability',
    from: 'site',
    retained: true,
    qos: 1,
    schema: AvailabilitySchema,
    summary: 'Online on every connect; offline as the MQTT last will and on a clean stop.',
  },
  {
    name: 'state',
    kind: 'state',
    from: 'site',
    retained: true,
    qos: 1,
    schema: GatewayStateSchema,
    summary: 'The branch now: mode, door, lights, occupancy, alarms, versions, clock trust. Republished on every change.',
  },
  {
    name: 'event',
    kind: 'events',
    from: 'site',
    retained: false,
    qos: 1,
    schema: EventSchema,
    summary: 'One event from the gateway outbox, in order, unique ULID id; resent after an outage until acknowledged.',
  },
  {
    name: 'command',
    kind: 'command',
    from: 'central',
    retained: false,
    qos: 1,
    schema: CommandSchema,
    summary: 'A command to one branch; refused when retained or older than 10 s. MQTT 5 response topic + correlation data.',
  },
  {
    name: 'commandReply',
    kind: 'command/reply',
    from: 'site',
    retained: false,
    qos: 1,
    schema: CommandReplySchema,
    summary: 'The answer to a command, with the request correlation data (MQTT 5) and the command id.',
  },
  {
    name: 'policy',
    kind: 'policy',
    from: 'central',
    retained: true,
    qos: 1,
    schema: PolicyMessageSchema,
    summary: 'The branch policy document (schedule, bookings, rules), versioned; invalid ones are refused by the gateway.',
  },
];
