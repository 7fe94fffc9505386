// Card readers played by hand: one object serves every reader configured with `driver: simulated`.
import { EventEmitter } from 'node:events';
import { readerText } from '../readers/uid.js';
import type { CardReader, CardReaderEvents, CardTap, ReaderRole, SimulatedReaderControls } from '../types.js';

export interface SimulatedReaderEntry {
  id: string;
  role: ReaderRole;
}

interface Slot extends SimulatedReaderEntry {
  online: boolean;
  detail: string | undefined;
}

export class SimulatedCardReader extends EventEmitter<CardReaderEvents> implements CardReader, SimulatedReaderControls {
  readonly kind = 'simulated' as const;
  private readonly slots = new Map<string, Slot>();
  private readonly defaultId: string;

  constructor(entries: readonly SimulatedReaderEntry[]) {
    super();
    const first = entries[0];
    if (first === undefined) throw new Error('a simulated card reader needs at least one reader entry');
    // Entry readers first, so that a tap with no reader named goes to the entry door.
    const ordered = [...entries.filter((e) => e.role === 'entry'), ...entries.filter((e) => e.role !== 'entry')];
    for (const entry of ordered) this.slots.set(entry.id, { ...entry, online: true, detail: undefined });
    this.defaultId = ordered[0]?.id ?? first.id;
  }

  get readerIds(): readonly string[] {
    return [...this.slots.keys()];
  }

  async start(): Promise<void> {
    for (const slot of this.slots.values()) this.emitStatus(slot);
  }

  async stop(): Promise<void> {}

  tap(uid: string, readerId?: string): CardTap | undefined {
    const slot = this.slot(readerId);
    const normalised = readerText(uid);
    if (!slot.online) return undefined;
    const tap: CardTap = { uid: normalised, readerId: slot.id, role: slot.role, seenAt: process.hrtime.bigint() };
    this.emit('tap', tap);
    return tap;
  }

  failRead(readerId?: string, message = 'card could not be read'): void {
    const slot = this.slot(readerId);
    this.emit('read-error', { readerId: slot.id, role: slot.role, message });
  }

  setOnline(readerId: string, online: boolean, detail?: string): void {
    const slot = this.slot(readerId);
    if (slot.online === online) return;
    slot.online = online;
    slot.detail = online ? undefined : (detail ?? 'simulated reader unplugged');
    this.emitStatus(slot);
  }

  private emitStatus(slot: Slot): void {
    this.emit('status', { readerId: slot.id, role: slot.role, online: slot.online, detail: slot.detail });
  }

  private slot(readerId: string | undefined): Slot {
    const id = readerId ?? this.defaultId;
    const slot = this.slots.get(id);
    if (slot === undefined) throw new Error(`no simulated reader "${id}" (simulated readers: ${this.readerIds.join(', ')})`);
    return slot;
  }
}
