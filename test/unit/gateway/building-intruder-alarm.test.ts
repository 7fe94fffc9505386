// The intruder-alarm extension on its own, on the simulated panel wiring and a test clock: what it does at a restart
// (the status input is the truth, nothing pulsed), a panel found set in opening hours, a stop in the middle of a pulse,
// a policy that leaves the panel alone, and a staff card with its PIN under staff-card-and-pin.
import { afterEach, describe, expect, it } from 'vitest';
import { HardwareConfigSchema } from '../../../firmware-bridge/config.js';
import { createHardware } from '../../../firmware-bridge/create-hardware.js';
import type { Hardware } from '../../../firmware-bridge/types.js';
import type { BranchMode, Policy, PolicyInput } from '../../../policies/index.js';
import { EventBus } from '../../../gateway/core/bus.js';
import type { IntruderAlarmState } from '../../../gateway/core/state.js';
import { IntruderAlarmExtension } from '../../../gateway/extensions/intruder-alarm.js';
import { extensionContext } from '../../helpers/extension-context.js';
import { TestClock } from '../../helpers/test-clock.js';
import { policyOf } from '../policies/helpers.js';

// Tuesday 24 November 2026, GMT: open access 08:00–20:00, closed before and after.
const at = (hhmm: string): number => Date.parse(`2026-11-24T${hhmm}:00Z`);

function policy(intruderAlarm?: PolicyInput['intruderAlarm'], version = 1): Policy {
  return policyOf({
    version,
    site: 'town-central',
    timezone: 'Europe/London',
    schedule: { weekly: { tue: [{ from: '08:00', to: '20:00', mode: 'open-access' }] } },
    ...(intruderAlarm === undefined ? {} : { intruderAlarm }),
  });
}

const hardware: Hardware[] = [];
afterEach(async () => {
  for (const hw of hardware.splice(0)) await hw.close();
});

async function branch(options: { now: string; statusSet?: boolean; mode?: BranchMode; closedAndEmpty?: boolean; policy?: Policy }) {
  const clock = new TestClock(at(options.now));
  const hw = await createHardware(
    HardwareConfigSchema.parse({
      gpio: { driver: 'simulated' },
      readers: [{ id: 'entry', driver: 'simulated', role: 'entry' }],
      intruderAlarm: { status: { debounceMs: 0 }, pulseMs: 1000 },
    }),
    { clock },
  );
  hardware.push(hw);
  const wiring = hw.simulated!.intruderAlarm!;
  // What the panel says before the gateway starts: set by whoever locked up, or not.
  if (options.statusSet === true) wiring.status.set(true);
  const bus = new EventBus();
  const { context, lines } = extensionContext('intruder-alarm', bus);
  const alarms = new Map<string, string | undefined>();
  const events: Array<Record<string, unknown>> = [];
  const states: Array<IntruderAlarmState | undefined> = [];
  let current = options.policy ?? policy({});
  const extension = new IntruderAlarmExtension({
    panel: hw.intruderAlarm!,
    policy: () => current,
    clock,
    clockTrusted: () => true,
    mode: () => options.mode ?? 'closed',
    closedAndEmpty: () => options.closedAndEmpty ?? false,
    events: { record: ((type: string, data: Record<string, unknown>) => void events.push({ type, ...data })) as never },
    alarms: {
      raise: (name, detail) => void alarms.set(name, detail),
      clear: (name) => void alarms.delete(name),
      has: (name) => alarms.has(name),
    },
    setIntruderAlarm: (state) => void states.push(state),
  });
  const pulses = (output: 'set' | 'unset'): number => wiring[output].history.filter((write) => write.active).length;
  return {
    clock,
    hw,
    bus,
    lines,
    alarms,
    events,
    states,
    extension,
    context,
    pulses,
    wiring,
    setPolicy(next: Policy) {
      current = next;
      bus.emit('policy-applied', { version: next.version, source: 'central' });
    },
  };
}

describe('a restart', () => {
  it('takes the status input as the truth and pulses nothing, though the unset was due while the gateway was down', async () => {
    // 07:55: the unset (07:50) fell due while the gateway was down.
    const b = await branch({ now: '07:55', statusSet: true });
    b.extension.start(b.context);
    expect(b.states.at(-1)).toEqual({ state: 'set', since: null });
    b.clock.advance(10 * 60_000);
    expect(b.pulses('unset')).toBe(0);
    expect(b.pulses('set')).toBe(0);
    expect(b.events).toEqual([]);
  });

  it('pulses nothing at a start while closed and empty with the panel unset, and says how it will be set', async () => {
    const b = await branch({ now: '22:00', closedAndEmpty: true });
    b.extension.start(b.context);
    expect(b.states.at(-1)).toEqual({ state: 'unset', since: null });
    expect(b.pulses('set')).toBe(0);
    expect(b.lines).toContain(
      'the intruder alarm reads unset while the branch is closed and empty: it is not set at a restart; set it at the panel, or it sets at the next close',
    );
  });

  it('raises a fault when the panel is found set in opening hours: people are coming in and only its keypad should unset it', async () => {
    const b = await branch({ now: '09:00', statusSet: true, mode: 'open-access' });
    b.extension.start(b.context);
    expect(b.alarms.get('intruder-alarm-fault')).toBe(
      'the intruder alarm is set in opening hours (read at start): the branch does not unset it at a restart; unset it at the panel’s keypad',
    );
    expect(b.pulses('unset')).toBe(0);
    // Unset at the keypad: reported as theirs, and the fault is over.
    b.wiring.status.set(false);
    expect(b.events).toEqual([{ type: 'intruder-alarm', action: 'unset', outcome: 'at-panel', by: 'panel' }]);
    expect(b.alarms.has('intruder-alarm-fault')).toBe(false);
  });
});

describe('a stop in the middle of a pulse', () => {
  it('opens the contact at once, so the panel never sees a contact held on', async () => {
    const b = await branch({ now: '20:30', closedAndEmpty: true });
    b.extension.start(b.context);
    b.bus.emit('building-empty', true);
    expect(b.hw.intruderAlarm!.set.active).toBe(true);
    b.extension.stop();
    expect(b.hw.intruderAlarm!.set.active).toBe(false);
    b.clock.advance(120_000);
    // Stopped: no failure is told for a confirmation nobody waits for any more.
    expect(b.events.map((e) => e.outcome)).toEqual(['requested']);
  });
});

describe('the policy', () => {
  it('without an intruderAlarm section: the panel is reported, never set', async () => {
    const b = await branch({ now: '20:30', closedAndEmpty: true, policy: policy(undefined) });
    b.extension.start(b.context);
    b.bus.emit('building-empty', true);
    b.clock.advance(24 * 3600_000);
    expect(b.pulses('set') + b.pulses('unset')).toBe(0);
    expect(b.lines).toContain('the policy has no intruderAlarm section: the panel is reported, never set or unset by the branch');
  });

  it('with setWhenEmpty false: not set when the building empties, still unset before opening', async () => {
    const b = await branch({ now: '07:00', statusSet: true, closedAndEmpty: true, policy: policy({ setWhenEmpty: false }) });
    b.extension.start(b.context);
    b.bus.emit('building-empty', true);
    expect(b.pulses('set')).toBe(0);
    b.clock.advance(50 * 60_000);
    expect(b.pulses('unset')).toBe(1);
  });

  it('unsets for a staff grant that passed its PIN, and for nothing else the door lets in', async () => {
    const b = await branch({ now: '22:00', statusSet: true, policy: policy({ unsetInClosedHours: 'staff-card-and-pin' }) });
    b.extension.start(b.context);
    const outcome = (decision: Record<string, unknown>) =>
      ({ decision: { allow: true, mode: 'closed', ...decision }, role: 'entry', person: 'p-7f3a', seenAt: 0n, decidedAt: 0n, relayAt: 0n }) as never;
    b.bus.emit('access', outcome({ reason: 'staff' }));
    b.bus.emit('access', outcome({ reason: 'booking' }));
    expect(b.pulses('unset')).toBe(0);
    b.bus.emit('access', outcome({ reason: 'staff', withPin: true }));
    expect(b.pulses('unset')).toBe(1);
    expect(b.events).toEqual([{ type: 'intruder-alarm', action: 'unset', outcome: 'requested', by: 'staff card and PIN (p-7f3a)' }]);
  });
});
