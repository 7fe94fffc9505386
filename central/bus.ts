// What central's pieces tell each other, in process: ingest → live dashboard, replies → command waiters. The kit's
// bus, so a listener's error (a dashboard's stream, the alerting) never reaches ingest, which emits before it
// acknowledges the message, nor the listeners after it.
import { EventBus } from '../kit/event-bus.js';
import type { CommandReply, ReceivedEvent } from '../policies/contract/index.js';
import type { DeskChangeArrival } from './members/desk-changes.js';

export interface CentralBusEvents {
  /** Something a tile shows changed for this site (state or availability). */
  site: [string];
  /** A new event was stored (not a duplicate). */
  event: [ReceivedEvent];
  reply: [{ site: string; reply: CommandReply; correlation: string | null }];
  /** A branch asks for member-list chunks (validated by the members publisher). */
  'members-request': [{ site: string; payload: Buffer }];
  /** A change staff made at a branch's desk (parsed by ingest, or refused with a readable id). */
  'members-change': [{ site: string; arrival: DeskChangeArrival }];
  /** Connected to the broker and subscribed (again). */
  'link-up': [];
  /** The history store failed a write (with why), or took one again after failing. */
  store: [{ ok: false; error: string } | { ok: true }];
}

export class CentralBus extends EventBus<CentralBusEvents> {}
