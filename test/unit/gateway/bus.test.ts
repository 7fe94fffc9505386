// The bus between the core and the extensions: a listener's error never reaches whoever emitted.
import { describe, expect, it } from 'vitest';
import { EventBus } from '../../../gateway/core/bus.js';
import type { ListenerFailure } from '../../../gateway/core/bus.js';

describe('EventBus', () => {
  it('runs every listener even when one throws, and hands the error to the reporter instead of the emitter', () => {
    const bus = new EventBus();
    const failures: ListenerFailure[] = [];
    bus.onListenerError = (failure) => failures.push(failure);
    const seen: number[] = [];
    bus.on('occupancy-changed', (n) => seen.push(n));
    bus.on(
      'occupancy-changed',
      () => {
        throw new Error('console bug');
      },
      'console',
    );
    bus.on('occupancy-changed', (n) => seen.push(n * 10));

    expect(() => bus.emit('occupancy-changed', 3)).not.toThrow();
    expect(seen).toEqual([3, 30]);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ event: 'occupancy-changed', owner: 'console' });
    expect((failures[0]!.error as Error).message).toBe('console bug');
  });

  it('does not loop when the reporter emits on the bus and a listener fails on that too', () => {
    const bus = new EventBus();
    let reports = 0;
    bus.on('state-changed', () => {
      throw new Error('always');
    });
    bus.onListenerError = () => {
      reports += 1;
      bus.emit('state-changed');
    };
    expect(() => bus.emit('state-changed')).not.toThrow();
    expect(reports).toBe(1);
    expect(bus.failures).toBe(2);
  });

  it('removes every listener of one owner, and only those', () => {
    const bus = new EventBus();
    const calls: string[] = [];
    bus.on('state-changed', () => calls.push('core'));
    bus.on('state-changed', () => calls.push('uplink'), 'uplink');
    bus.on('exit-request', () => calls.push('uplink door'), 'uplink');
    bus.removeOwner('uplink');
    bus.emit('state-changed');
    bus.emit('exit-request');
    expect(calls).toEqual(['core']);
    expect(bus.listenerCount('state-changed', 'uplink')).toBe(0);
  });

  it('calls a once listener once, and a listener added while emitting only from the next emit', () => {
    const bus = new EventBus();
    const calls: string[] = [];
    bus.once('exit-request', () => {
      calls.push('once');
      bus.on('exit-request', () => calls.push('late'));
    });
    bus.emit('exit-request');
    bus.emit('exit-request');
    expect(calls).toEqual(['once', 'late']);
  });
});
