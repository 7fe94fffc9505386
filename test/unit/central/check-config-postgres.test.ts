import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeSigningKeyFiles } from '../../../central/signing-key.js';
import { runCheckConfig } from '../../../scripts/commands/check-config.js';

const dir = mkdtempSync(join(tmpdir(), 'oag-check-pg-'));
const { keyFile } = makeSigningKeyFiles(dir);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (s: string) => void out.push(s), err: (s: string) => void err.push(s) } };
}

/** One instance of a share group on PostgreSQL, as an installer writes it. */
function centralConfig(urlFile: string): string {
  writeFileSync(join(dir, 'broker-password'), 'secret\n');
  const file = join(dir, `central-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(
    file,
    [
      'broker:',
      '  url: mqtt://127.0.0.1:1883',
      '  clientId: oag-central-2',
      '  protocolVersion: 5',
      '  shareGroup: central',
      '  username: central',
      `  passwordFile: ${join(dir, 'broker-password')}`,
      `signing: { keyFile: ${keyFile} }`,
      `store: { postgres: { urlFile: ${urlFile} } }`,
      '',
    ].join('\n'),
  );
  return file;
}

describe('oag check-config --central with the history on PostgreSQL', () => {
  it('names the URL file it cannot read, and what a file holding something else must hold', async () => {
    const missing = io();
    expect(await runCheckConfig(centralConfig(join(dir, 'no-such-url')), missing.io, { central: true })).toBe(1);
    expect(missing.err.join('')).toContain(`store.postgres.urlFile: cannot read ${join(dir, 'no-such-url')} (ENOENT)`);

    writeFileSync(join(dir, 'junk-url'), 'host=db user=oag\n');
    const junk = io();
    expect(await runCheckConfig(centralConfig(join(dir, 'junk-url')), junk.io, { central: true })).toBe(1);
    expect(junk.err.join('')).toContain('must hold one URL, postgres://user:password@host:port/database');
  });

  it('passes a readable URL and shows it without its password', async () => {
    writeFileSync(join(dir, 'db-url'), 'postgres://oag:hunter2@db.example.org:5432/oag\n');
    const ok = io();
    expect(await runCheckConfig(centralConfig(join(dir, 'db-url')), ok.io, { central: true })).toBe(0);
    expect(ok.out.join('')).toContain('store postgres://oag:***@db.example.org:5432/oag');
    expect(ok.out.join('')).not.toContain('hunter2');
  });
});
