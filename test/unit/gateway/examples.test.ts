// The examples are real: the example gateway config and the starter policy install-pi.sh puts beside it pass
// `oag check-config` as installed, and one pin map runs through the example, docs/hardware.md (its table, its
// config.txt lines, its Example) and the config.txt block the installer writes.
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { bootConfigLines, bootPinModes, parseBootConfigLines } from '../../../firmware-bridge/boot-config.js';
import { HardwareConfigSchema } from '../../../firmware-bridge/config.js';
import { INPUT_NAMES, OUTPUT_NAMES } from '../../../firmware-bridge/types.js';
import { loadDoorHardware, withDoorSafeHardware } from '../../../gateway/config.js';
import { decide, loadPolicyText, modeAt } from '../../../policies/index.js';
import { runBootConfig } from '../../../scripts/commands/boot-config.js';
import { runCheckConfig } from '../../../scripts/commands/check-config.js';
import { ctx, member } from '../policies/helpers.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');
const EXAMPLE = 'gateway/gateway.example.yaml';
const STARTER = 'policies/examples/starter.yaml';
const hardwareDoc = read('docs/hardware.md');

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (s: string) => void out.push(s), err: (s: string) => void err.push(s) } };
}

/** The example and the starter policy laid out as install-pi.sh lays them out in /etc/oag. */
let etc: string;
const savedKey = process.env.OAG_DEPLOYMENT_KEY;
beforeAll(() => {
  etc = mkdtempSync(join(tmpdir(), 'oag-etc-'));
  copyFileSync(join(ROOT, EXAMPLE), join(etc, 'gateway.yaml'));
  copyFileSync(join(ROOT, STARTER), join(etc, 'policy.yaml'));
});
afterAll(() => rmSync(etc, { recursive: true, force: true }));
afterEach(() => {
  if (savedKey === undefined) delete process.env.OAG_DEPLOYMENT_KEY;
  else process.env.OAG_DEPLOYMENT_KEY = savedKey;
});

describe('the example config and the starter policy', () => {
  it('pass oag check-config as installed, side by side', async () => {
    // The service's key comes from systemd's EnvironmentFile: the check reads it from the environment.
    process.env.OAG_DEPLOYMENT_KEY = 'ab'.repeat(32);
    const policy = capture();
    expect(await runCheckConfig(join(etc, 'policy.yaml'), policy.io)).toBe(0);
    expect(policy.out.join('')).toBe('ok: policy town-central v1\n');
    const gateway = capture();
    expect(await runCheckConfig(join(etc, 'gateway.yaml'), gateway.io)).toBe(0);
    expect(gateway.err).toEqual([]);
    expect(gateway.out.join('')).toBe('ok: gateway town-central, policy town-central v1\n');
  });

  it('the example names the starter policy beside it, and the installer installs it there', () => {
    expect(parse(read(EXAMPLE)).policyFile).toBe('policy.yaml');
    expect(read('scripts/install-pi.sh')).toContain('$SOURCE/policies/examples/starter.yaml}');
    expect(read('scripts/install-pi.sh')).toContain('"$CONF/policy.yaml"');
  });

  it('the starter policy keeps the branch closed at every hour: staff cards open the door, members do not', () => {
    const loaded = loadPolicyText(read(STARTER), 'starter.yaml');
    if (!loaded.ok) throw new Error(loaded.errors.join('\n'));
    for (let hour = 0; hour < 7 * 24; hour += 1) {
      const at = new Date(Date.UTC(2026, 10, 23, hour));
      expect(modeAt(loaded.policy, at).mode, at.toISOString()).toBe('closed');
    }
    expect(decide(loaded.policy, member(), ctx('2026-11-23T12:00:00Z')).allow).toBe(false);
    expect(decide(loaded.policy, member({ staff: true }), ctx('2026-11-23T12:00:00Z')).allow).toBe(true);
  });
});

/** docs/hardware.md's pin table: config path → BCM and its config.txt line. */
function pinTable(): Map<string, { bcm: number; boot: string }> {
  const section = hardwareDoc.slice(hardwareDoc.indexOf('### Suggested pin map'), hardwareDoc.indexOf('## Outputs and the safe state'));
  const rows = new Map<string, { bcm: number; boot: string }>();
  for (const match of section.matchAll(/^\| [^|]+ \| `((?:outputs|inputs)\.\w+)` \| (\d+) \| \d+ \| `([a-z,]+)` \|/gm)) {
    rows.set(match[1]!, { bcm: Number(match[2]), boot: match[3]! });
  }
  return rows;
}

/** Every pin a hardware section names, by config path. */
function pinsOf(hardware: { outputs: Record<string, { pin?: number }>; inputs: Record<string, { pin?: number } | undefined> }): Map<string, number> {
  const pins = new Map<string, number>();
  for (const [name, output] of Object.entries(hardware.outputs)) if (output.pin !== undefined) pins.set(`outputs.${name}`, output.pin);
  for (const [name, input] of Object.entries(hardware.inputs)) if (input?.pin !== undefined) pins.set(`inputs.${name}`, input.pin);
  return pins;
}

/** The lines between the BEGIN and END markers (both included) in a text. */
function block(text: string): string {
  const begin = text.indexOf('# BEGIN Open Access gateway');
  const end = text.indexOf('# END Open Access gateway', begin);
  expect(begin, 'BEGIN marker').toBeGreaterThanOrEqual(0);
  expect(end, 'END marker').toBeGreaterThan(begin);
  return text.slice(begin, text.indexOf('\n', end));
}

describe('one pin map', () => {
  const table = pinTable();
  const tablePins = new Map([...table].map(([path, row]) => [path, row.bcm]));
  const tableModes = new Map([...table.values()].map((row) => [row.bcm, row.boot]));

  it('docs/hardware.md has a row for every output and input, and no pin twice', () => {
    // Every output and input the hardware layer knows: a new one fails here until the pin map has its row.
    expect([...table.keys()].sort()).toEqual(
      [...OUTPUT_NAMES.map((name) => `outputs.${name}`), ...INPUT_NAMES.map((name) => `inputs.${name}`)].sort(),
    );
    expect(new Set(tablePins.values()).size).toBe(table.size);
  });

  it('the example config uses it, its commented-out inputs too', () => {
    const example = loadDoorHardware(join(ROOT, EXAMPLE));
    for (const [path, pin] of pinsOf(example)) expect(pin, path).toBe(tablePins.get(path));
    for (const match of read(EXAMPLE).matchAll(/^\s*#\s*(\w+):\s*\{ pin: (\d+)/gm)) {
      expect(Number(match[2]), `inputs.${match[1]} (commented)`).toBe(tablePins.get(`inputs.${match[1]}`));
    }
    // and its boot levels are the table's: outputs at their safe level, inputs pulled up
    for (const [pin, mode] of bootPinModes(example)) expect(mode, `BCM ${pin}`).toBe(tableModes.get(pin));
  });

  it("the docs' Example is the whole map, with the table's boot levels", () => {
    const yaml = /## Example[\s\S]*?```yaml\n([\s\S]*?)```/.exec(hardwareDoc)?.[1];
    const hardware = withDoorSafeHardware(HardwareConfigSchema.parse((parse(yaml!) as { hardware: unknown }).hardware), 'fail-secure');
    expect(pinsOf(hardware)).toEqual(tablePins);
    expect(bootPinModes(hardware)).toEqual(tableModes);
  });

  it("the installer's config.txt block is the docs' block, and holds every pin as the table says", () => {
    const installer = block(read('scripts/install-pi.sh'));
    const docs = block(/```ini\n([\s\S]*?)```/.exec(hardwareDoc.slice(hardwareDoc.indexOf('**Before Linux runs')))?.[1] ?? '');
    expect(parseBootConfigLines(docs)).toEqual(parseBootConfigLines(installer));
    const modes = parseBootConfigLines(installer);
    expect(new Map([...modes].sort(([a], [b]) => a - b))).toEqual(new Map([...tableModes].sort(([a], [b]) => a - b)));
    // An input is never driven, an output never left to float; the active-low relays stay off (high) through the boot.
    for (const [path, row] of table) expect(modes.get(row.bcm)?.startsWith(path.startsWith('inputs.') ? 'ip,' : 'op,'), path).toBe(true);
    expect(modes.get(17)).toBe('op,dh');
    expect(installer).toMatch(/^\[all\]$/m);
  });

  it('oag boot-config prints the lines for a config: a fail-safe maglock on the active-low board is held energised', async () => {
    const example = loadDoorHardware(join(ROOT, EXAMPLE));
    expect(bootConfigLines(example)).toEqual(['[all]', 'gpio=17,22,27=op,dh', 'gpio=5,6=op,dl', 'gpio=23,24,25=ip,pu']);
    expect(bootConfigLines(withDoorSafeHardware(example, 'fail-safe'))).toEqual(['[all]', 'gpio=22,27=op,dh', 'gpio=5,6,17=op,dl', 'gpio=23,24,25=ip,pu']);
    const cli = capture();
    expect(await runBootConfig(join(etc, 'gateway.yaml'), cli.io)).toBe(0);
    expect(cli.out.join('')).toContain('\n[all]\ngpio=17,22,27=op,dh\ngpio=5,6=op,dl\ngpio=23,24,25=ip,pu\n');
  });
});
