// The reader on the staff desk (a reader with `role: desk`, docs/members.md "At the desk"). It has no door: a tap
// there is never decided as access. While staff have asked at the console to link a card for a member, the next
// tap there is handed to that link; otherwise it is the last desk tap, for the console's member lookup. The tap path
// asks one thing of it, `isDesk`, a set lookup; everything else happens after the tap has left the reader.
import type { Clock } from './clock.js';

/** How long a desk reader waits for the card staff asked the member to tap. */
export const DESK_LINK_WAIT_MS = 30_000;

/** What a link does with the card tapped for it: called once, on the tap's turn, and must not throw or block. */
export type DeskCapture = (cardHash: Buffer) => void;

/** One change to one member, as the console asks central for it (policies/contract/member-desk.ts). Hashes only. */
export interface DeskChangeRequest {
  /** The console user who made it (the audit's actor). */
  actor: string;
  /** Any card of the member, hashed. */
  member: Buffer;
  change: { kind: 'link-card'; card: Buffer } | { kind: 'set-pin'; pinHash: string } | { kind: 'remove-pin' };
}

/** What became of a change: central's answer, or why there is none. */
export type DeskChangeAnswer =
  | { result: 'done'; message: string; version: number | null }
  | { result: 'refused'; reason: string; message: string }
  /** The link to central is down: nothing was sent. */
  | { result: 'offline' }
  /** Sent, and no answer in time: central may still make it. */
  | { result: 'no-answer' };

/** The way to central for desk changes (gateway/uplink/member-desk.ts): set while the uplink runs. */
export interface DeskChanges {
  readonly connected: boolean;
  send(request: DeskChangeRequest): Promise<DeskChangeAnswer>;
}

interface Armed {
  capture: DeskCapture;
  expiresAt: number;
}

export class DeskReader {
  private readonly ids: ReadonlySet<string>;
  private readonly armed = new Map<string, Armed>();
  private last: { readerId: string; cardHash: Buffer; at: number } | undefined;
  private channel: DeskChanges | undefined;

  constructor(
    readers: readonly string[],
    private readonly clock: Pick<Clock, 'now'>,
  ) {
    this.ids = new Set(readers);
  }

  /** The desk readers' ids, in the config's order. */
  get readers(): readonly string[] {
    return [...this.ids];
  }

  /** The one question the tap path asks. */
  isDesk(readerId: string): boolean {
    return this.ids.has(readerId);
  }

  /** The next tap at `readerId` within DESK_LINK_WAIT_MS goes to `capture`; one link at a time per desk reader. */
  arm(readerId: string, capture: DeskCapture): { ok: true; expiresAt: Date } | { ok: false; error: string } {
    if (!this.ids.has(readerId)) return { ok: false, error: `no desk reader "${readerId}"` };
    const now = this.clock.now().getTime();
    const waiting = this.armed.get(readerId);
    if (waiting !== undefined && waiting.expiresAt > now) {
      return { ok: false, error: `the desk reader is waiting for another card (for ${Math.ceil((waiting.expiresAt - now) / 1000)} s more): try again when that is done` };
    }
    const expiresAt = now + DESK_LINK_WAIT_MS;
    this.armed.set(readerId, { capture, expiresAt });
    return { ok: true, expiresAt: new Date(expiresAt) };
  }

  /** Staff gave up waiting: the reader is free again (only for the link that armed it). */
  disarm(readerId: string, capture: DeskCapture): void {
    if (this.armed.get(readerId)?.capture === capture) this.armed.delete(readerId);
  }

  /** A tap at a desk reader: to the link waiting there, or kept as the last desk tap. Never throws. */
  tapped(readerId: string, cardHash: Buffer): void {
    const now = this.clock.now().getTime();
    const waiting = this.armed.get(readerId);
    this.armed.delete(readerId);
    if (waiting !== undefined && waiting.expiresAt >= now) {
      try {
        waiting.capture(cardHash);
      } catch {
        // The link's own business (it reports in the console); the reader goes on.
      }
      return;
    }
    this.last = { readerId, cardHash, at: now };
  }

  /**
   * The last tap at a desk reader with nothing armed, within the last DESK_LINK_WAIT_MS, for the console's member
   * lookup: taken once, so that the card is not looked up again without being tapped again.
   */
  takeLastTap(): { readerId: string; cardHash: Buffer } | undefined {
    const last = this.last;
    this.last = undefined;
    if (last === undefined || this.clock.now().getTime() - last.at > DESK_LINK_WAIT_MS) return undefined;
    return { readerId: last.readerId, cardHash: last.cardHash };
  }

  /** Set by the uplink while it runs; undefined without a broker configured, or while the uplink is stopped. */
  setChanges(channel: DeskChanges | undefined): void {
    this.channel = channel;
  }

  get changes(): DeskChanges | undefined {
    return this.channel;
  }
}
