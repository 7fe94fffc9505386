// `oag check-config` on a policy whose announcements name a language with no words: refused before it is deployed,
// each missing phrase named by the path to fill in; Welsh and English need nothing.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkConfig } from '../../helpers/policy-against-branch.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function check(announcements: string): Promise<{ code: number; out: string; err: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'oag-phrases-'));
  dirs.push(dir);
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, `version: 1\nsite: town\nschedule: { weekly: {} }\nannouncements: ${announcements}\n`);
  const { code, out, err } = await checkConfig(file);
  return { code, out: out.join(''), err: err.join('') };
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

describe('oag check-config and the sound: section', () => {
  it('refuses a recording that is not there, naming its setting; one that is there passes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oag-recordings-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'policy.yaml'), 'version: 1\nsite: town\nschedule: { weekly: {} }\nannouncements: { languages: [cy, en] }\n');
    writeFileSync(join(dir, 'croeso.wav'), 'RIFF');
    const config = (recording: string): string =>
      [
        'site: town',
        'policyFile: policy.yaml',
        'store: { path: var/gw.sqlite }',
        'hardware: { gpio: { driver: simulated }, readers: [{ id: entry, driver: simulated }] }',
        `sound: { driver: aplay, recordings: { cy: { welcome: croeso.wav, evacuate: ${recording} } } }`,
      ].join('\n');
    const run = async (recording: string): Promise<{ code: number; err: string }> => {
      writeFileSync(join(dir, 'gateway.yaml'), config(recording));
      const { code, err } = await checkConfig(join(dir, 'gateway.yaml'));
      return { code, err: err.join('') };
    };
    expect(await run('gadael.wav')).toEqual({ code: 1, err: `sound.recordings.cy.evacuate: ${join(dir, 'gadael.wav')} not found or not a readable file (a WAV file)\n` });
    writeFileSync(join(dir, 'gadael.wav'), 'RIFF');
    expect(await run('gadael.wav')).toMatchObject({ code: 0, err: '' });
  });
});
