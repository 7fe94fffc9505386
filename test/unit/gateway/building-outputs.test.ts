// The building-outputs extension on its own, on simulated outputs and a test clock: an output the policy does not
// schedule stays at its safe level, a new policy takes effect at once (`by: start`), and an untrusted clock holds them.
import { afterEach, describe, expect, it } from 'vitest';
import { HardwareConfigSchema } from '../../../firmware-bridge/config.js';
import { createHardware } from '../../../firmware-bridge/create-hardware.js';
import type { Hardware } from '../../../firmware-bridge/types.js';
import type { Policy, PolicyInput } from '../../../policies/index.js';
import { EventBus } from '../../../gateway/core/bus.js';
import type { OutputState } from '../../../gateway/core/state.js';
import { BuildingOutputsExtension } from '../../../gateway/extensions/building-outputs.js';
import { extensionContext } from '../../helpers/extension-context.js';
import { TestClock } from '../../helpers/test-clock.js';
import { policyOf } from '../policies/helpers.js';

// Tuesday 24 November 2026, GMT: open access 08:00–20:00.
const at = (hhmm: string): number => Date.parse(`2026-11-24T${hhmm}:00Z`);

function policy(outputs: PolicyInput['outputs'], version = 1): Policy {
  return policyOf({
    version,
    site: 'town-central',
    timezone: 'Europe/London',
    schedule: { weekly: { tue: [{ from: '08:00', to: '20:00', mode: 'open-access' }] } },
    outputs,
  });
}

const hardware: Hardware[] = [];
afterEach(async () => {
  for (const hw of hardware.splice(0)) await hw.close();
});

const SWITCHED = [
  { id: 'pcs', label: 'Public PCs' },
  { id: 'heating', safe: 'active' },
];

async function branch(now: string, first: Policy) {
  const clock = new TestClock(at(now));
  const config = HardwareConfigSchema.parse({ gpio: { driver: 'simulated' }, readers: [{ id: 'entry', driver: 'simulated' }], switched: SWITCHED });
  const hw = await createHardware(config, { clock });
  hardware.push(hw);
  const bus = new EventBus();
  const { context, lines } = extensionContext('building-outputs', bus);
  const events: Array<Record<string, unknown>> = [];
  const states: Array<OutputState[] | undefined> = [];
  let current = first;
  let trusted = true;
  const extension = new BuildingOutputsExtension({
    outputs: hw.switched,
    config: config.switched,
    policy: () => current,
    clock,
    clockTrusted: () => trusted,
    events: { record: ((type: string, data: Record<string, unknown>) => void events.push({ type, ...data })) as never },
    setOutputs: (outputs) => void states.push(outputs),
  });
  extension.start(context);
  return {
    clock,
    hw,
    lines,
    events,
    states,
    setPolicy(next: Policy) {
      current = next;
      bus.emit('policy-applied', { version: next.version, source: 'central' });
    },
    setTrusted(value: boolean) {
      trusted = value;
      bus.emit('state-changed');
    },
  };
}

describe('switched outputs', () => {
  it('keeps an output the policy does not schedule at its safe level, and lists every output in the state', async () => {
    const b = await branch('12:00', policy({ pcs: [{ during: ['open-access'] }] }));
    expect(b.hw.switched.get('pcs')!.active).toBe(true);
    // The heating's safe level is on, and no window says otherwise.
    expect(b.hw.switched.get('heating')!.active).toBe(true);
    expect(b.states.at(-1)).toEqual([
      { id: 'pcs', on: true, label: 'Public PCs' },
      { id: 'heating', on: true },
    ]);
    expect(b.events).toEqual([{ type: 'output', output: 'pcs', on: true, by: 'start' }]);
  });

  it('takes a new policy at once, as the level taken at start, and puts an output it drops back to its safe level', async () => {
    const b = await branch('12:00', policy({ pcs: [{ during: ['open-access'] }], heating: [{ during: ['closed'] }] }));
    expect(b.hw.switched.get('heating')!.active).toBe(false);
    b.setPolicy(policy({ pcs: [{ during: ['closed'] }] }, 2));
    expect(b.hw.switched.get('pcs')!.active).toBe(false);
    expect(b.hw.switched.get('heating')!.active).toBe(true);
    expect(b.events.slice(2)).toEqual([
      { type: 'output', output: 'pcs', on: false, by: 'start' },
      { type: 'output', output: 'heating', on: true, by: 'start' },
    ]);
  });

  it('holds the outputs while the clock is not trusted, says so once, and catches up when it is', async () => {
    const b = await branch('19:50', policy({ pcs: [{ during: ['open-access'] }] }));
    b.setTrusted(false);
    b.clock.advance(20 * 60_000);
    expect(b.hw.switched.get('pcs')!.active).toBe(true);
    expect(b.lines.filter((line) => line.includes('not trusted'))).toEqual(['the clock is not trusted: the switched outputs are held where they are until it is']);
    b.setTrusted(true);
    expect(b.hw.switched.get('pcs')!.active).toBe(false);
    expect(b.events.at(-1)).toEqual({ type: 'output', output: 'pcs', on: false, by: 'schedule' });
  });
});
