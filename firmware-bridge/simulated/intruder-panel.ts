// A simulated intruder-alarm panel on the end of the simulated `intruderAlarm` wiring, for tests and the demo: a
// device model, as a simulated contact is. Its keyswitch zone is momentary: a contact on `set` held long enough
// starts the exit time and the panel is set at its end (its PGM output, our `status` input, goes active); a contact
// on `unset` unsets it a moment later. A panel with a zone open will not set: then nothing happens at all.
import type { SimulatedIntruderAlarmControls } from '../types.js';

/** The timers the panel runs on: the gateway's Clock fits, and so does the tests' TestClock. */
export interface PanelClock<T> {
  setTimeout(callback: () => void, ms: number): T;
  clearTimeout(timer: T | undefined): void;
}

export interface SimulatedIntruderPanelOptions<T> {
  /** The simulated set and unset outputs and status input (`hw.simulated.intruderAlarm`). */
  wiring: SimulatedIntruderAlarmControls;
  clock: PanelClock<T>;
  /** The panel's exit time: how long after a set contact it is set. 30 s unless told. */
  exitDelayMs?: number;
  /** A zone is open: a set contact is ignored, as a real panel that will not set ignores it. */
  refuseSet?: boolean;
}

/** How long a keyswitch contact must be held to count (panels ignore shorter ones as noise). */
export const PANEL_CONTACT_MS = 200;
/** How long after an unset contact the panel's PGM output drops. */
export const PANEL_UNSET_MS = 1000;
/** A panel's exit time, counted from when it took the set contact. */
export const PANEL_EXIT_DELAY_MS = 30_000;

export type PanelState = 'unset' | 'exit' | 'set';

export class SimulatedIntruderPanel<T = unknown> {
  /** A zone open: set contacts are ignored until it is false again. */
  refuseSet: boolean;
  private readonly exitDelayMs: number;
  private current: PanelState = 'unset';
  private exitTimer: T | undefined;
  private dropTimer: T | undefined;
  private readonly contacts: Array<{ timer: T | undefined; active: boolean }> = [];

  constructor(private readonly options: SimulatedIntruderPanelOptions<T>) {
    this.refuseSet = options.refuseSet ?? false;
    this.exitDelayMs = options.exitDelayMs ?? PANEL_EXIT_DELAY_MS;
    const { set, unset, status } = options.wiring;
    if (status.active) this.current = 'set';
    this.watch(set, () => this.setContact());
    this.watch(unset, () => this.unsetContact());
  }

  /** Where the panel is: unset, in its exit time, or set. */
  get state(): PanelState {
    return this.current;
  }

  /**
   * Someone at the panel's own keypad: a code typed to set it (the exit time runs, as from the keyswitch) or to
   * unset it. What staff, a group leader or a keyholder do there is not the gateway's, which sees only the status.
   */
  keypad(action: 'set' | 'unset'): void {
    if (action === 'set') this.setContact();
    else this.unsetContact();
  }

  /** Take the panel off the wiring: its hooks removed, its timers cleared, the status input left as it is. */
  detach(): void {
    this.options.wiring.set.onSet = undefined;
    this.options.wiring.unset.onSet = undefined;
    const { clock } = this.options;
    clock.clearTimeout(this.exitTimer);
    clock.clearTimeout(this.dropTimer);
    for (const contact of this.contacts) clock.clearTimeout(contact.timer);
  }

  private watch(output: SimulatedIntruderAlarmControls['set'], act: () => void): void {
    const contact: { timer: T | undefined; active: boolean } = { timer: undefined, active: output.active };
    this.contacts.push(contact);
    output.onSet = (active) => {
      if (active === contact.active) return;
      contact.active = active;
      // A contact released before it has been held long enough never happened, as far as the panel knows.
      this.options.clock.clearTimeout(contact.timer);
      contact.timer = active ? this.options.clock.setTimeout(act, PANEL_CONTACT_MS) : undefined;
    };
  }

  private setContact(): void {
    if (this.current !== 'unset' || this.refuseSet) return;
    this.current = 'exit';
    this.exitTimer = this.options.clock.setTimeout(() => {
      this.exitTimer = undefined;
      this.current = 'set';
      this.options.wiring.status.set(true);
    }, this.exitDelayMs);
  }

  private unsetContact(): void {
    if (this.current === 'unset') return;
    // An unset in the exit time abandons the setting.
    this.options.clock.clearTimeout(this.exitTimer);
    this.exitTimer = undefined;
    this.current = 'unset';
    this.dropTimer = this.options.clock.setTimeout(() => {
      this.dropTimer = undefined;
      // set again since (a set contact in this second): the exit time's end sets the status, not this
      if (this.current !== 'set') this.options.wiring.status.set(false);
    }, PANEL_UNSET_MS);
  }
}
