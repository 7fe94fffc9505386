// Readers, keypads and the loudspeaker as doctor finds them, on faked answers from pcscd, /proc and aplay: each
// configured reader found by the gateway's own name matching, and each fault said with its fix.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HardwareConfigSchema, type HardwareConfigInput } from '../../../firmware-bridge/config.js';
import { parseGatewayConfig } from '../../../gateway/config.js';
import { checkKeypad, checkReaders, type ReaderCheckDeps } from '../../../gateway/doctor/reader-checks.js';
import { checkSound, type RunCommand } from '../../../gateway/doctor/sound-check.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'oag-doctor-devices-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const hardware = (extra: Partial<HardwareConfigInput>) => HardwareConfigSchema.parse({ gpio: { driver: 'simulated' }, readers: [{ id: 'entry', driver: 'simulated' }], ...extra });

function deps(names: string[] | Error, up = true): ReaderCheckDeps {
  return { pcscdUp: async () => up, listPcscReaders: async () => names, procDevices: join(dir, 'devices') };
}

const twoAcr = hardware({
  readers: [
    { id: 'entry', driver: 'pcsc', role: 'entry', namePattern: 'ACR122U.* 00 00' },
    { id: 'exit', driver: 'pcsc', role: 'exit', namePattern: 'ACR122U.* 01 00' },
  ],
});

describe('doctor: readers', () => {
  it('finds each configured PC/SC reader by its namePattern', async () => {
    const findings = await checkReaders(twoAcr, deps(['ACS ACR122U PICC Interface 00 00', 'ACS ACR122U PICC Interface 01 00']));
    expect(findings.map((f) => [f.id, f.status])).toEqual([['readers.pcscd', 'ok'], ['readers.entry', 'ok'], ['readers.exit', 'ok']]);
  });

  it('fails a reader pcscd does not list, naming what it does list', async () => {
    const exit = (await checkReaders(twoAcr, deps(['ACS ACR122U PICC Interface 00 00']))).find((f) => f.id === 'readers.exit');
    expect(exit).toMatchObject({ status: 'fail', found: 'reader exit (namePattern ACR122U.* 01 00) is not found; pcscd lists ACS ACR122U PICC Interface 00 00' });
    expect(exit?.fix).toContain('lsusb');
  });

  it('says how to start pcscd when it is not running', async () => {
    expect(await checkReaders(twoAcr, deps([], false))).toEqual([
      { id: 'readers.pcscd', area: 'readers', status: 'fail', found: 'pcscd is not running, so no PC/SC reader can be read', fix: 'sudo systemctl enable --now pcscd.socket pcscd' },
    ]);
  });

  it('fails a keyboard-wedge reader whose device is not there', async () => {
    const [finding] = await checkReaders(hardware({ readers: [{ id: 'entry', driver: 'keyboard', device: join(dir, 'event-kbd') }] }), deps([]));
    expect(finding).toMatchObject({ status: 'fail', found: `reader entry: ${join(dir, 'event-kbd')} does not exist` });
  });
});

describe('doctor: keypad', () => {
  const keypad = hardware({ readers: [{ id: 'entry', driver: 'simulated' }], keypad: { driver: 'evdev', match: { name: 'USB Keypad' }, readerId: 'entry' } });

  it('finds an evdev keypad by name in /proc/bus/input/devices, and fails one not plugged in', () => {
    writeFileSync(join(dir, 'devices'), 'I: Bus=0003\nN: Name="SIGMACHIP USB Keypad"\nH: Handlers=sysrq kbd event3 leds\n\n');
    const [found] = checkKeypad(keypad, deps([]));
    // /dev/input/event3 is not on a test machine: found by name, then said missing as a device.
    expect(found?.found).toContain('/dev/input/event3');
    writeFileSync(join(dir, 'devices'), '');
    expect(checkKeypad(keypad, deps([]))[0]).toMatchObject({ status: 'fail', found: 'the keypad at reader entry ("USB Keypad") is not plugged in: no keyboard device of that name' });
  });
});

describe('doctor: sound', () => {
  const config = (sound: Record<string, unknown>) =>
    parseGatewayConfig({ site: 'town-central', policyFile: 'policy.yaml', hardware: { gpio: { driver: 'simulated' }, readers: [{ id: 'entry', driver: 'simulated' }] }, sound: { cacheDir: dir, ...sound } });
  const aplay = (stdout: string): RunCommand => async () => ({ stdout });
  const CARDS = 'card 0: Headphones [bcm2835 Headphones], device 0: bcm2835 Headphones [bcm2835 Headphones]\ncard 1: Device [USB Audio Device], device 0: USB Audio [USB Audio]\n';

  it('finds the configured card among those aplay -l lists, and the prepared files', async () => {
    writeFileSync(join(dir, 'closing-en.wav'), '');
    const findings = await checkSound(config({ driver: 'aplay', device: 'plughw:CARD=Device,DEV=0' }), aplay(CARDS), 'gateway.yaml');
    expect(findings.map((f) => f.status)).toEqual(['ok', 'ok']);
  });

  it('fails a device naming a card that is not there, and warns of files not prepared', async () => {
    const [device, files] = await checkSound(config({ driver: 'aplay', device: 'plughw:CARD=Speaker' }), aplay(CARDS), 'gateway.yaml');
    expect(device).toMatchObject({ status: 'fail', found: 'sound.device plughw:CARD=Speaker names card Speaker, which aplay -l does not list (it lists Headphones (card 0), Device (card 1))', fix: 'set sound.device to one of them, e.g. plughw:CARD=Headphones' });
    expect(files).toMatchObject({ status: 'warn', fix: 'oag sounds prepare --config gateway.yaml' });
  });

  it('says the prepared files cannot be listed instead of stopping the report (cacheDir a file, or not readable by this user)', async () => {
    const file = join(dir, 'not-a-folder');
    writeFileSync(file, '');
    const [, files] = await checkSound(config({ driver: 'aplay', cacheDir: file }), aplay(CARDS), 'gateway.yaml');
    expect(files).toMatchObject({ status: 'warn', id: 'sound.files', found: `the prepared sound files in ${file} cannot be listed (ENOTDIR)`, fix: `make ${file} a folder the service's user can write (sudo chown oag:oag ${file}), then: oag sounds prepare --config gateway.yaml` });
  });

  it('says to install alsa-utils when aplay is missing', async () => {
    const [finding] = await checkSound(config({ driver: 'aplay' }), async () => ({ error: 'spawn aplay ENOENT', missing: true }), 'gateway.yaml');
    expect(finding).toMatchObject({ status: 'fail', fix: 'sudo apt-get install alsa-utils' });
  });
});
