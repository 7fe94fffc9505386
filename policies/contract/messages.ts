// The contract as a list: which message goes on which topic, in which direction, retained or not, at which QoS.
// The AsyncAPI document (docs/asyncapi.yaml) is generated from this list and the schemas it names: the readers'
// schemas, since what every reader of v1 accepts is the contract; a sender sends the part its version knows.
import type { z } from 'zod';
import { ReceivedAvailabilitySchema } from './availability.js';
import { ReceivedCommandReplySchema, ReceivedCommandSchema } from './command.js';
import { ReceivedEventSchema } from './events.js';
import { ReceivedMemberDeskChangeSchema, ReceivedMemberDeskReplySchema } from './member-desk.js';
import { ReceivedMembersAnnouncementSchema, ReceivedMembersRequestSchema, ReceivedMembersTransferSchema } from './members.js';
import { PolicyMessageSchema } from './policy.js';
import { ReceivedStateSchema } from './state.js';
import type { SharedTopicKind, SiteTopicKind } from './topics.js';

export interface ContractMessage {
  name: string;
  /** Under `{prefix}/sites/{site}/`, or (`shared`) under `{prefix}/` for every site. */
  kind: SiteTopicKind | SharedTopicKind;
  shared?: boolean;
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
    schema: ReceivedAvailabilitySchema,
    summary: 'Online on every connect; offline as the MQTT last will and on a clean stop.',
  },
  {
    name: 'state',
    kind: 'state',
    from: 'site',
    retained: true,
    qos: 1,
    schema: ReceivedStateSchema,
    summary: 'The branch now: mode, door, lights, occupancy, alarms, versions, clock trust. Republished on every change.',
  },
  {
    name: 'event',
    kind: 'events',
    from: 'site',
    retained: false,
    qos: 1,
    schema: ReceivedEventSchema,
    summary: 'One event from the gateway outbox, in order, unique ULID id; resent after an outage until acknowledged.',
  },
  {
    name: 'command',
    kind: 'command',
    from: 'central',
    retained: false,
    qos: 1,
    schema: ReceivedCommandSchema,
    summary: 'A command to one branch; refused when retained, or more than 10 s off the branch clock unless it only secures the branch (lock, lockdown-on). MQTT 5 response topic + correlation data.',
  },
  {
    name: 'commandReply',
    kind: 'command/reply',
    from: 'site',
    retained: false,
    qos: 1,
    schema: ReceivedCommandReplySchema,
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
  {
    name: 'membersAnnouncement',
    kind: 'members/current',
    shared: true,
    from: 'central',
    retained: true,
    qos: 1,
    schema: ReceivedMembersAnnouncementSchema,
    summary:
      'The current member list: version, count, list hash, deployment key id. Retained; on every new version at once and at least hourly. Every site may read it.',
  },
  {
    name: 'membersRequest',
    kind: 'members/request',
    from: 'site',
    retained: false,
    qos: 1,
    schema: ReceivedMembersRequestSchema,
    summary:
      'The branch pulls a window of chunks of the announced version: a delta from the list it holds when central keeps one, else a snapshot; resumes from the first chunk it lacks.',
  },
  {
    name: 'membersTransfer',
    kind: 'members/chunk',
    from: 'central',
    retained: false,
    qos: 1,
    schema: ReceivedMembersTransferSchema,
    summary:
      'One chunk of a transfer (index of total, its SHA-256, the version count and hash), or a refusal (superseded, unknown version, key mismatch). The branch stages chunks and applies the version atomically once count and hash check.',
  },
  {
    name: 'memberDeskChange',
    kind: 'members/change',
    from: 'site',
    retained: false,
    qos: 1,
    schema: ReceivedMemberDeskChangeSchema,
    summary:
      'A change staff made at the desk (1.10): link the card the member tapped at the desk reader, or set or remove their open-access PIN (hashed at the branch). Names the member by any card hash and the staff user; central applies an id once and refuses one older than 60 s.',
  },
  {
    name: 'memberDeskReply',
    kind: 'members/change/reply',
    from: 'central',
    retained: false,
    qos: 1,
    schema: ReceivedMemberDeskReplySchema,
    summary: "Central's answer to a desk change, signed: done, with the list version that carries it, or refused with the reason and what to tell the staff user.",
  },
];
