// Issue #13's attacks on the broker against Debian's mosquitto configured as docs/central.md says: the ACL that
// `oag central mqtt-acl` renders and the contract's size limits. The embedded broker runs the same list
// (test/helpers/broker-attacks.ts).
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokerAttacks, runAttack, type AttackTarget } from '../helpers/broker-attacks.js';
import { startMosquitto, type RunningMosquitto } from '../helpers/mosquitto.js';

const passwords = { central: 'central-pw', town: 'town-pw', village: 'village-pw' };
let broker: RunningMosquitto;
let target: AttackTarget;

beforeAll(async () => {
  broker = await startMosquitto({ users: passwords, centralUser: 'central' });
  const { ca, clientCert, clientKey } = broker.certs;
  target = {
    url: broker.url,
    prefix: 'oa/v1',
    passwords,
    clientOptions: { protocolVersion: 5, ca: readFileSync(ca), cert: readFileSync(clientCert), key: readFileSync(clientKey) },
  };
});

afterAll(async () => {
  await broker?.stop();
});

describe('mosquitto with the rendered ACL and the size limits refuses every broker attack', () => {
  it.each(brokerAttacks('oa/v1').map((attack) => [attack.name, attack] as const))('%s', async (_name, attack) => {
    expect(await runAttack(target, attack)).toMatchObject(attack.mustSee);
  });

  it('logs the oversized packet as the reason it dropped the client', () => {
    expect(broker.log()).toMatch(/Client attacker-[0-9a-f-]+ disconnected due to oversize packet/);
  });

  it('still carries what the ACL allows: a site’s events to central', async () => {
    // The control: the same watchers see a message the rules allow, so the refusals above are not a broken broker.
    const outcome = await runAttack(target, { name: 'allowed', as: { username: 'town' }, does: { publish: 'oa/v1/sites/town/events' }, mustSee: {} });
    expect(outcome).toEqual({ connected: true, deliveredTo: ['central'], overheard: [] });
  });
});
