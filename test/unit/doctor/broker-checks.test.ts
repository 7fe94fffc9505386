// The broker as doctor finds it: a login it takes, the ACL confining the branch (the embedded broker's) or not (a
// broker without one, as a Mosquitto left without acl_file is), and central's key file.
import { createServer, type AddressInfo, type Server } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { afterEach, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../../../gateway/config.js';
import { checkBroker, checkCentralKeys } from '../../../gateway/doctor/broker-checks.js';
import { startTestBroker } from '../../helpers/mqtt-credentials.js';
import { testSigningKey } from '../../helpers/signing-keys.js';

const SITE = 'town-central';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const config = (mqtt: Record<string, unknown>) =>
  parseGatewayConfig({ site: SITE, policyFile: 'policy.yaml', hardware: { gpio: { driver: 'simulated' }, readers: [{ id: 'entry', driver: 'simulated' }] }, mqtt: { centralKeys: [testSigningKey().publicFile], ...mqtt } });

describe('doctor: the broker', () => {
  it('with the embedded broker: takes the login and finds the ACL confining the branch; a wrong password is said so', async () => {
    const test = await startTestBroker([SITE]);
    cleanups.push(() => test.close());
    const url = `mqtt://127.0.0.1:${test.broker.port}`;
    const good = await checkBroker(config({ url, protocolVersion: 4, ...test.mqtt.login(SITE) }), 5000);
    expect(good.map((f) => [f.id, f.status])).toEqual([['mqtt.connect', 'ok'], ['mqtt.acl', 'ok']]);
    const [wrong] = await checkBroker(config({ url, protocolVersion: 4, username: SITE, password: 'not-it' }), 5000);
    expect(wrong).toMatchObject({ id: 'mqtt.connect', status: 'fail', found: `the broker ${url} refuses town-central's password` });
  });

  it("fails a broker that lets the branch read every branch's commands", async () => {
    const aedes = await Aedes.createBroker({ authenticate: (_client, _username, _password, done) => done(null, true) });
    const server: Server = createServer((socket) => aedes.handle(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => aedes.close(() => server.close(() => resolve()))));
    const findings = await checkBroker(config({ url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`, protocolVersion: 4, username: SITE, password: 'any' }), 5000);
    const acl = findings.find((f) => f.id === 'mqtt.acl');
    expect(acl).toMatchObject({ status: 'fail', found: "the broker lets town-central read every branch's commands (oa/v1/sites/+/command): its ACL does not confine the branch" });
    expect(acl?.fix).toContain('oag central mqtt-acl');
  });

  it("fails a central key file that is not an Ed25519 public key", () => {
    const bad = join(testSigningKey().publicFile, '..', 'not-a-key.pem');
    writeFileSync(bad, 'hello\n');
    const [finding] = checkCentralKeys(config({ url: 'mqtt://127.0.0.1:1', centralKeys: [bad] }));
    expect(finding).toMatchObject({ id: 'central-key', status: 'fail', found: expect.stringContaining("central's public key cannot be used (mqtt.centralKeys[0]") });
    expect(checkCentralKeys(config({ url: 'mqtt://127.0.0.1:1' }))[0]).toMatchObject({ status: 'ok', found: expect.stringContaining(testSigningKey().kid) });
  });
});
