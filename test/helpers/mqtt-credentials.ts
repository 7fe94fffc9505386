// MQTT credentials for tests that start central's embedded broker: a password file for the given sites (in a temp
// folder, or `dir`), and each site's password for its gateway's `mqtt.username` / `mqtt.password`. A site added
// later connects without a restart: the broker reads the file again when it changes. And the broker alone, for
// tests of a gateway's uplink.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedBroker, type EmbeddedBroker, type EmbeddedBrokerOptions } from '../../central/broker.js';
import { generatePassword, setPassword } from '../../central/mqtt-passwords.js';

export interface MqttLogin {
  username: string;
  password: string;
}

export interface MqttCredentials {
  /** The file for central's `embedded.passwordFile` (or Mosquitto's `password_file`). */
  passwordFile: string;
  passwords: Record<string, string>;
  /** `{ username, password }` of a site, for its gateway's `mqtt:` or an mqtt.js client. */
  login(site: string): MqttLogin;
  /** Adds a site to the file (a running broker takes it at its next connect). */
  add(site: string): Promise<MqttLogin>;
  /** Removes the temp folder (not a given `dir`). */
  remove(): void;
}

/** Mosquitto's own cost: tests connect often, and the passwords are random anyway. */
const TEST_ITERATIONS = 101;

/** The password file of a test's folder, made empty if it is not there yet (a central restarted on it keeps its users). */
export function mqttPasswordFileIn(dir: string): string {
  const path = join(dir, 'mqtt-passwords');
  if (!existsSync(path)) writeFileSync(path, '', { mode: 0o600 });
  return path;
}

/** Adds `site` with a new random password to `passwordFile` (made if missing). */
export async function addMqttUser(passwordFile: string, site: string): Promise<MqttLogin> {
  const password = generatePassword();
  await setPassword(passwordFile, site, password, TEST_ITERATIONS);
  return { username: site, password };
}

export async function mqttCredentials(sites: readonly string[], dir?: string): Promise<MqttCredentials> {
  const folder = dir ?? mkdtempSync(join(tmpdir(), 'oag-mqtt-credentials-'));
  const passwordFile = mqttPasswordFileIn(folder);
  const passwords: Record<string, string> = {};
  const add = async (site: string): Promise<MqttLogin> => {
    const login = await addMqttUser(passwordFile, site);
    passwords[site] = login.password;
    return login;
  };
  for (const site of sites) await add(site);
  return {
    passwordFile,
    passwords,
    login(site) {
      const password = passwords[site];
      if (password === undefined) throw new Error(`no MQTT password for ${site}: give it to mqttCredentials`);
      return { username: site, password };
    },
    add,
    remove() {
      if (dir === undefined) rmSync(folder, { recursive: true, force: true });
    },
  };
}

/**
 * Central's embedded broker alone, for tests of a gateway's uplink: `sites` get logins; a watcher that stands in for
 * central logs in with `broker.central`. Give `port` to start it again where a stopped one listened.
 */
export async function startTestBroker(
  sites: readonly string[],
  options: { port?: number; mqtt?: MqttCredentials; aedes?: EmbeddedBrokerOptions['aedes']; rate?: EmbeddedBrokerOptions['rate'] } = {},
): Promise<{ broker: EmbeddedBroker; mqtt: MqttCredentials; close(): Promise<void> }> {
  const mqtt = options.mqtt ?? (await mqttCredentials(sites));
  const broker = await startEmbeddedBroker({
    host: '127.0.0.1',
    port: options.port ?? 0,
    prefix: 'oa/v1',
    passwordFile: mqtt.passwordFile,
    centralClientId: 'oag-central',
    ...(options.aedes ? { aedes: options.aedes } : {}),
    ...(options.rate ? { rate: options.rate } : {}),
  });
  return {
    broker,
    mqtt,
    async close() {
      await broker.close();
      if (options.mqtt === undefined) mqtt.remove();
    },
  };
}
