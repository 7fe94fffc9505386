// The MQTT password file both brokers read: Mosquitto's `$7$` lines verify here, ours have its shape, a bad line is
// named, and adding a user keeps every other line as it was.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCentralMqttPasswd } from '../../../scripts/commands/central-mqtt-passwd.js';
import { hashPassword, parsePasswordFile, readPasswordFile, setPassword, verifyPassword, PasswordFileError } from '../../../central/mqtt-passwords.js';

/** Made by Debian's `mosquitto_passwd -b FILE alice secret` (Mosquitto 2.0.11, its default 101 iterations). */
const MOSQUITTO_LINE = 'alice:$7$101$wGisBBqWakO15+n4$s27xo6fNmQnS6KcJj1J8yb+DpVC7P07uX+VeTBf+KYm02SbwqSsAvHMvbliRVbB8rpG6yJVN/OzpNcapThbUFQ==';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempFile(text?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'oag-mqtt-passwd-'));
  dirs.push(dir);
  const path = join(dir, 'passwords');
  if (text !== undefined) writeFileSync(path, text);
  return path;
}

function users(text: string): ReturnType<typeof parsePasswordFile> & { ok: true } {
  const parsed = parsePasswordFile(text, 'passwords');
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed;
}

describe('MQTT password file', () => {
  it("verifies a line mosquitto_passwd wrote, with the right password only", async () => {
    const alice = users(`# made by mosquitto_passwd\n\n${MOSQUITTO_LINE}\n`).users.get('alice')!;
    expect(await verifyPassword(alice, Buffer.from('secret'))).toBe(true);
    expect(await verifyPassword(alice, Buffer.from('Secret'))).toBe(false);
    expect(await verifyPassword(alice, Buffer.alloc(0))).toBe(false);
  });

  it('writes the $7$ shape mosquitto_passwd writes, and reads it back', async () => {
    const hash = await hashPassword('correct horse battery', 1000);
    expect(hash).toMatch(/^\$7\$1000\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$/);
    const entry = users(`town:${hash}\n`).users.get('town')!;
    expect(await verifyPassword(entry, Buffer.from('correct horse battery'))).toBe(true);
  });

  it('names the file, the line and what is wrong with it', () => {
    const refused = (text: string): string => {
      const parsed = parsePasswordFile(text, 'passwords');
      return parsed.ok ? 'accepted' : parsed.error;
    };
    expect(refused(`${MOSQUITTO_LINE}\ntown secret\n`)).toBe('passwords:2: not a "user:hash" line');
    expect(refused('town:secret\n')).toMatch(/^passwords:1: the password of town is not a \$7\$ \(PBKDF2-SHA512\) hash/);
    expect(refused('town:$6$abc$def\n')).toMatch(/^passwords:1: the password of town uses the old \$6\$ hash/);
    expect(refused(`${MOSQUITTO_LINE}\n${MOSQUITTO_LINE}\n`)).toBe('passwords:2: alice is in the file twice');
    expect(refused('town:$7$99999999$c2FsdA==$aGFzaA==\n')).toMatch(/^passwords:1: the password of town is not a \$7\$/);
    expect(refused('town:$7$0$c2FsdA==$aGFzaA==\n')).toMatch(/^passwords:1: the password of town has 0 iterations/);
    expect(refused('town:$7$101$c2FsdA==$aGFzaA==\n')).toBe('passwords:1: the password of town has a 4-byte hash (PBKDF2-SHA512 gives 64)');
    expect(refused(' town:$7$101$c2FsdA==$aGFzaA==\n')).toMatch(/^passwords:1: the username may not hold/);
  });

  it('reads a file no larger than its limit, and says which file is missing', () => {
    expect(readPasswordFile('/nonexistent/passwords')).toEqual({ ok: false, error: '/nonexistent/passwords: cannot read: ENOENT' });
    const big = tempFile('#'.repeat(2 * 1024 * 1024));
    const read = readPasswordFile(big);
    expect(read.ok).toBe(false);
    expect(!read.ok && read.error).toMatch(/too large/);
  });

  it('adds a user or replaces its password, keeping every other line, readable by its owner only', async () => {
    const path = tempFile(`# branch passwords\n${MOSQUITTO_LINE}\n`);
    expect(await setPassword(path, 'town', 'first password', 101)).toEqual({ replaced: false });
    expect(await setPassword(path, 'town', 'second password', 101)).toEqual({ replaced: true });
    const text = readFileSync(path, 'utf8');
    expect(text.split('\n').slice(0, 2)).toEqual(['# branch passwords', MOSQUITTO_LINE]);
    const file = users(text).users;
    expect([...file.keys()]).toEqual(['alice', 'town']);
    expect(await verifyPassword(file.get('town')!, Buffer.from('second password'))).toBe(true);
    expect(await verifyPassword(file.get('town')!, Buffer.from('first password'))).toBe(false);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('changes nothing in a file it cannot read as a password file', async () => {
    const path = tempFile('town secret\n');
    await expect(setPassword(path, 'village', 'a long password', 101)).rejects.toThrow(PasswordFileError);
    await expect(setPassword(path, 'village', 'a long password', 101)).rejects.toThrow(`${path}:1: not a "user:hash" line`);
    expect(readFileSync(path, 'utf8')).toBe('town secret\n');
  });
});

describe('oag central mqtt-passwd', () => {
  const io = (answers: string[] | undefined) => {
    const out: string[] = [];
    const err: string[] = [];
    return {
      out,
      err,
      io: {
        out: (t: string) => void out.push(t),
        err: (t: string) => void err.push(t),
        askHidden: answers && (async () => answers.shift() ?? ''),
      },
    };
  };

  it('--generate prints the password once, alone on standard output, and the file takes it', async () => {
    const path = tempFile();
    const t = io(undefined);
    expect(await runCentralMqttPasswd(path, 'town-library', { generate: true }, t.io)).toBe(0);
    expect(t.out).toHaveLength(1);
    const password = t.out[0]!.trim();
    expect(password).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(t.err.join('')).toContain(`${path}: added town-library`);
    const entry = users(readFileSync(path, 'utf8')).users.get('town-library')!;
    expect(await verifyPassword(entry, Buffer.from(password))).toBe(true);
  });

  it('takes a typed password asked twice at the hidden prompt', async () => {
    const path = tempFile();
    const t = io(['a long typed password', 'a long typed password']);
    expect(await runCentralMqttPasswd(path, 'village', {}, t.io)).toBe(0);
    expect(t.out).toEqual([]);
    const entry = users(readFileSync(path, 'utf8')).users.get('village')!;
    expect(await verifyPassword(entry, Buffer.from('a long typed password'))).toBe(true);
  });

  it('refuses with one line and writes nothing: a name that is no site, two different passwords, a short one, no terminal', async () => {
    const path = tempFile();
    const cases: Array<[string, string[] | undefined, RegExp]> = [
      ['Town Library', ['a long typed password', 'a long typed password'], /^username "Town Library" must be a site id/],
      ['town', ['a long typed password', 'another long password'], /^the two passwords differ; nothing changed/],
      ['town', ['short', 'short'], /^the password is shorter than 12 characters/],
      ['town', undefined, /^no terminal to ask the password on: give --generate/],
    ];
    for (const [name, answers, message] of cases) {
      const t = io(answers);
      expect(await runCentralMqttPasswd(path, name, {}, t.io)).toBe(2);
      expect(t.err).toHaveLength(1);
      expect(t.err[0]).toMatch(message);
    }
    expect(() => statSync(path)).toThrow();
  });
});
