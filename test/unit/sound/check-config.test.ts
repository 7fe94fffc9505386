// `oag check-config` on a policy whose announcements name a language with no words: refused before it is deployed,
// each missing phrase named by the path to fill in; Welsh and English need nothing.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCheckConfig } from '../../../scripts/commands/check-config.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function check(announcements: string): Promise<{ code: number; out: string; err: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'oag-phrases-'));
  dirs.push(dir);
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, `version: 1\nsite: town\nschedule: { weekly: {} }\nannouncements: ${announcements}\n`);
  let out = '';
  let err = '';
  const code = await runCheckConfig(file, { out: (text) => void (out += text), err: (text) => void (err += text) });
  return { code, out, err };
}

describe('oag check-config and the announcements', () => {
  it('refuses a language with neither built-in words nor the policy’s, naming each phrase to fill in', async () => {
    const result = await check('{ languages: [cy, ga], phrases: { ga: { welcome: "Fáilte go dtí an leabharlann." } } }');
    expect(result.code).toBe(1);
    expect(result.err).toContain('announcements.phrases.ga.evacuate: no words for evacuate in "ga"');
    expect(result.err).not.toContain('announcements.phrases.ga.welcome');
    expect(result.err).not.toContain('.cy.');
  });

  it('takes Welsh and English as they are', async () => {
    const result = await check('{ languages: [cy, en] }');
    expect(result).toMatchObject({ code: 0, err: '' });
  });
});
