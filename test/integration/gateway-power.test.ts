// Power at the branch, through the real gateway: the Pi's under-voltage flag and a mains-present input become alarms
// raised and cleared (logged, and on to central like any alarm), and the state says which power facts it can see.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GatewayStateSchema } from '../../policies/contract/state.js';
import { removeDir, startHarness } from '../helpers/gateway-harness.js';
import type { Harness, HarnessOptions } from '../helpers/gateway-harness.js';

const OPEN_ALL_DAY = {
  version: 1,
  site: 'town-central',
  schedule: { weekly: Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, [{ from: '00:00', to: '24:00', mode: 'open-access' }]])) },
};

let harness: Harness | undefined;
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  vi.setSystemTime(new Date('2026-11-23T19:00:00Z'));
});
afterEach(async () => {
  await harness?.stop();
  if (harness) removeDir(harness.dir);
  harness = undefined;
  vi.useRealTimers();
});

/** A Pi 5's /sys/devices/platform, in memory: the firmware's flags are whatever `flags.now` says. */
function pi5(flags: { now: string }) {
  const tree: Record<string, string[]> = {
    '/p': ['soc@107c000000', 'serial8250'],
    '/p/soc@107c000000': ['soc@107c000000:firmware', 'soc@107c000000:gpio'],
  };
  return {
    platformRoot: '/p',
    pollMs: 5000,
    listDir: async (path: string) => {
      const entries = tree[path];
      if (entries === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
      return entries;
    },
    readText: async (path: string) => {
      if (path !== '/p/soc@107c000000/soc@107c000000:firmware/get_throttled') throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
      return `${flags.now}\n`;
    },
  };
}

async function start(options: Partial<HarnessOptions> = {}): Promise<Harness> {
  harness = await startHarness({ policy: OPEN_ALL_DAY, ...options });
  return harness;
}

/** The state as the uplink publishes it (its own `uplink` field added), checked by the contract. */
function published(h: Harness): unknown {
  const check = GatewayStateSchema.safeParse({ ...h.running.gateway.state, uplink: { connectedAt: null, reconnects: 0 } });
  return check.success ? check.data.power : check.error.issues;
}

function alarmEvents(h: Harness, alarm: string): Array<[string, string]> {
  return h.events.flatMap((e): Array<[string, string]> => (e.type === 'alarm' && e.alarm === alarm ? [[e.state, String(e.detail)]] : []));
}

describe('power', () => {
  it('says it can see neither fact on a machine that is not a Pi, with no mains input', async () => {
    const h = await start();
    expect(h.running.gateway.state.power).toEqual({ undervoltage: null, mains: null });
    expect(h.running.gateway.alarms.list()).toEqual([]);
    expect(published(h)).toEqual({ undervoltage: null, mains: null });
  });

  it("raises undervoltage while the Pi's firmware reports it, and clears it when the supply recovers", async () => {
    const flags = { now: '0' };
    const h = await start({ start: { power: pi5(flags) } });
    expect(h.running.gateway.state.power).toEqual({ undervoltage: false, mains: null });
    flags.now = '50005';
    await vi.advanceTimersByTimeAsync(5000);
    expect(h.running.gateway.alarms.has('undervoltage')).toBe(true);
    expect(h.running.gateway.state.power.undervoltage).toBe(true);
    expect(h.running.gateway.state.alarms).toContain('undervoltage');
    flags.now = '50000';
    await vi.advanceTimersByTimeAsync(5000);
    expect(h.running.gateway.alarms.has('undervoltage')).toBe(false);
    expect(h.running.gateway.state.power.undervoltage).toBe(false);
    expect(alarmEvents(h, 'undervoltage')).toEqual([
      ['raised', expect.stringMatching(/below 4\.63 V \(get_throttled 50005\)/)],
      ['cleared', 'the supply is back above 4.63 V'],
    ]);
    // The state as published, power included, is what the contract says.
    expect(published(h)).toEqual({ undervoltage: false, mains: null });
  });

  it('reports a dip shorter than the time between two readings, from the sticky flag', async () => {
    const flags = { now: '0' };
    const h = await start({ start: { power: pi5(flags) } });
    flags.now = '50000';
    await vi.advanceTimersByTimeAsync(5000);
    expect(alarmEvents(h, 'undervoltage')).toEqual([
      ['raised', expect.stringMatching(/dipped below 4\.63 V between two readings/)],
      ['cleared', 'the supply is back above 4.63 V'],
    ]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(alarmEvents(h, 'undervoltage')).toHaveLength(2);
  });

  it('raises mains-lost when the mains-present input drops, and clears it when the mains comes back', async () => {
    const h = await start({
      config: {
        hardware: {
          gpio: { driver: 'simulated' },
          inputs: { doorContact: { debounceMs: 0 }, mainsPresent: { debounceMs: 0 } },
          readers: [{ id: 'entry', driver: 'simulated', role: 'entry' }],
        },
      },
    });
    const mains = h.running.hardware.simulated!.inputs.mainsPresent!;
    // A simulated input starts inactive: no mains at start.
    expect(h.running.gateway.alarms.has('mains-lost')).toBe(true);
    expect(h.running.gateway.state.power).toEqual({ undervoltage: null, mains: 'lost' });
    mains.set(true);
    expect(h.running.gateway.alarms.has('mains-lost')).toBe(false);
    expect(h.running.gateway.state.power.mains).toBe('present');
    mains.set(false);
    expect(h.running.gateway.state.power.mains).toBe('lost');
    mains.set(true);
    expect(alarmEvents(h, 'mains-lost')).toEqual([
      ['cleared', 'mains supply restored'],
      ['raised', expect.stringMatching(/mains supply is off/)],
      ['cleared', 'mains supply restored'],
    ]);
    expect(h.events.flatMap((e) => (e.type === 'alarm' && e.alarm === 'mains-lost' ? [e.severity] : []))).toEqual(['major', 'major', 'major']);
  });
});
