// USB numeric keypads (USB HID keyboards with a numeric block) read as Linux input devices, one per reader it
// sits at. A PIN typed there answers the tap at that reader only. Nothing typed is ever logged, not even how many
// keys: an onlooker at the log must learn as little as one at the door.
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { silentLogger, type HardwareLogger } from '../logger.js';
import type { Keypad, KeypadEvents, ReaderRole } from '../types.js';
import { InputDevice } from './input-device.js';
import { inputEventSize, KeyPressDecoder } from './input-events.js';
import { PinEntry } from './pin-entry.js';

export interface EvdevKeypadConfig {
  /** `path`: the device (`/dev/input/by-id/…-event-kbd`); `name`: part of its name in /proc/bus/input/devices. */
  match: { name?: string | undefined; path?: string | undefined };
  readerId: string;
  role: ReaderRole;
}

export interface EvdevKeypadOptions {
  keypads: EvdevKeypadConfig[];
  /** The longest pause between two keys of one PIN (the gateway's taps.pinTimeoutMs). */
  entryTimeoutMs: number;
  logger?: HardwareLogger;
  /** Seams for tests. */
  open?: (device: string) => Readable;
  eventSize?: 16 | 24;
  reopen?: { initialMs: number; maxMs: number };
  procDevices?: string;
  now?: () => number;
}

export class EvdevKeypad extends EventEmitter<KeypadEvents> implements Keypad {
  private readonly devices: InputDevice[];

  constructor(options: EvdevKeypadOptions) {
    super();
    const logger = options.logger ?? silentLogger;
    const now = options.now ?? Date.now;
    this.devices = options.keypads.map((keypad) => {
      const { readerId, role } = keypad;
      const keys = new KeyPressDecoder(options.eventSize ?? inputEventSize());
      const entry = new PinEntry(options.entryTimeoutMs);
      return new InputDevice({
        locate: () => locateKeypad(keypad.match, options.procDevices ?? '/proc/bus/input/devices'),
        missing: `no input device named like "${keypad.match.name ?? ''}"`,
        open: options.open,
        reopen: options.reopen,
        onData: (chunk) => {
          for (const code of keys.push(chunk)) {
            const result = entry.press(code, now());
            if (result === undefined) continue;
            if (result.kind === 'key') this.emit('key', { readerId });
            else if (result.kind === 'pin') this.emit('pin', { digits: result.digits, readerId });
            else {
              logger.info({ readerId, reason: result.reason }, 'PIN entry refused');
              this.emit('refused', { readerId, reason: result.reason });
            }
          }
        },
        onStatus: (online, detail) => {
          if (online) logger.info({ readerId }, 'keypad connected');
          else logger.warn({ readerId, detail }, 'keypad offline');
          this.emit('status', { readerId, role, online, detail: online ? undefined : `keypad at ${readerId}: ${detail ?? 'offline'}` });
        },
      });
    });
  }

  async start(): Promise<void> {
    for (const device of this.devices) device.start();
  }

  async stop(): Promise<void> {
    for (const device of this.devices) device.stop();
  }
}

/** The path to open: the configured one, or the event device of the keyboard whose name matches. */
function locateKeypad(match: EvdevKeypadConfig['match'], procDevices: string): string | undefined {
  if (match.path !== undefined) return match.path;
  let listing: string;
  try {
    listing = readFileSync(procDevices, 'latin1');
  } catch {
    // Not Linux, or no /proc: no device found, said as such, and looked for again later.
    return undefined;
  }
  const event = findInputDevice(listing, match.name ?? '');
  return event === undefined ? undefined : `/dev/input/${event}`;
}

/**
 * The event handler (`event3`) of the keyboard device named `name` in a /proc/bus/input/devices listing: an exact
 * name first (case-insensitive), else the first name containing it. A keypad often lists a second device
 * ("… Consumer Control") without the `kbd` handler; only keyboards count.
 */
export function findInputDevice(listing: string, name: string): string | undefined {
  const wanted = name.toLowerCase();
  const keyboards: { name: string; event: string }[] = [];
  for (const block of listing.split(/\n\s*\n/)) {
    const deviceName = /^N: Name="(.*)"$/m.exec(block)?.[1];
    const handlers = /^H: Handlers=(.*)$/m.exec(block)?.[1]?.trim().split(/\s+/) ?? [];
    const event = handlers.find((h) => /^event\d+$/.test(h));
    if (deviceName !== undefined && event !== undefined && handlers.includes('kbd')) keyboards.push({ name: deviceName.toLowerCase(), event });
  }
  return (keyboards.find((k) => k.name === wanted) ?? keyboards.find((k) => k.name.includes(wanted)))?.event;
}
