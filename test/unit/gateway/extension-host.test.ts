// The host around the core: a failing extension is an alarm and a retry, never the end of the others.
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Alarms } from '../../../gateway/core/alarms.js';
import { EventBus } from '../../../gateway/core/bus.js';
import type { EventLog } from '../../../gateway/core/event-log.js';
import { ExtensionHost } from '../../../gateway/extensions/extension.js';
import type { Extension, ExtensionContext } from '../../../gateway/extensions/extension.js';

function setup(): { bus: EventBus; alarms: Alarms; host: ExtensionHost; recorded: unknown[] } {
  const bus = new EventBus();
  const recorded: unknown[] = [];
  const events = { record: (type: string, data: unknown) => recorded.push({ type, data }) } as unknown as EventLog;
  const alarms = new Alarms({ bus, events });
  const host = new ExtensionHost({ bus, alarms, logger: pino({ level: 'silent' }), retry: { firstMs: 1000, maxMs: 8000 } });
  return { bus, alarms, host, recorded };
}

/** Fails to start until `healthy` is set, like an uplink whose password file is not there yet. */
class Flaky implements Extension {
  healthy = false;
  starts = 0;
  stops = 0;
  constructor(readonly name: string) {}
  start(context: ExtensionContext): void {
    this.starts += 1;
    context.on('state-changed', () => {});
    if (!this.healthy) throw new Error(`cannot read /etc/oag/${this.name}.password: ENOENT`);
  }
  stop(): void {
    this.stops += 1;
  }
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('ExtensionHost', () => {
  it('starts the others when one fails, raises <name>-failed, retries with backoff and clears the alarm once it runs', async () => {
    const { alarms, host, bus } = setup();
    const flaky = new Flaky('uplink');
    const fine = new Flaky('console');
    fine.healthy = true;
    host.add(flaky);
    host.add(fine);
    await host.start();

    expect(host.status()).toMatchObject([
      { name: 'uplink', state: 'failed', error: 'cannot read /etc/oag/uplink.password: ENOENT' },
      { name: 'console', state: 'running' },
    ]);
    expect(alarms.has('uplink-failed')).toBe(true);
    // The failed start's listener is gone with it.
    expect(bus.listenerCount('state-changed', 'uplink')).toBe(0);

    await vi.advanceTimersByTimeAsync(1000);
    expect(flaky.starts).toBe(2);
    await vi.advanceTimersByTimeAsync(1999);
    expect(flaky.starts).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(flaky.starts).toBe(3);

    flaky.healthy = true;
    await vi.advanceTimersByTimeAsync(4000);
    expect(host.status()[0]).toMatchObject({ name: 'uplink', state: 'running' });
    expect(alarms.has('uplink-failed')).toBe(false);
    expect(bus.listenerCount('state-changed', 'uplink')).toBe(1);
  });

  it('restarts an extension that reports a failure after it started', async () => {
    const { alarms, host } = setup();
    let context: ExtensionContext | undefined;
    let starts = 0;
    host.add({
      name: 'sip2',
      start(c) {
        context = c;
        starts += 1;
      },
      stop() {},
    });
    await host.start();
    context!.fail(new Error('worker died'));
    await vi.advanceTimersByTimeAsync(0);
    expect(alarms.has('sip2-failed')).toBe(true);
    await vi.advanceTimersByTimeAsync(1000);
    expect(starts).toBe(2);
    expect(alarms.has('sip2-failed')).toBe(false);
  });

  it('stops every extension in reverse order with its listeners, and retries nothing after the stop', async () => {
    const { host, bus } = setup();
    const order: string[] = [];
    const make = (name: string): Extension => ({
      name,
      start: (c) => c.on('event-logged', () => {}),
      stop: () => {
        order.push(name);
      },
    });
    host.add(make('storage'));
    host.add(make('uplink'));
    const flaky = new Flaky('local-api');
    host.add(flaky);
    await host.start();
    await host.stop();
    expect(order).toEqual(['uplink', 'storage']);
    expect(bus.listenerCount('event-logged')).toBe(0);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(flaky.starts).toBe(1);
  });
});
