// The help call at the staff console (fastify inject, a real gateway on simulated hardware): the state shows the
// call, and a signed-in member of staff takes it on through the same command path central uses, in their name.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startConsole } from '../helpers/console.js';
import type { ConsoleHarness } from '../helpers/console.js';

let c: ConsoleHarness | undefined;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  vi.setSystemTime(new Date('2026-03-04T12:00:00Z'));
});
afterEach(async () => {
  await c?.stop();
  c = undefined;
  vi.useRealTimers();
});

describe('a help call at the console', () => {
  it('is in the state staff see, and staff acknowledge it in their own name', async () => {
    c = await startConsole();
    await c.addUser('sam', 'staff');
    const sam = await c.login('sam');

    const none = await c.call(sam, 'POST', '/api/console/commands', { command: 'help-acknowledged' });
    expect(none.statusCode).toBe(409);
    expect(none.json()).toEqual({ error: 'no help call is open at the branch' });

    // The button itself is tested in gateway-help-call.test.ts; here the call is opened as its press does.
    c.harness.running.gateway.help.press();
    const open = (await c.call(sam, 'GET', '/api/console/state')).json<{ state: { alarms: string[]; help: Record<string, unknown> } }>().state;
    expect(open.alarms).toContain('help-requested');
    expect(open.help).toEqual({ requested: true, since: '2026-03-04T12:00:00.000Z', presses: 1, acknowledgedBy: null, acknowledgedAt: null });

    vi.advanceTimersByTime(60_000);
    const taken = await c.call(sam, 'POST', '/api/console/commands', { command: 'help-acknowledged' });
    expect(taken.statusCode).toBe(200);
    const after = (await c.call(sam, 'GET', '/api/console/state')).json<{ state: { help: Record<string, unknown> } }>().state;
    expect(after.help).toMatchObject({ requested: true, acknowledgedBy: 'sam', acknowledgedAt: '2026-03-04T12:01:00.000Z' });
    expect(c.harness.events.filter((e) => e.type === 'staff' && e.action === 'help-acknowledged')).toEqual([
      expect.objectContaining({ actor: 'sam', text: 'sam' }),
    ]);
  });
});
