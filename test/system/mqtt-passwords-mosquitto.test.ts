// One password file for both brokers: a file `oag central mqtt-passwd` wrote lets the right password into Debian's
// Mosquitto and keeps a wrong one out, and a file `mosquitto_passwd` wrote verifies in central's reader.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePasswordFile, setPassword, verifyPassword } from '../../central/mqtt-passwords.js';
import { freePort, requireBinary } from '../helpers/mosquitto.js';

let dir: string;
let child: ChildProcess | undefined;
let port: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oag-mqtt-passwd-sys-'));
  const passwordFile = join(dir, 'passwords');
  // Our default cost, as `oag central mqtt-passwd` writes it.
  await setPassword(passwordFile, 'town-library', 'the town password');
  port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  // As root, Mosquitto would drop to the mosquitto user, who cannot read a 0600 file made here.
  const user = process.getuid?.() === 0 ? 'root' : (process.env.USER ?? 'root');
  writeFileSync(conf, [`user ${user}`, `listener ${port} 127.0.0.1`, 'allow_anonymous false', `password_file ${passwordFile}`, ''].join('\n'));
  child = spawn(requireBinary('mosquitto', 'mosquitto'), ['-c', conf], { stdio: 'ignore' });
});

afterAll(() => {
  if (child?.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

/** The CONNACK's answer: 0 accepted, 5 not authorized (Mosquitto's answer to a wrong password on 3.1.1). */
async function connackCode(username: string, password: string): Promise<number> {
  for (;;) {
    const code = await new Promise<number | 'no broker yet'>((resolve) => {
      const client = connect(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4, username, password, reconnectPeriod: 0, connectTimeout: 5000 });
      client.once('connect', () => {
        client.end(true);
        resolve(0);
      });
      client.once('error', (error) => {
        client.end(true);
        const code = (error as Error & { code?: unknown }).code;
        resolve(typeof code === 'number' ? code : 'no broker yet');
      });
    });
    if (code !== 'no broker yet') return code;
    if (child?.exitCode !== null) throw new Error(`mosquitto exited (${child?.exitCode})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('one MQTT password file for the embedded broker and Mosquitto', () => {
  it('Mosquitto lets in the password oag central mqtt-passwd wrote, and no other', async () => {
    expect(await connackCode('town-library', 'the town password')).toBe(0);
    expect(await connackCode('town-library', 'the town passwore')).not.toBe(0);
    expect(await connackCode('village', 'the town password')).not.toBe(0);
  });

  it("central's reader verifies the password mosquitto_passwd wrote, and no other", async () => {
    const file = join(dir, 'made-by-mosquitto');
    execFileSync(requireBinary('mosquitto_passwd', 'mosquitto'), ['-c', '-b', file, 'village', 'the village password'], { stdio: 'pipe' });
    const parsed = parsePasswordFile(readFileSync(file, 'utf8'), file);
    if (!parsed.ok) throw new Error(parsed.error);
    const village = parsed.users.get('village')!;
    expect(await verifyPassword(village, Buffer.from('the village password'))).toBe(true);
    expect(await verifyPassword(village, Buffer.from('the village passwore'))).toBe(false);
  });
});
