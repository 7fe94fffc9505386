// Card readers and keypads, without taking them from the gateway: pcscd asked over its socket, the PC/SC readers
// listed (never connected to), keyboard-wedge and keypad devices only checked for being there and readable.
import { accessSync, constants, readFileSync } from 'node:fs';
import type { HardwareConfig } from '../../firmware-bridge/config.js';
import { evdevKeypads } from '../../firmware-bridge/config.js';
import { loadNfcPcsc } from '../../firmware-bridge/readers/pcsc.js';
import { findInputDevice } from '../../firmware-bridge/readers/keypad-evdev.js';
import { readerMatcher } from '../../firmware-bridge/readers/reader-match.js';
import { fail, ok, warn, type Finding } from './findings.js';

export interface ReaderCheckDeps {
  /** Whether pcscd answers on its socket (firmware-bridge/readers/pcscd-probe.ts). */
  pcscdUp(): Promise<boolean>;
  /** The PC/SC readers' names pcscd knows, or why they could not be listed. */
  listPcscReaders(): Promise<string[] | Error>;
  /** /proc/bus/input/devices, for a keypad matched by name. */
  procDevices: string;
}

export async function checkReaders(hardware: HardwareConfig, deps: ReaderCheckDeps): Promise<Finding[]> {
  const findings: Finding[] = [];
  const pcsc = hardware.readers.filter((r) => r.driver === 'pcsc');
  if (pcsc.length > 0) findings.push(...(await checkPcsc(pcsc, deps)));
  for (const reader of hardware.readers) {
    const id = `readers.${reader.id}`;
    if (reader.driver === 'simulated') findings.push(ok(id, 'readers', `reader ${reader.id} is simulated: nothing to check (a test bench or the demo)`));
    if (reader.driver === 'keyboard') {
      const device = reader.device ?? '-';
      if (device === '-') findings.push(warn(id, 'readers', `reader ${reader.id} reads the gateway's standard input: only for a test bench`, 'name the reader\'s device: hardware.readers[].device: /dev/input/by-id/…-event-kbd'));
      else findings.push(deviceFinding(id, 'readers', `reader ${reader.id}`, device));
    }
  }
  return findings;
}

async function checkPcsc(readers: HardwareConfig['readers'], deps: ReaderCheckDeps): Promise<Finding[]> {
  if (!(await deps.pcscdUp())) return [fail('readers.pcscd', 'readers', 'pcscd is not running, so no PC/SC reader can be read', 'sudo systemctl enable --now pcscd.socket pcscd')];
  const findings = [ok('readers.pcscd', 'readers', 'pcscd is running')];
  const names = await deps.listPcscReaders();
  if (names instanceof Error) return [...findings, fail('readers.pcsc', 'readers', `the PC/SC readers could not be listed: ${names.message}`, 'install libpcsclite-dev, then npm install again in the app folder')];
  // The gateway's own rule: each reader is given the configured id whose namePattern matches its name.
  const match = readerMatcher(readers);
  for (const reader of readers) {
    const found = names.filter((name) => match(name) === reader);
    const pattern = reader.namePattern === undefined ? 'any name' : `namePattern ${reader.namePattern}`;
    findings.push(
      found.length > 0
        ? ok(`readers.${reader.id}`, 'readers', `reader ${reader.id} is connected: ${found.join(', ')}`)
        : fail(
            `readers.${reader.id}`,
            'readers',
            `reader ${reader.id} (${pattern}) is not found; pcscd lists ${names.length === 0 ? 'no reader' : names.join(', ')}`,
            'check its USB cable (lsusb), or correct hardware.readers[].namePattern to a name pcscd lists',
          ),
    );
  }
  return findings;
}

export function checkKeypad(hardware: HardwareConfig, deps: Pick<ReaderCheckDeps, 'procDevices'>): Finding[] {
  const keypads = evdevKeypads(hardware.keypad);
  if (keypads.length === 0) {
    const driver = Array.isArray(hardware.keypad) ? 'evdev' : hardware.keypad.driver;
    return [ok('keypad', 'keypad', driver === 'simulated' ? 'the keypad is simulated: nothing to check' : 'no keypad configured (hardware.keypad)')];
  }
  return keypads.map((keypad) => {
    const id = `keypad.${keypad.readerId}`;
    const what = `the keypad at reader ${keypad.readerId}`;
    if (keypad.match.path !== undefined) return deviceFinding(id, 'keypad', what, keypad.match.path);
    let listing = '';
    try {
      listing = readFileSync(deps.procDevices, 'utf8');
    } catch {
      // No /proc: no device, said below.
    }
    const event = findInputDevice(listing, keypad.match.name ?? '');
    if (event === undefined) {
      return fail(id, 'keypad', `${what} ("${keypad.match.name}") is not plugged in: no keyboard device of that name`, 'check its USB cable; grep Name= /proc/bus/input/devices lists the names to use in hardware.keypad.match.name');
    }
    return deviceFinding(id, 'keypad', `${what} ("${keypad.match.name}")`, `/dev/input/${event}`);
  });
}

function deviceFinding(id: string, area: 'readers' | 'keypad', what: string, device: string): Finding {
  try {
    accessSync(device, constants.R_OK);
    return ok(id, area, `${what} is at ${device} and readable`);
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    return missing
      ? fail(id, area, `${what}: ${device} does not exist`, 'check its USB cable (ls /dev/input/by-id/), or correct the device path in the config')
      : fail(id, area, `${what}: ${device} is not readable by this user`, 'the service\'s user reads it through the input group: sudo usermod -aG input oag');
  }
}

/**
 * The PC/SC readers' names, through nfc-pcsc's context, for `waitMs`: listing takes no reader, and autoProcessing is
 * turned off before a card could be read, so no card is ever connected to.
 */
export async function listPcscReaders(waitMs = 1500): Promise<string[] | Error> {
  let module;
  try {
    module = await loadNfcPcsc();
  } catch (error) {
    return error as Error;
  }
  const names: string[] = [];
  const devices: Array<{ reader: { close(): void } }> = [];
  let failure: Error | undefined;
  let nfc;
  try {
    nfc = new module.NFC();
  } catch (error) {
    return error as Error;
  }
  nfc.on('reader', (device: { name: string; autoProcessing: boolean; reader: { close(): void }; on(event: string, listener: () => void): void }) => {
    device.autoProcessing = false;
    device.on('error', () => {});
    names.push(device.name);
    devices.push(device);
  });
  nfc.on('error', (error: Error) => {
    failure = error;
  });
  await new Promise((resolve) => setTimeout(resolve, waitMs));
  for (const device of devices) device.reader.close();
  nfc.close();
  return failure ?? names;
}
