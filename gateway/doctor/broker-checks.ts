// The branch's way to central: its login to the broker, the broker's ACL working for it, and central's public key.
// Under a client id of its own (never the gateway's `oag-{site}`, which would push the running gateway off), with a
// clean session and no will; it subscribes only (to its own command topic, and to every branch's, which the ACL
// must refuse), so central sees nothing of it.
import { randomBytes } from 'node:crypto';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { readFileBytes } from '../../kit/read-bounded.js';
import { topics as siteTopics } from '../../policies/contract/topics.js';
import type { GatewayConfig } from '../config.js';
import type { UplinkConfig } from '../uplink/config.js';
import { loadCentralKeys } from '../uplink/verify.js';
import { fail, ok, type Finding } from './findings.js';

export function checkCentralKeys(config: GatewayConfig): Finding[] {
  if (config.mqtt === undefined) return [];
  try {
    const keys = loadCentralKeys(config.mqtt.centralKeys);
    return [ok('central-key', 'central-key', `central's public key${keys.length > 1 ? 's' : ''} ${keys.map((k) => k.kid).join(', ')} loaded from ${config.mqtt.centralKeys.join(', ')}`)];
  } catch (error) {
    return [
      fail(
        'central-key',
        'central-key',
        `central's public key cannot be used (${(error as Error).message}), so the branch refuses every command, policy and member list from central`,
        "copy central's public key here: on central, oag central signing-key KEYFILE --public PUBFILE, then put PUBFILE where mqtt.centralKeys says",
      ),
    ];
  }
}

export async function checkBroker(config: GatewayConfig, timeoutMs: number): Promise<Finding[]> {
  const mqtt = config.mqtt;
  if (mqtt === undefined) return [ok('mqtt.connect', 'mqtt', 'no mqtt: section: the branch runs alone and keeps its events')];
  let options: IClientOptions;
  try {
    options = clientOptions(mqtt, config.site, timeoutMs);
  } catch (error) {
    return [fail('mqtt.connect', 'mqtt', `the broker login cannot be made: ${(error as Error).message}`, 'put the file in place, readable by the service\'s user, or correct its path in the config')];
  }
  const user = mqtt.username ?? '(no username)';
  let client: MqttClient;
  try {
    client = await connected(mqtt.url, options, timeoutMs);
  } catch (error) {
    return [connectFailure(mqtt, user, error as Error & { code?: number | string })];
  }
  try {
    const findings = [ok('mqtt.connect', 'mqtt', `the broker ${redact(mqtt.url)} takes ${user}'s login`)];
    const own = siteTopics(mqtt.prefix, config.site).command;
    const everyBranch = `${mqtt.prefix}/sites/+/command`;
    const ownAnswer = await subscribeAnswer(client, own, timeoutMs);
    const otherAnswer = await subscribeAnswer(client, everyBranch, timeoutMs);
    const aclFix = "install the ACL made from the contract: oag central mqtt-acl > /etc/mosquitto/acl (acl_file in mosquitto.conf), restart mosquitto; the branch's username must be its site id";
    if (ownAnswer !== 'granted') findings.push(fail('mqtt.acl', 'mqtt', `the broker refuses ${user} its own command topic ${own} (${ownAnswer}): central's commands would never arrive`, aclFix));
    else if (otherAnswer === 'granted') findings.push(fail('mqtt.acl', 'mqtt', `the broker lets ${user} read every branch's commands (${everyBranch}): its ACL does not confine the branch`, aclFix));
    else findings.push(ok('mqtt.acl', 'mqtt', `the ACL works: ${user} may read its own ${own} and is refused ${everyBranch}`));
    return findings;
  } finally {
    client.end(true);
  }
}

function clientOptions(mqtt: UplinkConfig, site: string, timeoutMs: number): IClientOptions {
  const file = (setting: string, path: string): Buffer => {
    const read = readFileBytes(path, { what: `${setting} (${path})`, maxBytes: 1024 * 1024 });
    if (!read.ok) throw new Error(read.error);
    return Buffer.from(read.bytes);
  };
  const options: IClientOptions = {
    protocolVersion: mqtt.protocolVersion,
    clientId: `oag-${site}-doctor-${randomBytes(4).toString('hex')}`,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: timeoutMs,
  };
  if (mqtt.username !== undefined) options.username = mqtt.username;
  if (mqtt.password !== undefined) options.password = mqtt.password;
  if (mqtt.passwordFile !== undefined) options.password = file('mqtt.passwordFile', mqtt.passwordFile).toString('utf8').trim();
  if (mqtt.tls !== undefined) {
    if (mqtt.tls.ca !== undefined) options.ca = file('mqtt.tls.ca', mqtt.tls.ca);
    if (mqtt.tls.cert !== undefined) options.cert = file('mqtt.tls.cert', mqtt.tls.cert);
    if (mqtt.tls.key !== undefined) options.key = file('mqtt.tls.key', mqtt.tls.key);
    options.rejectUnauthorized = mqtt.tls.rejectUnauthorized;
  }
  return options;
}

function connected(url: string, options: IClientOptions, timeoutMs: number): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = connect(url, options);
    const done = (error: Error | undefined): void => {
      clearTimeout(timer);
      client.removeAllListeners('connect');
      if (error === undefined) {
        client.on('error', () => {});
        resolve(client);
        return;
      }
      client.on('error', () => {});
      client.end(true);
      reject(error);
    };
    const timer = setTimeout(() => done(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    client.once('connect', () => done(undefined));
    client.once('error', (error) => done(error));
    client.once('close', () => done(new Error('the connection was closed before the broker answered')));
  });
}

/** CONNACK codes: MQTT 3.1.1's 4 and 5, MQTT 5's 134 and 135. */
function connectFailure(mqtt: UplinkConfig, user: string, error: Error & { code?: number | string }): Finding {
  const url = redact(mqtt.url);
  const passwordFix = `set the branch's password again at central (oag central mqtt-passwd PASSWORDFILE ${user} --generate) and put it in ${mqtt.passwordFile ?? 'mqtt.passwordFile'}`;
  switch (error.code) {
    case 4:
    case 134:
      return fail('mqtt.connect', 'mqtt', `the broker ${url} refuses ${user}'s password`, passwordFix);
    case 5:
    case 135:
      return fail('mqtt.connect', 'mqtt', `the broker ${url} does not let ${user} in (not authorized)`, `${passwordFix}; the client id must be the branch's own`);
    case 'ECONNREFUSED':
      return fail('mqtt.connect', 'mqtt', `nothing listens at ${url}`, 'start the broker (central, or mosquitto: sudo systemctl status mosquitto), or correct mqtt.url');
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return fail('mqtt.connect', 'mqtt', `the broker's host in ${url} is not known here (DNS)`, 'correct mqtt.url, or check the branch\'s DNS: resolvectl status');
    default:
      if (/certificate|self.signed|TLS|SSL/i.test(error.message)) return fail('mqtt.connect', 'mqtt', `TLS with ${url} fails: ${error.message}`, "set mqtt.tls.ca to the CA that signed the broker's certificate, and check the clock");
      return fail('mqtt.connect', 'mqtt', `the broker ${url} did not take the connection: ${error.message}`, 'check the network and firewall between the branch and the broker (its port must be open), then run oag doctor again');
  }
}

async function subscribeAnswer(client: MqttClient, topic: string, timeoutMs: number): Promise<string> {
  try {
    const granted = await Promise.race([
      client.subscribeAsync(topic, { qos: 1 }),
      new Promise<never>((_resolve, reject) => setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs).unref()),
    ]);
    const code = granted[0]?.qos ?? 0x80;
    if (code >= 0x80) return `refused, code ${code}`;
    await client.unsubscribeAsync(topic).catch(() => undefined);
    return 'granted';
  } catch (error) {
    const code = (error as { code?: number }).code;
    return code !== undefined && code >= 0x80 ? `refused, code ${code}` : (error as Error).message;
  }
}

/** No password in a URL that goes to a terminal. */
function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
