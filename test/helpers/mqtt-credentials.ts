// MQTT credentials for tests that start central's embedded broker: a password file for the given sites (in a temp
// folder, or `dir`), and each site's password for its gateway's `mqtt.username` / `mqtt.password`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generatePassword, setPassword } from '../../central/mqtt-passwords.js';

export interface MqttCredentials {
  /** The file for central's `embedded.passwordFile` (or Mosquitto's `password_file`). */
  passwordFile: string;
  passwords: Record<string, string>;
  /** `{ username, password }` of a site, for its gateway's `mqtt:` or an mqtt.js client. */
  login(site: string): { username: string; password: string };
  /** Removes the temp folder (not a given `dir`). */
  remove(): void;
}

/** Mosquitto's own cost: tests connect often, and the passwords are random anyway. */
const TEST_ITERATIONS = 101;

export async function mqttCredentials(sites: readonly string[], dir?: string): Promise<MqttCredentials> {
  const folder = dir ?? mkdtempSync(join(tmpdir(), 'oag-mqtt-credentials-'));
  const passwordFile = join(folder, 'mqtt-passwords');
  writeFileSync(passwordFile, '', { mode: 0o600 });
  const passwords: Record<string, string> = {};
  for (const site of sites) {
    passwords[site] = generatePassword();
    await setPassword(passwordFile, site, passwords[site], TEST_ITERATIONS);
  }
  return {
    passwordFile,
    passwords,
    login(site) {
      const password = passwords[site];
      if (password === undefined) throw new Error(`no MQTT password for ${site}: give it to mqttCredentials`);
      return { username: site, password };
    },
    remove() {
      if (dir === undefined) rmSync(folder, { recursive: true, force: true });
    },
  };
}
