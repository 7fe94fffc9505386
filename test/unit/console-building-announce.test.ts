// Announcing from the staff console: a prepared phrase by its id or staff's own words, through the same command as
// central's, with the signed-in account in the log; a body without words, or words with another command, is a 400.
import { afterEach, describe, expect, it } from 'vitest';
import { startConsole } from '../helpers/console.js';
import type { ConsoleHarness } from '../helpers/console.js';

let c: ConsoleHarness | undefined;
afterEach(async () => {
  await c?.stop();
  c = undefined;
});

describe('the console announces', () => {
  it('a phrase by its id or typed words, logged with who asked', async () => {
    c = await startConsole();
    await c.addUser('sam', 'staff');
    const sam = await c.login('sam');
    const asked: Array<{ text: string | undefined; actor: string }> = [];
    c.harness.running.gateway.bus.on('announce', ({ text, actor }) => void asked.push({ text, actor }));

    for (const text of ['closing-soon', 'The lift is out of order today']) {
      const res = await c.call(sam, 'POST', '/api/console/commands', { command: 'announce', text });
      expect(res.statusCode).toBe(200);
    }
    expect(asked).toEqual([
      { text: 'closing-soon', actor: 'sam' },
      { text: 'The lift is out of order today', actor: 'sam' },
    ]);
    const log = (await c.call(sam, 'GET', '/api/console/log?types=staff')).json().events.map((r: { summary: string }) => r.summary);
    expect(log).toEqual(expect.arrayContaining(['sam made an announcement: closing-soon', 'sam made an announcement: The lift is out of order today']));
  });

  it('refuses an announcement without words, and words with any other command', async () => {
    c = await startConsole();
    await c.addUser('sam', 'staff');
    const sam = await c.login('sam');
    const errors = async (body: unknown): Promise<string[]> => {
      const res = await c!.call(sam, 'POST', '/api/console/commands', body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      return res.json().errors as string[];
    };
    expect(await errors({ command: 'announce' })).toEqual(['text: required with announce (a phrase id or the words to say), and only allowed with it']);
    expect(await errors({ command: 'announce', text: '   ' })).toEqual(['text: must not be empty']);
    expect(await errors({ command: 'unlock', text: 'hello' })).toEqual(['text: required with announce (a phrase id or the words to say), and only allowed with it']);
    expect(c.harness.doorRelayActive()).toBe(false);
  });
});
