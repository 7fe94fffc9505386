// Builds the hardware bundle from the `hardware:` config. Every output is created and put in its safe
// state first, before any input, reader or keypad exists, so nothing can act on a relay in an unknown state.
import { driverReaderConfig, driverRole, everyInputConfig, evdevKeypads, MAIN_DOOR, readerDoor, type DriverReaderConfig, type HardwareConfig, type InputConfig, type OutputConfig, type ReaderConfig } from './config.js';
import { headerChip, resolveGpioDriver } from './gpio/gpiod-driver.js';
import { GpiodInput } from './gpio/gpiod-input.js';
import { GpiodOutput } from './gpio/gpiod-output.js';
import { realGpiodSpawn, type GpiodSpawn, type GpiodTools } from './gpio/gpiod-tools.js';
import { loadOnoff, type GpioClass } from './gpio/onoff.js';
import { bcmToSysfs, findHeaderChip } from './gpio/sysfs-base.js';
import { SysfsInput } from './gpio/sysfs-input.js';
import { SysfsOutput } from './gpio/sysfs-output.js';
import { errorField, silentLogger, type HardwareLogger } from './logger.js';
import { KeyboardWedgeReader, type KeyboardReaderOptions } from './readers/keyboard.js';
import { EvdevKeypad, type EvdevKeypadOptions } from './readers/keypad-evdev.js';
import { loadNfcPcsc, PcscCardReader, PcscUnavailableError, type NfcPcscModule, type PcscCardReaderOptions } from './readers/pcsc.js';
import { SimulatedInput } from './simulated/input.js';
import { SimulatedKeypad } from './simulated/keypad.js';
import { SimulatedOutput, type Clock } from './simulated/output.js';
import { SimulatedCardReader } from './simulated/reader.js';
import {
  INPUT_NAMES,
  OUTPUT_NAMES,
  type CardReader,
  type DigitalInput,
  type DigitalOutput,
  type DoorHardware,
  type DoorPinName,
  type Hardware,
  type InputName,
  type InputPinName,
  type IntruderAlarmHardware,
  type Keypad,
  type OutputName,
  type OutputPinName,
  type SimulatedControls,
  type SimulatedDoorControls,
  type SimulatedInputControls,
  type SimulatedIntruderAlarmControls,
  type SimulatedOutputControls,
  type SwitchedPinName,
} from './types.js';

export interface CreateHardwareOptions {
  /** pino fits. */
  logger?: HardwareLogger;
  /** Timestamps of the simulated outputs' history. */
  clock?: Clock;
  /** The longest pause between two keys of one PIN on an evdev keypad (the gateway's taps.pinTimeoutMs). */
  pinEntryTimeoutMs?: number;
  /** Seams for tests: the onoff Gpio class, nfc-pcsc, and the PC/SC, keyboard reader and keypad options. */
  drivers?: {
    loadGpio?: () => Promise<GpioClass>;
    /** The gpiod backend's processes, and what `gpio.driver: auto` looks for. */
    gpiod?: { spawn?: GpiodSpawn; exists?: (path: string) => boolean };
    loadNfc?: () => Promise<NfcPcscModule>;
    pcsc?: Pick<PcscCardReaderOptions, 'probeService' | 'backoff' | 'appearGraceMs'>;
    keyboard?: Pick<KeyboardReaderOptions, 'open' | 'reopen' | 'eventSize'>;
    keypad?: Pick<EvdevKeypadOptions, 'open' | 'reopen' | 'eventSize' | 'procDevices' | 'now'>;
  };
}

const systemClock: Clock = { now: () => new Date() };

export async function createHardware(config: HardwareConfig, opts: CreateHardwareOptions = {}): Promise<Hardware> {
  const logger = opts.logger ?? silentLogger;
  const clock = opts.clock ?? systemClock;
  const outputs: Partial<Record<OutputName, DigitalOutput>> = {};
  const inputs: Partial<Record<InputName, DigitalInput>> = {};
  const simulatedOutputs: Partial<Record<OutputName, SimulatedOutputControls>> = {};
  const simulatedInputs: Partial<Record<InputName, SimulatedInputControls>> = {};
  // Every output, the named ones and each further door's relay: what the safe paths below walk.
  const everyOutput: DigitalOutput[] = [];
  const doorRelays = new Map<string, DigitalOutput>();
  const doorInputs = new Map<string, { contact: DigitalInput | undefined; exit: DigitalInput | undefined }>();
  const simulatedDoors: Record<string, SimulatedDoorControls> = {};
  const switched = new Map<string, DigitalOutput>();
  const simulatedSwitched: Record<string, SimulatedOutputControls> = {};
  let panelOutputs: { set: DigitalOutput; unset: DigitalOutput } | undefined;
  let panelStatus: DigitalInput | undefined;

  const allSafe = (): void => {
    for (const output of everyOutput) {
      try {
        output.toSafe();
      } catch {
        // toSafe never throws by contract; one broken output must not keep the others from their safe state.
      }
    }
  };
  const holdSafe = (): void => {
    for (const output of everyOutput) {
      try {
        output.hold();
      } catch {
        // hold never throws by contract; one broken output must not keep the others from their safe state.
      }
    }
  };
  // Safe and held; the pins stay exported at that level (SysfsOutput says why).
  const closeOutputs = (): void => {
    for (const output of everyOutput) {
      try {
        output.close();
      } catch {
        // best effort: we are already failing or stopping
      }
    }
  };

  // 1. Outputs, each written to its safe level as it is created.
  let Gpio: GpioClass | undefined;
  let base = 0;
  let gpiod: { tools: GpiodTools; spawn: GpiodSpawn; chip: string } | undefined;
  try {
    const gpio = await resolveGpioDriver(config.gpio, opts.drivers?.gpiod);
    if (gpio.driver === 'gpiod' && gpio.tools !== undefined) {
      gpiod = { tools: gpio.tools, chip: headerChip(config.gpio), spawn: opts.drivers?.gpiod?.spawn ?? realGpiodSpawn };
      logger.info({ chip: gpiod.chip, tools: gpio.tools.version, interactive: gpio.tools.interactive, why: gpio.reason }, 'GPIO on the character device (gpiod tools)');
    }
    if (gpio.driver === 'sysfs') {
      const chip = findHeaderChip(config.gpio.sysfsRoot);
      base = chip.base;
      Gpio = await (opts.drivers?.loadGpio ?? loadOnoff)();
      logger.info({ chip: chip.chip, label: chip.label, base }, 'GPIO over sysfs');
    }
    const makeOutput = (name: OutputPinName, outputConfig: OutputConfig, pinSetting: string): DigitalOutput =>
      gpiod !== undefined
        ? new GpiodOutput(name, outputConfig, { chip: gpiod.chip, offset: requirePin(outputConfig.pin, pinSetting) }, gpiod.tools, gpiod.spawn, logger)
        : Gpio === undefined
          ? new SimulatedOutput(name, outputConfig, clock) : new SysfsOutput(name, outputConfig, bcmToSysfs(requirePin(outputConfig.pin, pinSetting), base), Gpio, logger);
    for (const name of OUTPUT_NAMES) {
      const output = makeOutput(name, config.outputs[name], `outputs.${name}.pin`);
      outputs[name] = output;
      if (output instanceof SimulatedOutput) simulatedOutputs[name] = output;
      everyOutput.push(output);
    }
    for (const door of config.doors) {
      const name: DoorPinName = `doors.${door.id}.relay`;
      const relay = makeOutput(name, door.relay, `${name}.pin`);
      doorRelays.set(door.id, relay);
      everyOutput.push(relay);
    }
    for (const switchedConfig of config.switched) {
      const name: SwitchedPinName = `switched.${switchedConfig.id}`;
      const output = makeOutput(name, switchedConfig, `${name}.pin`);
      switched.set(switchedConfig.id, output);
      if (output instanceof SimulatedOutput) simulatedSwitched[switchedConfig.id] = output;
      everyOutput.push(output);
    }
    if (config.intruderAlarm !== undefined) {
      const set = makeOutput('intruderAlarm.set', config.intruderAlarm.set, 'intruderAlarm.set.pin');
      everyOutput.push(set);
      const unset = makeOutput('intruderAlarm.unset', config.intruderAlarm.unset, 'intruderAlarm.unset.pin');
      everyOutput.push(unset);
      panelOutputs = { set, unset };
    }
    // Each gpioset holds its line at the safe level (or has said why not) before any input exists.
    await Promise.all(everyOutput.map((output) => (output instanceof GpiodOutput ? output.ready() : undefined)));
  } catch (error) {
    allSafe();
    closeOutputs();
    throw error;
  }
  logger.info({ outputs: Object.fromEntries(everyOutput.map((o) => [o.name, o.active])) }, 'outputs in their safe state');

  const everyInput = (): DigitalInput[] => [
    ...Object.values(inputs),
    ...[...doorInputs.values()].flatMap(({ contact, exit }) => [contact, exit].filter((input) => input !== undefined)),
    ...(panelStatus === undefined ? [] : [panelStatus]),
  ];
  const readers: CardReader[] = [];
  let keypad: Keypad | undefined;
  // gpiod inputs read their level before they watch it, which cannot be done synchronously: all opened here first.
  const gpiodInputs = new Map<InputPinName, GpiodInput>();
  try {
    if (gpiod !== undefined) {
      for (const [name, inputConfig] of everyInputConfig(config)) {
        gpiodInputs.set(name, await GpiodInput.open(name, inputConfig, { chip: gpiod.chip, offset: requirePin(inputConfig.pin, `${name}.pin`) }, gpiod.tools, gpiod.spawn, logger));
      }
    }
  } catch (error) {
    for (const input of gpiodInputs.values()) input.close();
    allSafe();
    closeOutputs();
    throw error;
  }
  try {
    // 2. Inputs that are fitted.
    const makeInput = (name: InputPinName, inputConfig: InputConfig, pinSetting: string): DigitalInput =>
      gpiodInputs.get(name) ?? (Gpio === undefined ? new SimulatedInput(name, inputConfig) : new SysfsInput(name, inputConfig, bcmToSysfs(requirePin(inputConfig.pin, pinSetting), base), Gpio, logger));
    for (const name of INPUT_NAMES) {
      const inputConfig = config.inputs[name];
      if (inputConfig === undefined) continue;
      const input = makeInput(name, inputConfig, `inputs.${name}.pin`);
      inputs[name] = input;
      if (input instanceof SimulatedInput) simulatedInputs[name] = input;
    }
    const doorInput = (name: DoorPinName, inputConfig: InputConfig | undefined): DigitalInput | undefined =>
      inputConfig === undefined ? undefined : makeInput(name, inputConfig, `${name}.pin`);
    for (const door of config.doors) {
      const contact = doorInput(`doors.${door.id}.contact`, door.contact);
      // Recorded before the exit pin is made: should that fail, the catch below closes this contact with the rest.
      doorInputs.set(door.id, { contact, exit: undefined });
      const exit = doorInput(`doors.${door.id}.exit`, door.exit);
      doorInputs.set(door.id, { contact, exit });
      const relay = doorRelays.get(door.id);
      if (relay instanceof SimulatedOutput) {
        simulatedDoors[door.id] = { relay, contact: contact as SimulatedInput | undefined, exit: exit as SimulatedInput | undefined };
      }
    }
    let intruderAlarm: IntruderAlarmHardware | undefined;
    let simulatedIntruderAlarm: SimulatedIntruderAlarmControls | undefined;
    if (config.intruderAlarm !== undefined && panelOutputs !== undefined) {
      const status = makeInput('intruderAlarm.status', config.intruderAlarm.status, 'intruderAlarm.status.pin');
      panelStatus = status;
      intruderAlarm = { ...panelOutputs, status, pulseMs: config.intruderAlarm.pulseMs };
      const { set, unset } = panelOutputs;
      if (set instanceof SimulatedOutput && unset instanceof SimulatedOutput && status instanceof SimulatedInput) {
        simulatedIntruderAlarm = { set, unset, status };
      }
    }

    // 3. Readers: one object for all simulated ones, one for all PC/SC ones, one per keyboard wedge.
    const byDriver = (driver: ReaderConfig['driver']): DriverReaderConfig[] => config.readers.filter((r) => r.driver === driver).map(driverReaderConfig);
    let simulatedReader: SimulatedCardReader | undefined;
    for (const driver of new Set(config.readers.map((r) => r.driver))) {
      const entries = byDriver(driver);
      if (driver === 'simulated') {
        simulatedReader = new SimulatedCardReader(entries);
        readers.push(simulatedReader);
      } else if (driver === 'pcsc') {
        readers.push(await createPcscReader(entries, logger, opts));
      } else {
        for (const entry of entries) {
          readers.push(new KeyboardWedgeReader({ ...opts.drivers?.keyboard, id: entry.id, role: entry.role, device: entry.device ?? '-', logger }));
        }
      }
    }

    // 4. Keypad.
    let simulatedKeypad: SimulatedKeypad | undefined;
    const evdev = evdevKeypads(config.keypad);
    if (evdev.length > 0) {
      keypad = new EvdevKeypad({
        ...opts.drivers?.keypad,
        keypads: evdev.map((k) => ({ match: k.match, readerId: k.readerId, role: driverRole(config.readers.find((r) => r.id === k.readerId) ?? { role: 'entry' }) })),
        entryTimeoutMs: opts.pinEntryTimeoutMs ?? 15_000,
        logger,
      });
    } else if (!Array.isArray(config.keypad) && config.keypad.driver === 'simulated') {
      const entryReader = config.readers.find((r) => r.role === 'entry') ?? config.readers[0];
      simulatedKeypad = new SimulatedKeypad(entryReader?.id ?? 'entry');
      keypad = simulatedKeypad;
    }

    const anySimulated = config.gpio.driver === 'simulated' || simulatedReader !== undefined || simulatedKeypad !== undefined;
    const simulated: SimulatedControls | undefined = anySimulated
      ? {
          reader: simulatedReader,
          keypad: simulatedKeypad,
          inputs: simulatedInputs,
          outputs: simulatedOutputs,
          doors: simulatedDoors,
          switched: simulatedSwitched,
          intruderAlarm: simulatedIntruderAlarm,
        }
      : undefined;
    const readersAt = (door: string): string[] => config.readers.filter((r) => readerDoor(r) === door).map((r) => r.id);
    const doors: DoorHardware[] = [
      { id: MAIN_DOOR, relay: outputs.door!, contact: inputs.doorContact, exit: inputs.exitButton, readerIds: readersAt(MAIN_DOOR) },
      ...config.doors.map((door) => ({ id: door.id, relay: doorRelays.get(door.id)!, ...doorInputs.get(door.id)!, readerIds: readersAt(door.id) })),
    ];

    const detachReaders = (): void => {
      for (const reader of readers) reader.removeAllListeners('tap');
      keypad?.removeAllListeners('pin');
    };

    let closing: Promise<void> | undefined;
    const close = (): Promise<void> => {
      closing ??= (async () => {
        detachReaders();
        holdSafe();
        await Promise.allSettled([...readers.map((r) => r.stop()), keypad?.stop()]);
        for (const input of everyInput()) {
          try {
            input.close();
          } catch (error) {
            logger.warn({ input: input.name, err: errorField(error) }, 'could not close input');
          }
        }
        closeOutputs();
      })();
      return closing;
    };

    return {
      readers,
      keypad,
      outputs: outputs as Record<OutputName, DigitalOutput>,
      inputs,
      doors,
      switched,
      intruderAlarm,
      allSafe,
      detachReaders,
      holdSafe,
      close,
      simulated,
    };
  } catch (error) {
    allSafe();
    for (const input of everyInput()) input.close();
    closeOutputs();
    throw error;
  }
}

/**
 * The simulated controls of a bundle, or an error saying why there are none: for `oag tap` and the demo,
 * which only make sense on simulated hardware.
 */
export function simulatedControls(hw: Pick<Hardware, 'simulated'>): SimulatedControls {
  if (hw.simulated === undefined) {
    throw new Error('this hardware is not simulated: set `hardware.readers[].driver: simulated` (and `hardware.gpio.driver: simulated`) to play cards and contacts');
  }
  return hw.simulated;
}

/**
 * A PC/SC reader that cannot load (no libpcsclite on this machine) does not stop the branch: its readers
 * report offline with the reason, the other readers work, and the gateway raises `reader-offline`.
 */
async function createPcscReader(entries: DriverReaderConfig[], logger: HardwareLogger, opts: CreateHardwareOptions): Promise<PcscCardReader> {
  let nfc: NfcPcscModule | PcscUnavailableError;
  try {
    nfc = await (opts.drivers?.loadNfc ?? loadNfcPcsc)();
  } catch (error) {
    nfc = error instanceof PcscUnavailableError ? error : new PcscUnavailableError(error);
    logger.error({ readers: entries.map((e) => e.id) }, nfc.message);
  }
  return new PcscCardReader({ ...opts.drivers?.pcsc, entries, nfc, logger });
}

function requirePin(pin: number | undefined, path: string): number {
  // The schema requires pins under sysfs; this guards a config built by hand.
  if (pin === undefined) throw new Error(`${path}: required when gpio.driver is sysfs`);
  return pin;
}
