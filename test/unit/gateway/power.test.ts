// The power extension on its own: where it finds the Pi's throttled flags (a Pi 4's soc, a Pi 5's soc@…), how it
// reads them, and a machine that is not a Pi said once, with no alarm.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { PowerFacts } from '../../../gateway/core/state.js';
import { parseThrottled, PowerExtension } from '../../../gateway/extensions/power.js';
import type { ExtensionContext } from '../../../gateway/extensions/extension.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function platform(soc: string | undefined, throttled?: string): string {
  const root = join(mkdtempSync(join(tmpdir(), 'oag-platform-')), 'platform');
  dirs.push(join(root, '..'));
  mkdirSync(root);
  mkdirSync(join(root, 'serial8250'));
  if (soc !== undefined) {
    mkdirSync(join(root, soc, `${soc}:firmware`), { recursive: true });
    mkdirSync(join(root, soc, `${soc}:gpu`), { recursive: true });
    if (throttled !== undefined) writeFileSync(join(root, soc, `${soc}:firmware`, 'get_throttled'), `${throttled}\n`);
  }
  return root;
}

function recorder() {
  const lines: string[] = [];
  const logger = pino({ level: 'silent' });
  const at = (message: unknown, text?: string) => void lines.push(typeof message === 'string' ? message : String(text));
  logger.info = at as typeof logger.info;
  logger.warn = at as typeof logger.warn;
  const context: ExtensionContext = { logger, on: () => {}, fail: () => {} };
  const alarms = new Set<string>();
  const told: Array<[string, string, string | undefined]> = [];
  const facts: PowerFacts[] = [];
  return {
    lines,
    context,
    alarms,
    told,
    facts,
    deps: {
      alarms: {
        raise: (name: string, detail?: string) => {
          if (!alarms.has(name)) told.push(['raise', name, detail]);
          alarms.add(name);
        },
        clear: (name: string, detail?: string) => {
          if (alarms.delete(name)) told.push(['clear', name, detail]);
        },
        has: (name: string) => alarms.has(name),
      },
      setPower: (f: PowerFacts) => void facts.push({ ...f }),
    },
  };
}

describe('the Pi throttled flags', () => {
  it('are read as hex, with or without 0x', () => {
    expect(parseThrottled('50005\n')).toBe(0x50005);
    expect(parseThrottled('0x0')).toBe(0);
    expect(parseThrottled('throttled=0x50000')).toBeUndefined();
    expect(parseThrottled('')).toBeUndefined();
  });
});

describe('the power extension', () => {
  it('on a machine that is not a Pi says so once, raises nothing and reads nothing more', async () => {
    const r = recorder();
    const power = new PowerExtension({ ...r.deps, platformRoot: platform(undefined), pollMs: 10 });
    await power.start(r.context);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await power.stop();
    expect(r.lines.filter((l) => /not a Raspberry Pi/.test(l))).toHaveLength(1);
    expect(r.told).toEqual([]);
    expect(r.facts[0]).toEqual({ undervoltage: null, mains: null });
  });

  it("finds a Pi 4's flags under soc/soc:firmware and a Pi 5's under soc@107c000000", async () => {
    for (const soc of ['soc', 'soc@107c000000']) {
      const r = recorder();
      const power = new PowerExtension({ ...r.deps, platformRoot: platform(soc, '50005') });
      await power.start(r.context);
      expect(r.alarms.has('undervoltage'), soc).toBe(true);
      expect(r.told[0]?.[2]).toMatch(/below 4\.63 V \(get_throttled 50005\)/);
      expect(r.facts.at(-1)).toEqual({ undervoltage: true, mains: null });
      await power.stop();
      // Stopped: nobody watches, and the facts say so.
      expect(r.facts.at(-1)).toEqual({ undervoltage: null, mains: null });
    }
  });

  it('logs an under-voltage that happened before it started (the sticky bit alone) without raising it', async () => {
    const r = recorder();
    const power = new PowerExtension({ ...r.deps, platformRoot: platform('soc', '50000') });
    await power.start(r.context);
    await power.stop();
    expect(r.told).toEqual([]);
    expect(r.lines.some((l) => /under-voltage since boot \(get_throttled 50000\)/.test(l))).toBe(true);
  });
});
