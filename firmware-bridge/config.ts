// The `hardware:` section of the gateway's config file: which drivers run, which BCM pin does what,
// and the level each output takes when the software is not in control (start, stop, crash).
import { z } from 'zod';
import {
  INPUT_NAMES,
  OUTPUT_NAMES,
  type DoorPinName,
  type InputName,
  type InputPinName,
  type IntruderInputPinName,
  type IntruderOutputPinName,
  type OutputName,
  type OutputPinName,
  type ReaderRole,
  type SwitchedPinName,
} from './types.js';

/** BCM numbers of the 40-pin header's GPIOs (GPIO0/1 are the HAT EEPROM pins but still usable). */
const bcmPin = z
  .number({ error: 'must be a BCM GPIO number 0–27' })
  .int('must be a BCM GPIO number 0–27')
  .min(0, 'must be a BCM GPIO number 0–27')
  .max(27, 'must be a BCM GPIO number 0–27');

const level = z.enum(['high', 'low']);

export const OutputConfigSchema = z.strictObject({
  /** Optional under the simulated driver; required for sysfs, gpiod and auto. */
  pin: bcmPin.optional(),
  /** The pin level that energises the relay or lights the LED. Many opto-isolated relay boards are active low. */
  activeLevel: level.default('high'),
  /** What the output does when the software is not in control. For a fail-safe maglock the door's safe state is `active` (held locked). */
  safe: z.enum(['active', 'inactive']).default('inactive'),
});

export const InputConfigSchema = z.strictObject({
  pin: bcmPin.optional(),
  /** Contacts switch to ground against a pull-up, so a closed contact reads low: `low` is the default. */
  activeLevel: level.default('low'),
  /**
   * A level must hold this long before it counts. At most 400 ms: EN 60839-11-1 asks that inputs held
   * for 400 ms are always seen. Pulses shorter than this are ignored (mind a people counter's pulse width).
   */
  debounceMs: z.number().int().min(0).max(400, 'must be at most 400 (inputs held 400 ms must always be seen)').default(30),
});

/**
 * The lights are safe on: a crash, a stop or a watchdog kill must not put the lights out on people inside, least of
 * all during an evacuation. A site that wants them off when the software is not in control says `safe: inactive`.
 */
const LightsConfigSchema = OutputConfigSchema.extend({ safe: z.enum(['active', 'inactive']).default('active') });

const outputs = Object.fromEntries(OUTPUT_NAMES.map((name) => [name, (name === 'lights' ? LightsConfigSchema : OutputConfigSchema).prefault({})])) as Record<
  (typeof OUTPUT_NAMES)[number],
  z.ZodPrefault<typeof OutputConfigSchema>
>;

const inputs = Object.fromEntries(INPUT_NAMES.map((name) => [name, InputConfigSchema.optional()])) as Record<
  (typeof INPUT_NAMES)[number],
  z.ZodOptional<typeof InputConfigSchema>
>;

function isRegExp(source: string): boolean {
  try {
    new RegExp(source, 'i');
    return true;
  } catch {
    return false;
  }
}

/** The door of `outputs.door`, `inputs.doorContact` and `inputs.exitButton`: every branch has it. */
export const MAIN_DOOR = 'main';

const lockType = z.enum(['fail-secure', 'fail-safe']);
// EN 60839-11-1 asks for a release time of at least 3 s.
const unlockMs = z.number().int().min(3000, 'must be at least 3000 (EN 60839-11-1 release time)').max(60_000);
const heldOpenSeconds = z.number().int().min(5).max(3600);
const exitGraceMs = z.number().int().min(1000).max(60_000);

/** The gateway's `lock:` section: the lock fitted and its timings, for every door that does not say otherwise. */
export const LockConfigSchema = z.strictObject({
  /**
   * fail-secure: an electric strike, locked when unpowered; the relay energises to unlock.
   * fail-safe: a maglock, unlocked when unpowered; the relay energises to hold it locked.
   */
  type: lockType.default('fail-secure'),
  unlockMs: unlockMs.default(5000),
  heldOpenSeconds: heldOpenSeconds.default(30),
  /** How long after an exit request the door may open without a forced-open alarm. */
  exitGraceMs: exitGraceMs.default(10_000),
});

/** A door's own `lock:`: what differs from the gateway's (a maglock on the meeting room beside a strike on the entrance). */
const LockOverrideSchema = z.strictObject({
  type: lockType.optional(),
  unlockMs: unlockMs.optional(),
  heldOpenSeconds: heldOpenSeconds.optional(),
  exitGraceMs: exitGraceMs.optional(),
});

/** The id of a door or a switched output: it becomes part of pin names (`doors.room.relay`, `switched.pcs`). */
const pinId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'must be 1–32 lower case letters, digits or dashes');

/** A door besides `main`: its own relay and, where fitted, its own contact and exit button (docs/hardware.md, "A second door"). */
export const DoorConfigSchema = z.strictObject({
  id: pinId.refine((id) => id !== MAIN_DOOR, `"${MAIN_DOOR}" is the door of outputs.door, inputs.doorContact and inputs.exitButton: give this door another id`),
  /** Its safe level follows the door's lock type, as `outputs.door`'s does (the gateway sets it). */
  relay: OutputConfigSchema.prefault({}),
  contact: InputConfigSchema.optional(),
  exit: InputConfigSchema.optional(),
  lock: LockOverrideSchema.optional(),
});

/**
 * A relay output besides the door's (public PCs through a contactor, a kiosk, the heating): switched by the gateway's
 * extensions, safe `inactive` (off) unless the site says otherwise.
 */
export const SwitchedOutputConfigSchema = OutputConfigSchema.extend({
  id: pinId,
  /** What staff see (the console, the logs): "Public PCs, first floor". */
  label: z
    .string()
    .min(1, 'must not be empty')
    .max(60, 'must be at most 60 characters')
    .regex(/^[^\p{Cc}]*$/u, 'must be one line of text, without control characters')
    .optional(),
});

/**
 * A panel's keyswitch zone takes momentary contacts; a relay held at its safe level when the gateway is dead,
 * crashed or stopping must be open, or a dying gateway would set or unset the building's alarm.
 */
const PanelOutputConfigSchema = OutputConfigSchema.extend({
  safe: z
    .enum(['inactive'], { error: 'must be inactive: a gateway that stops or dies must never set or unset the alarm panel (docs/hardware.md)' })
    .default('inactive'),
});

/** The wiring to an intruder-alarm panel (docs/hardware.md, "Switched outputs and the intruder alarm"). */
export const IntruderAlarmConfigSchema = z.strictObject({
  /** A momentary contact into the panel's keyswitch zone that sets (arms) it. */
  set: PanelOutputConfigSchema.prefault({}),
  /** A momentary contact into the panel's keyswitch zone that unsets (disarms) it. */
  unset: PanelOutputConfigSchema.prefault({}),
  /** The panel's PGM output that says it is set: active = the panel is set. */
  status: InputConfigSchema.prefault({}),
  /** How long each set or unset contact is held: panels want 200 ms to a few seconds. */
  pulseMs: z.number().int('must be a whole number of milliseconds').min(200, 'must be at least 200 (panels miss shorter contacts)').max(5000, 'must be at most 5000').default(1000),
});

export const ReaderConfigSchema = z.strictObject({
  id: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/, 'must be 1–32 letters, digits, dashes or underscores'),
  driver: z.enum(['simulated', 'pcsc', 'keyboard']),
  /**
   * `desk`: the reader on the staff desk (docs/hardware.md, "The desk reader"): no door, never opens one, never asks
   * a PIN; a tap there links a card staff have asked for at the console, and is never decided as access.
   */
  role: z.enum(['entry', 'exit', 'desk']).default('entry'),
  /**
   * pcsc only: a regular expression (case-insensitive) on the PC/SC reader name that picks this reader,
   * e.g. entry `ACR122|00 00`, exit `00 01`. Without it the reader takes any PC/SC reader not claimed by another.
   */
  namePattern: z.string().min(1).refine(isRegExp, 'must be a valid regular expression').optional(),
  /** keyboard only: an input device (`/dev/input/by-id/…-event-kbd`), a file or FIFO of lines, or `-` for stdin. */
  device: z.string().min(1).optional(),
  /** The door this reader opens (entry) or releases (exit): `main` (the default), or the id of one of `doors`. */
  door: z.string().min(1).optional(),
});

export const EvdevKeypadSchema = z.strictObject({
  driver: z.literal('evdev'),
  /** `path`: `/dev/input/by-id/…-event-kbd` (stays the same across reboots); `name`: part of the name in /proc/bus/input/devices. */
  match: z
    .strictObject({ name: z.string().min(1).max(128).optional(), path: z.string().min(1).max(4096).optional() })
    .refine((m) => (m.name === undefined) !== (m.path === undefined), 'give exactly one of name or path'),
  /** The reader this keypad sits beside: a PIN typed here answers a tap there only. */
  readerId: z.string().min(1),
});

/**
 * Every output's config by its name: the named outputs, each further door's relay (`doors.room.relay`), the switched
 * outputs (`switched.pcs`), the alarm panel's set and unset (`intruderAlarm.set`). What the safe paths, `oag
 * outputs-safe` and the boot config walk.
 */
export function everyOutputConfig(hw: HardwareConfig): Array<[OutputPinName, OutputConfig]> {
  const panel = hw.intruderAlarm;
  return [
    ...OUTPUT_NAMES.map((name): [OutputName, OutputConfig] => [name, hw.outputs[name]]),
    ...hw.doors.map((door): [DoorPinName, OutputConfig] => [`doors.${door.id}.relay`, door.relay]),
    ...hw.switched.map((output): [SwitchedPinName, OutputConfig] => [`switched.${output.id}`, output]),
    ...(panel === undefined
      ? []
      : ([
          ['intruderAlarm.set', panel.set],
          ['intruderAlarm.unset', panel.unset],
        ] satisfies Array<[IntruderOutputPinName, OutputConfig]>)),
  ];
}

/** Every fitted input's config by its name, each further door's contact and exit button, then the panel's status. */
export function everyInputConfig(hw: HardwareConfig): Array<[InputPinName, InputConfig]> {
  const fitted: Array<[InputPinName, InputConfig | undefined]> = [
    ...INPUT_NAMES.map((name): [InputName, InputConfig | undefined] => [name, hw.inputs[name]]),
    ...hw.doors.flatMap((door): Array<[DoorPinName, InputConfig | undefined]> => [
      [`doors.${door.id}.contact`, door.contact],
      [`doors.${door.id}.exit`, door.exit],
    ]),
    ['intruderAlarm.status', hw.intruderAlarm?.status] satisfies [IntruderInputPinName, InputConfig | undefined],
  ];
  return fitted.filter((entry): entry is [InputPinName, InputConfig] => entry[1] !== undefined);
}

/** The door a reader is at. */
export function readerDoor(reader: Pick<ReaderConfig, 'door'>): string {
  return reader.door ?? MAIN_DOOR;
}

/**
 * The role a reader's driver reports: a desk reader reads like an entry reader (the contract knows entry and exit
 * only); the gateway tells it apart by its id (gateway/core/desk-reader.ts), before anything decides a tap there.
 */
export function driverRole(reader: Pick<ReaderConfig, 'role'>): ReaderRole {
  return reader.role === 'desk' ? 'entry' : reader.role;
}

/** A reader's config as its driver takes it: the role it reports (driverRole). */
export type DriverReaderConfig = Omit<ReaderConfig, 'role'> & { role: ReaderRole };

export function driverReaderConfig(reader: ReaderConfig): DriverReaderConfig {
  return { ...reader, role: driverRole(reader) };
}

/** The evdev keypads configured, whichever form the config used. */
export function evdevKeypads(keypad: HardwareConfig['keypad']): z.infer<typeof EvdevKeypadSchema>[] {
  if (Array.isArray(keypad)) return keypad;
  return keypad.driver === 'evdev' ? [keypad] : [];
}

/**
 * Simulated drivers only by name. A default of `simulated` let a branch config without `driver:` (or without a
 * `hardware:` section at all) run a door controller that drives no door, and serve a tap route that opens it.
 */
const SIMULATED_BY_NAME = 'simulated drivers are never a default: name them (`driver: simulated`) for a test bench or the demo';

export const HardwareConfigSchema = z
  .strictObject(
    {
      gpio: z.strictObject(
        {
          /**
           * `gpiod`: the character device through Debian's gpiod tools; `auto`: gpiod where the kernel has no
           * /sys/class/gpio and the tools and the chip are there, else sysfs (docs/hardware.md, "Which GPIO backend").
           */
          driver: z.enum(['simulated', 'sysfs', 'gpiod', 'auto'], {
            error: (issue) => (issue.input === undefined ? `required: sysfs on a Raspberry Pi; ${SIMULATED_BY_NAME}` : undefined),
          }),
          /** Where the gpiochips are listed; the BCM → sysfs number offset is read from here. */
          sysfsRoot: z.string().min(1).default('/sys/class/gpio'),
          /** gpiod: the chip whose line offsets are the header's BCM numbers; gpiochip0 when unset (a Pi 5 on older kernels: gpiochip4; `gpiodetect` shows the one labelled pinctrl-rp1 or pinctrl-bcm27xx). */
          chip: z
            .string()
            .regex(/^(\/dev\/)?gpiochip\d{1,3}$/, 'must be a GPIO chip: gpiochip0, gpiochip4 or /dev/gpiochip0')
            .optional(),
        },
        { error: (issue) => (issue.code === 'invalid_type' && issue.input === undefined ? `required: { driver: sysfs } on a Raspberry Pi; ${SIMULATED_BY_NAME}` : undefined) },
      ),
      outputs: z.strictObject(outputs).prefault({}),
      /** Only the inputs that are fitted. */
      inputs: z.strictObject(inputs).prefault({}),
      readers: z
        .array(ReaderConfigSchema, {
          error: (issue) => (issue.input === undefined ? `required: the card readers (pcsc, keyboard); ${SIMULATED_BY_NAME}` : undefined),
        })
        .min(1, 'configure at least one reader'),
      /** The doors besides `main`, each with its own relay, contact and exit button; readers name theirs. */
      doors: z.array(DoorConfigSchema).max(8, 'at most 8 doors besides main').default([]),
      /** Relay outputs besides the door's, in the order the console lists them. */
      switched: z.array(SwitchedOutputConfigSchema).max(16, 'at most 16 switched outputs').default([]),
      /** The wiring to an intruder-alarm panel, where the branch has one. */
      intruderAlarm: IntruderAlarmConfigSchema.optional(),
      /** One evdev keypad, or a list of them (one per reader it sits at); or none, or simulated. */
      keypad: z
        .union([z.strictObject({ driver: z.enum(['none', 'simulated']).default('none') }), EvdevKeypadSchema, z.array(EvdevKeypadSchema).min(1)])
        .prefault({}),
    },
    {
      error: (issue) =>
        issue.code === 'invalid_type' && issue.input === undefined
          ? `required: the door's drivers and pins (gpio.driver: sysfs and the readers on a Raspberry Pi; docs/hardware.md); ${SIMULATED_BY_NAME}`
          : undefined,
    },
  )
  .superRefine((hw, ctx) => {
    const usedBy = new Map<number, string>();
    const claim = (path: Array<string | number>, pin: number | undefined): void => {
      // As the config says it: outputs.door, doors[0].relay, switched[1], intruderAlarm.set.
      const where = path.map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? part : `.${part}`)).join('');
      if (pin === undefined) {
        if (hw.gpio.driver !== 'simulated') ctx.addIssue({ code: 'custom', path: [...path, 'pin'], message: `required when gpio.driver is ${hw.gpio.driver}` });
        return;
      }
      const other = usedBy.get(pin);
      if (other !== undefined) {
        ctx.addIssue({ code: 'custom', path: [...path, 'pin'], message: `BCM ${pin} is already used by ${other}` });
      } else {
        usedBy.set(pin, where);
      }
    };
    for (const name of OUTPUT_NAMES) claim(['outputs', name], hw.outputs[name].pin);
    for (const name of INPUT_NAMES) {
      const input = hw.inputs[name];
      if (input !== undefined) claim(['inputs', name], input.pin);
    }
    const doorIds = new Set<string>([MAIN_DOOR]);
    hw.doors.forEach((door, index) => {
      if (doorIds.has(door.id)) ctx.addIssue({ code: 'custom', path: ['doors', index, 'id'], message: `duplicate door id "${door.id}"` });
      doorIds.add(door.id);
      claim(['doors', index, 'relay'], door.relay.pin);
      if (door.contact !== undefined) claim(['doors', index, 'contact'], door.contact.pin);
      if (door.exit !== undefined) claim(['doors', index, 'exit'], door.exit.pin);
    });
    const switchedIds = new Set<string>();
    hw.switched.forEach((output, index) => {
      if (switchedIds.has(output.id)) ctx.addIssue({ code: 'custom', path: ['switched', index, 'id'], message: `duplicate switched output id "${output.id}"` });
      switchedIds.add(output.id);
      claim(['switched', index], output.pin);
    });
    if (hw.intruderAlarm !== undefined) {
      for (const part of ['set', 'unset', 'status'] as const) claim(['intruderAlarm', part], hw.intruderAlarm[part].pin);
    }

    const ids = new Set<string>();
    let stdinReaders = 0;
    hw.readers.forEach((reader, index) => {
      if (ids.has(reader.id)) ctx.addIssue({ code: 'custom', path: ['readers', index, 'id'], message: `duplicate reader id "${reader.id}"` });
      ids.add(reader.id);
      if (reader.namePattern !== undefined && reader.driver !== 'pcsc') {
        ctx.addIssue({ code: 'custom', path: ['readers', index, 'namePattern'], message: 'only for driver pcsc' });
      }
      if (reader.device !== undefined && reader.driver !== 'keyboard') {
        ctx.addIssue({ code: 'custom', path: ['readers', index, 'device'], message: 'only for driver keyboard' });
      }
      if (reader.role === 'desk' && reader.door !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['readers', index, 'door'], message: 'a desk reader has no door: it never opens one (leave door out)' });
      } else if (!doorIds.has(readerDoor(reader))) {
        ctx.addIssue({ code: 'custom', path: ['readers', index, 'door'], message: `no door "${readerDoor(reader)}" (doors: ${[...doorIds].join(', ')})` });
      }
      if (reader.driver === 'keyboard' && (reader.device ?? '-') === '-') stdinReaders += 1;
      if (stdinReaders > 1 && reader.driver === 'keyboard' && (reader.device ?? '-') === '-') {
        ctx.addIssue({ code: 'custom', path: ['readers', index, 'device'], message: 'only one keyboard reader can read stdin' });
      }
    });
    const keypadAt = new Set<string>();
    const keypads = evdevKeypads(hw.keypad);
    keypads.forEach((keypad, index) => {
      const path = Array.isArray(hw.keypad) ? ['keypad', index, 'readerId'] : ['keypad', 'readerId'];
      const reader = hw.readers.find((r) => r.id === keypad.readerId);
      if (reader === undefined) ctx.addIssue({ code: 'custom', path, message: `no reader with id "${keypad.readerId}"` });
      else if (reader.role === 'desk') ctx.addIssue({ code: 'custom', path, message: `reader "${keypad.readerId}" is a desk reader: it never asks for a PIN` });
      else if (reader.role !== 'entry') ctx.addIssue({ code: 'custom', path, message: `reader "${keypad.readerId}" is an exit reader: exits never ask for a PIN` });
      if (keypadAt.has(keypad.readerId)) ctx.addIssue({ code: 'custom', path, message: `reader "${keypad.readerId}" already has a keypad` });
      keypadAt.add(keypad.readerId);
    });
  });

export type HardwareConfig = z.infer<typeof HardwareConfigSchema>;
export type HardwareConfigInput = z.input<typeof HardwareConfigSchema>;
export type OutputConfig = z.infer<typeof OutputConfigSchema>;
export type InputConfig = z.infer<typeof InputConfigSchema>;
export type ReaderConfig = z.infer<typeof ReaderConfigSchema>;
export type DoorConfig = z.infer<typeof DoorConfigSchema>;
export type SwitchedOutputConfig = z.infer<typeof SwitchedOutputConfigSchema>;
export type IntruderAlarmConfig = z.infer<typeof IntruderAlarmConfigSchema>;
export type LockConfig = z.infer<typeof LockConfigSchema>;
