// What the loudspeaker says through an evening, on the real gateway (simulated drivers, the print driver, fake time):
// the closing warnings, the close, a group's booking ending; and the close said once, not twice.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it, vi } from 'vitest';
import type { GatewayConfigInput } from '../../gateway/config.js';
import { advanceTo, defaultConfig, harnessPerTest, startHarness } from '../helpers/gateway-harness.js';
import type { Harness } from '../helpers/gateway-harness.js';

const town = parse(readFileSync(new URL('../../policies/examples/town.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;
const MEMBER = '04A1B2C3D4';
// Monday 23 November 2026 at the town branch (GMT): open access until 20:00, then closed.
const at = (hhmm: string): Date => new Date(`2026-11-23T${hhmm}:00Z`);
const scene = harnessPerTest();

async function start(now: string): Promise<Harness> {
  vi.setSystemTime(at(now));
  const hardware = { ...defaultConfig('/not-used').hardware!, inputs: { doorContact: { debounceMs: 0 }, exitButton: { debounceMs: 0 }, motion: { debounceMs: 0 } } };
  const h = await startHarness({
    policy: { ...town, announcements: { languages: ['cy', 'en'] } },
    members: { [MEMBER]: {} },
    config: { hardware, sound: { driver: 'print' } } as Partial<GatewayConfigInput>,
  });
  scene.current = h;
  scene.dirs.push(h.dir);
  return h;
}

function said(h: Harness): string[] {
  return h.events.filter((e) => e.type === 'announcement').map((e) => `${String(e.at).slice(11, 16)} ${String(e.phrase)} ${(e.languages as string[]).join('+')} ${String(e.outcome)}`);
}

describe('an evening on the loudspeaker', () => {
  it('warns at 15 and 5 minutes, and says the close once though someone is still inside', async () => {
    const h = await start('19:00');
    h.tap(MEMBER);
    h.input('doorContact', true);
    vi.advanceTimersByTime(2000);
    h.input('doorContact', false);
    advanceTo(at('20:01'));
    expect(h.running.gateway.alarms.has('people-inside-after-close')).toBe(true);
    expect(said(h)).toEqual(['19:45 closing-soon cy+en printed', '19:55 closing-soon cy+en printed', '20:00 closing-now cy+en printed']);
  });
});
