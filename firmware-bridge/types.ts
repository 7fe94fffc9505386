// The hardware boundary. The gateway depends on these small interfaces only; each has a simulated
// implementation (tests, demo) and real ones (PC/SC, keyboard wedge, onoff sysfs GPIO).
import type { EventEmitter } from 'node:events';

export type ReaderRole = 'entry' | 'exit';

export interface CardTap {
  /**
   * Normalised UID or card number: hex upper case with no separators (NFC), or the digits typed (wedge); or a phone
   * token's text as a 2D scanner typed it (`OAG1.`…, checked by the gateway: docs/phone-credential.md).
   */
  uid: string;
  readerId: string;
  role: ReaderRole;
  /** process.hrtime.bigint() when the driver saw the card: for latency measurement. */
  seenAt: bigint;
  /** The physical reader's name where the driver knows it (PC/SC), e.g. "ACS ACR122U PICC Interface 00 00". */
  readerName?: string | undefined;
}

export interface ReaderStatus {
  readerId: string;
  role: ReaderRole;
  online: boolean;
  /** Human-readable reason when offline, e.g. "PC/SC service not running". */
  detail?: string | undefined;
  /** The physical reader's name where the driver knows it (PC/SC). */
  readerName?: string | undefined;
}

export interface ReadError {
  readerId: string;
  role: ReaderRole;
  message: string;
}

export interface CardReaderEvents {
  tap: [CardTap];
  'read-error': [ReadError];
  status: [ReaderStatus];
}

/** One source of taps; a PC/SC driver may serve several physical readers and emits each one's status. */
export interface CardReader extends EventEmitter<CardReaderEvents> {
  readonly kind: 'simulated' | 'pcsc' | 'keyboard';
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface KeypadEvents {
  /** A PIN entered and confirmed (digits only), at the keypad beside reader `readerId`. */
  pin: [{ digits: string; readerId: string }];
  /** A key taken (digit or clear): the same sound for every key. */
  key: [{ readerId: string }];
  /** An entry dropped: a key after the entry timed out, more digits than a PIN has, or Enter alone. */
  refused: [{ readerId: string; reason: 'timeout' | 'too-long' | 'empty' }];
  /** A keypad unplugged or back, as readers report theirs. */
  status: [ReaderStatus];
}

export interface Keypad extends EventEmitter<KeypadEvents> {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export const OUTPUT_NAMES = ['door', 'lights', 'sounder', 'ledGreen', 'ledRed'] as const;
export type OutputName = (typeof OUTPUT_NAMES)[number];

/**
 * What `active` means for each input (the wiring and `activeLevel` make it so; see docs/hardware.md):
 * doorContact: the door is open · exitButton: pressed · fireAlarm: the fire system is in alarm ·
 * counterIn/counterOut: a count pulse · tamper: an enclosure or reader is tampered with ·
 * mainsPresent: the mains supply is on (a UPS HAT's power-good output, or a mains-sensing relay's contact) ·
 * helpButton: the help-call button is pressed · beamOuter/beamInner: that beam of a directional pair is broken
 * (outer: the street side) · motion: a PIR motion sensor (or several in parallel) sees movement.
 */
export const INPUT_NAMES = [
  'doorContact',
  'exitButton',
  'fireAlarm',
  'counterIn',
  'counterOut',
  'tamper',
  'mainsPresent',
  'helpButton',
  'beamOuter',
  'beamInner',
  'motion',
] as const;
export type InputName = (typeof INPUT_NAMES)[number];

/** A pin of a door besides `main` (`hardware.doors`), named as in the config: `doors.room.relay`, `doors.room.contact`. */
export type DoorPinName = `doors.${string}.${'relay' | 'contact' | 'exit'}`;

/** A switched output (`hardware.switched`), named by its id: `switched.pcs`. */
export type SwitchedPinName = `switched.${string}`;

/** The intruder-alarm panel's set and unset contacts (`hardware.intruderAlarm`). */
export type IntruderOutputPinName = 'intruderAlarm.set' | 'intruderAlarm.unset';
/** The panel's "set" status input. */
export type IntruderInputPinName = 'intruderAlarm.status';
export type IntruderPinName = IntruderOutputPinName | IntruderInputPinName;

/** Every output's name as the config spells it. */
export type OutputPinName = OutputName | DoorPinName | SwitchedPinName | IntruderOutputPinName;
/** Every input's name as the config spells it. */
export type InputPinName = InputName | DoorPinName | IntruderInputPinName;

/**
 * A digital output. `active` means energised (the configured active level is on the pin);
 * `safe` is the state the output takes at start, stop and crash.
 */
export interface DigitalOutput {
  readonly name: OutputPinName;
  readonly active: boolean;
  /** Synchronous on purpose: the hot path writes the relay without awaiting anything. */
  set(active: boolean): void;
  /** Write the configured safe state. Never throws: safety paths call it from signal and crash handlers. */
  toSafe(): void;
  /**
   * The safe state now and until the process ends: every later `set` writes the safe level. For a stop, while
   * timers, commands and extensions wind down, none of which may move a relay again. Never throws.
   */
  hold(): void;
  /**
   * Safe and held, and the pin left driven at that level: it is never released (unexported), because a kernel
   * that turns a released output into an input leaves the relay to the pin's pull and the board's own default.
   */
  close(): void;
  /**
   * Why the output cannot drive its line now (the process holding it ended and none holds it yet), undefined while it
   * can. Only outputs that can lose their line this way have it (gpiod); the gateway raises `output-failed` from it.
   */
  readonly faulted?: string | undefined;
  /** Called with the fault when one starts or changes, and with undefined once the line is driven again. */
  onFault?(listener: (fault: string | undefined) => void): void;
}

export interface DigitalInputEvents {
  /** Debounced change; `active` is the logical state after the active level is applied. */
  change: [active: boolean];
}

export interface DigitalInput extends EventEmitter<DigitalInputEvents> {
  readonly name: InputPinName;
  /** Debounced logical state. */
  readonly active: boolean;
  close(): void;
}

/**
 * One door: its relay, its contact and exit button where fitted, and the readers at it. `main` (always first) is
 * `outputs.door`, `inputs.doorContact` and `inputs.exitButton`; the others are `hardware.doors`.
 */
export interface DoorHardware {
  readonly id: string;
  readonly relay: DigitalOutput;
  readonly contact: DigitalInput | undefined;
  readonly exit: DigitalInput | undefined;
  /** The readers whose `door:` is this door. */
  readonly readerIds: readonly string[];
}

/**
 * The wiring to an intruder-alarm panel: `set` and `unset` are momentary contacts into its keyswitch zone, to be
 * pulsed for `pulseMs`; `status` is active while the panel is set. Their safe level is always inactive.
 */
export interface IntruderAlarmHardware {
  readonly set: DigitalOutput;
  readonly unset: DigitalOutput;
  readonly status: DigitalInput;
  readonly pulseMs: number;
}

export interface Hardware {
  readers: CardReader[];
  keypad: Keypad | undefined;
  outputs: Record<OutputName, DigitalOutput>;
  /** Only the inputs that are fitted (configured). */
  inputs: Partial<Record<InputName, DigitalInput>>;
  /** Every door, `main` first; its relay is among the outputs `allSafe`, `holdSafe` and `close` make safe. */
  doors: DoorHardware[];
  /** The switched outputs (`hardware.switched`) by id, in config order; made safe with every other output. */
  switched: ReadonlyMap<string, DigitalOutput>;
  /** The intruder-alarm panel's wiring, when `hardware.intruderAlarm` is configured. */
  intruderAlarm: IntruderAlarmHardware | undefined;
  /** Drive every output to its safe state. Synchronous and never throws. */
  allSafe(): void;
  /**
   * The first step of any stop: the readers' taps and the keypad's PINs go nowhere from now on (their listeners are
   * removed at once), so a card held to the reader after the outputs went safe cannot energise the relay again.
   * The drivers themselves stop in `close`. Synchronous and never throws.
   */
  detachReaders(): void;
  /** Every output to its safe state and held there until the process ends (`DigitalOutput.hold`). Never throws. */
  holdSafe(): void;
  /**
   * Readers detached, outputs safe and held, then the readers stopped and the input pins released. Output pins stay
   * exported and driven at their safe level after the process ends (docs/hardware.md, "Stop, crash and restart").
   */
  close(): Promise<void>;
  /**
   * Controls of the simulated drivers, present when any part of the bundle is simulated, so that tests,
   * the demo and `oag tap` can play a card or a contact: `hw.simulated?.reader?.tap('04A2B3C4')`.
   */
  simulated?: SimulatedControls | undefined;
}

/** One output's write as the simulated driver recorded it; `atMs` is the injected clock's epoch milliseconds. */
export interface OutputWrite {
  active: boolean;
  atMs: number;
}

export interface SimulatedReaderControls {
  /** The ids of the simulated readers, entry readers first. */
  readonly readerIds: readonly string[];
  /**
   * Play a card on a reader (default: the first entry reader). The UID is normalised like a real read;
   * returns the tap emitted, or undefined when that reader is offline (a real one would read nothing).
   */
  tap(uid: string, readerId?: string): CardTap | undefined;
  /** A card the reader could not read: emits `read-error`, never a tap. */
  failRead(readerId?: string, message?: string): void;
  /** Unplug or plug back a reader: emits `status` when it changes. */
  setOnline(readerId: string, online: boolean, detail?: string): void;
}

export interface SimulatedKeypadControls {
  /** Type a PIN and confirm it. */
  enter(digits: string, readerId?: string): void;
}

export interface SimulatedInputControls {
  readonly name: InputPinName;
  readonly active: boolean;
  /** Set the raw (undebounced) logical level, as a contact closing or opening would. */
  set(active: boolean): void;
  /** Active for `ms`, then inactive; pulses shorter than the input's debounce are ignored, as on the pin. */
  pulse(ms: number): Promise<void>;
}

export interface SimulatedOutputControls {
  readonly name: OutputPinName;
  readonly active: boolean;
  /** The most recent writes, oldest first (bounded); the first one is the safe state written at creation. */
  readonly history: readonly OutputWrite[];
  /**
   * Called after each write (a `set`, a safe write) with the level now on the output: what a device on the end of
   * it (the simulated alarm panel) reacts to. One listener; undefined to remove it.
   */
  onSet: ((active: boolean) => void) | undefined;
}

export interface SimulatedControls {
  /** Present when at least one reader is simulated. */
  readonly reader: SimulatedReaderControls | undefined;
  /** Present when `keypad.driver` is simulated. */
  readonly keypad: SimulatedKeypadControls | undefined;
  /** Every configured input when `gpio.driver` is simulated. */
  readonly inputs: Partial<Record<InputName, SimulatedInputControls>>;
  /** Every output when `gpio.driver` is simulated. */
  readonly outputs: Partial<Record<OutputName, SimulatedOutputControls>>;
  /** The doors besides `main` by id, when `gpio.driver` is simulated (main's pins are `outputs.door` and `inputs`). */
  readonly doors: Readonly<Record<string, SimulatedDoorControls>>;
  /** The switched outputs by id, when `gpio.driver` is simulated. */
  readonly switched: Readonly<Record<string, SimulatedOutputControls>>;
  /** The alarm panel's wiring, when `gpio.driver` is simulated and `hardware.intruderAlarm` is configured. */
  readonly intruderAlarm: SimulatedIntruderAlarmControls | undefined;
}

export interface SimulatedIntruderAlarmControls {
  readonly set: SimulatedOutputControls;
  readonly unset: SimulatedOutputControls;
  readonly status: SimulatedInputControls;
}

export interface SimulatedDoorControls {
  readonly relay: SimulatedOutputControls;
  readonly contact: SimulatedInputControls | undefined;
  readonly exit: SimulatedInputControls | undefined;
}
