// Command handling without a broker: the MQTT 5 request/response route, and every refusal.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { CommandHandler } from '../../../gateway/uplink/commands.js';
import { UplinkConfigSchema } from '../../../gateway/uplink/types.js';
import { COMMAND_NAMES, CONTRACT_MINOR, CONTRACT_VERSION, signMessage, topics } from '../../../policies/contract/index.js';
import { testSigningKey } from '../../helpers/signing-keys.js';
import { commandFixture } from '../contract/fixtures.js';

const T = topics('oa/v1', 'town');
const NOW = new Date('2025-06-02T09:30:00.000Z');

const central = testSigningKey();

function handler(execute?: (cmd: unknown) => Promise<{ ok: true } | { ok: false; error: string }>, clock: { now(): Date } = { now: () => NOW }) {
  const calls: unknown[] = [];
  const h = new CommandHandler({
    topics: T,
    centralKeys: [central.central],
    clock,
    logger: pino({ level: 'silent' }),
    commands: {
      execute: async (cmd, actor) => {
        calls.push({ cmd, actor });
        return execute ? execute(cmd) : { ok: true };
      },
    },
  });
  return { h, calls };
}

/** A command as central sends it: signed for this branch's command topic. */
const payload = (v: object, key = central): Buffer => Buffer.from(JSON.stringify(signMessage(key.privateKey, T.command, v)));
const unsigned = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
const corr = Buffer.from('req-42');

describe('commands', () => {
  it('answers on the MQTT 5 response topic with the correlation data', async () => {
    const { h, calls } = handler();
    const cmd = commandFixture({}, NOW.toISOString());
    const answer = await h.handle({ topic: T.command, payload: payload(cmd), retain: false, responseTopic: `${T.root}command/reply`, correlationData: corr });
    expect(answer).toEqual({ topic: T.commandReply, correlationData: corr, reply: { v: CONTRACT_MINOR, ok: true, id: cmd.id } });
    expect(calls).toEqual([{ cmd, actor: 'central:alice' }]);
  });

  it('refuses a command it does not know by name, with its version and the commands it knows, and changes nothing', async () => {
    const { h, calls } = handler();
    // From a newer central: a command this gateway has never heard of, with a field it has never heard of either.
    const cmd = { ...commandFixture({}, NOW.toISOString()), v: CONTRACT_MINOR + 3, command: 'output-on', output: 'porch-light', text: 'why not' };
    const answer = await h.handle({ topic: T.command, payload: payload(cmd), retain: false, correlationData: corr });
    expect(answer.reply).toEqual({
      v: CONTRACT_MINOR,
      ok: false,
      id: cmd.id,
      error: `unknown command "output-on": this gateway (contract ${CONTRACT_VERSION}) knows ${COMMAND_NAMES.join(', ')}`,
    });
    expect(answer.reply).toMatchObject({ error: expect.stringMatching(/^unknown command "output-on": this gateway \(contract 1\.\d+\) knows unlock, lock, /) });
    expect(answer.correlationData).toBe(corr);
    expect(calls).toHaveLength(0);
  });

  it('runs a known command from a newer central, ignoring the fields it does not know, and one from a 1.0 central without `v`', async () => {
    const { h, calls } = handler();
    const newer = { ...commandFixture({}, NOW.toISOString()), v: CONTRACT_MINOR + 1, reason: 'front desk asked' };
    expect((await h.handle({ topic: T.command, payload: payload(newer), retain: false })).reply).toEqual({ v: CONTRACT_MINOR, ok: true, id: newer.id });
    const older = commandFixture({ id: '9a0c5f6e-3c1d-4f7a-8b2e-1d2c3b4a5f60', command: 'announce', text: 'Closing soon' }, NOW.toISOString());
    expect('v' in older).toBe(false);
    expect((await h.handle({ topic: T.command, payload: payload(older), retain: false })).reply).toEqual({ v: CONTRACT_MINOR, ok: true, id: older.id });
    // The gateway gets the command alone: no envelope version, nothing it does not know.
    expect(calls).toEqual([
      { cmd: commandFixture({}, NOW.toISOString()), actor: 'central:alice' },
      { cmd: older, actor: 'central:alice' },
    ]);
  });

  it('passes on what the gateway said when it refuses', async () => {
    const { h } = handler(async () => ({ ok: false, error: 'not in lockdown' }));
    const cmd = commandFixture({ command: 'lockdown-off' }, NOW.toISOString());
    const answer = await h.handle({ topic: T.command, payload: payload(cmd), retain: false });
    expect(answer.reply).toEqual({ v: CONTRACT_MINOR, ok: false, error: 'not in lockdown', id: cmd.id });
    expect(answer.topic).toBe(T.commandReply);
  });

  it('never answers outside the site tree, and does not act then', async () => {
    const { h, calls } = handler();
    const cmd = commandFixture({}, NOW.toISOString());
    const answer = await h.handle({ topic: T.command, payload: payload(cmd), retain: false, responseTopic: 'oa/v1/sites/other/state', correlationData: corr });
    expect(answer.topic).toBe(T.commandReply);
    expect(answer.reply).toMatchObject({ ok: false, error: expect.stringMatching(/response topic must be under oa\/v1\/sites\/town\//) });
    expect(calls).toHaveLength(0);
  });

  it.each([
    ['retained', { retain: true }, commandFixture({}, NOW.toISOString()), /retained commands are never acted on/],
    ['11 s old', {}, commandFixture({}, new Date(NOW.getTime() - 11_000).toISOString()), /stale command: sent 11 s ago/],
    ['dated ahead', {}, commandFixture({}, new Date(NOW.getTime() + 60_000).toISOString()), /in the future/],
    ['badly named', {}, { ...commandFixture({}, NOW.toISOString()), command: 'Self Destruct!' }, /^invalid command: command: must be a name/],
    ['missing actor', {}, { ...commandFixture({}, NOW.toISOString()), actor: undefined }, /^invalid command: actor: required/],
  ])('refuses a %s command with an error reply and changes nothing', async (_name, extra, cmd, error) => {
    const { h, calls } = handler();
    const answer = await h.handle({ topic: T.command, payload: payload(cmd), retain: false, correlationData: corr, ...extra });
    expect(answer.reply).toMatchObject({ ok: false, error: expect.stringMatching(error) });
    expect(answer.correlationData).toBe(corr);
    expect(calls).toHaveLength(0);
  });

  it('takes lock and lockdown-on whatever the clocks say, while unlock and the rest still need a fresh `at`', async () => {
    const HOUR = 3600_000;
    const { h, calls } = handler();
    // A day behind (a Pi booted without network on the date it last saved), an hour ahead, a year ahead.
    for (const [i, offset] of [-24 * HOUR, HOUR, 365 * 24 * HOUR].entries()) {
      const at = new Date(NOW.getTime() + offset).toISOString();
      const id = (n: number): string => `3b241101-e2bb-4255-8caf-4136c566a9${String(i * 10 + n).padStart(2, '0')}`;
      for (const [n, command] of (['lock', 'lockdown-on'] as const).entries()) {
        const answer = await h.handle({ topic: T.command, payload: payload(commandFixture({ id: id(n), command }, at)), retain: false });
        expect(answer.reply, `${command} at ${offset / HOUR} h`).toEqual({ v: CONTRACT_MINOR, ok: true, id: id(n) });
      }
      for (const [n, command] of (['unlock', 'lockdown-off', 'reset-alarms', 'lights-off'] as const).entries()) {
        const answer = await h.handle({ topic: T.command, payload: payload(commandFixture({ id: id(n + 2), command }, at)), retain: false });
        expect(answer.reply, `${command} at ${offset / HOUR} h`).toMatchObject({ ok: false, error: expect.stringMatching(/stale command|in the future/) });
      }
    }
    expect(calls.map((c) => (c as { cmd: { command: string } }).cmd.command)).toEqual(['lock', 'lockdown-on', 'lock', 'lockdown-on', 'lock', 'lockdown-on']);
  });

  it('refuses a command on any topic but its own', async () => {
    const { h, calls } = handler();
    const answer = await h.handle({ topic: 'oa/v1/sites/other/command', payload: payload(commandFixture({}, NOW.toISOString())), retain: false });
    expect(answer.reply.ok).toBe(false);
    expect(calls).toHaveLength(0);
  });

  it('runs a command delivered twice once, and answers both', async () => {
    const { h, calls } = handler();
    const cmd = commandFixture({}, NOW.toISOString());
    const [a, b] = await Promise.all([
      h.handle({ topic: T.command, payload: payload(cmd), retain: false }),
      h.handle({ topic: T.command, payload: payload(cmd), retain: false }),
    ]);
    expect(a.reply).toEqual({ v: CONTRACT_MINOR, ok: true, id: cmd.id });
    expect(b.reply).toEqual({ v: CONTRACT_MINOR, ok: true, id: cmd.id });
    expect(calls).toHaveLength(1);
  });

  it.each([
    ['unsigned', () => unsigned(commandFixture({}, NOW.toISOString())), /^signature: unsigned$/],
    ['signed by a key the branch does not hold', () => payload(commandFixture({}, NOW.toISOString()), testSigningKey('attacker')), /^signature: signed with key [0-9a-f]{16}, which this gateway does not hold/],
    ['altered after signing (lock turned into unlock)', () => unsigned({ ...signMessage(central.privateKey, T.command, commandFixture({ command: 'lock' }, NOW.toISOString())), command: 'unlock' }), /^signature: bad signature/],
    ['signed for another branch', () => unsigned(signMessage(central.privateKey, topics('oa/v1', 'village').command, commandFixture({}, NOW.toISOString()))), /^signature: bad signature/],
  ])('refuses a command %s, saying so in the reply, and runs nothing', async (_name, make, error) => {
    const { h, calls } = handler();
    const cmd = commandFixture({}, NOW.toISOString());
    const answer = await h.handle({ topic: T.command, payload: make(), retain: false, correlationData: corr });
    expect(answer.reply).toEqual({ v: CONTRACT_MINOR, ok: false, id: cmd.id, error: expect.stringMatching(error) });
    expect(calls).toHaveLength(0);
  });

  it('never runs a replayed command again: the same signed unlock a second later gets the first answer, and one replayed after the window is stale', async () => {
    let now = NOW;
    const { h, calls } = handler(undefined, { now: () => now });
    const captured = payload(commandFixture({ command: 'unlock' }, NOW.toISOString()));
    expect((await h.handle({ topic: T.command, payload: captured, retain: false })).reply).toMatchObject({ ok: true });
    // Hundreds of other commands in between do not push it out of memory (the old limit was the last 200).
    for (let i = 0; i < 300; i++) {
      const id = `3b241101-e2bb-4255-8caf-${String(i).padStart(12, '0')}`;
      await h.handle({ topic: T.command, payload: payload(commandFixture({ id, command: 'lights-on' }, NOW.toISOString())), retain: false });
    }
    now = new Date(NOW.getTime() + 9_000);
    expect((await h.handle({ topic: T.command, payload: captured, retain: false })).reply).toMatchObject({ ok: true });
    now = new Date(NOW.getTime() + 10_001);
    expect((await h.handle({ topic: T.command, payload: captured, retain: false })).reply).toMatchObject({ ok: false, error: expect.stringMatching(/^stale command/) });
    expect(calls.filter((c) => (c as { cmd: { command: string } }).cmd.command === 'unlock')).toHaveLength(1);
  });

  it("during a rollover takes commands signed with the old or the new key; once the old key is removed, refuses the old", async () => {
    const [oldKey, newKey] = [testSigningKey('old'), testSigningKey('new')];
    const withKeys = (keys: typeof central[]) =>
      new CommandHandler({ topics: T, centralKeys: keys.map((k) => k.central), clock: { now: () => NOW }, logger: pino({ level: 'silent' }), commands: { execute: async () => ({ ok: true }) } });
    const cmd = (id: string) => commandFixture({ id, command: 'lights-on' }, NOW.toISOString());
    const both = withKeys([oldKey, newKey]);
    expect((await both.handle({ topic: T.command, payload: payload(cmd('1b241101-e2bb-4255-8caf-000000000001'), oldKey), retain: false })).reply.ok).toBe(true);
    expect((await both.handle({ topic: T.command, payload: payload(cmd('1b241101-e2bb-4255-8caf-000000000002'), newKey), retain: false })).reply.ok).toBe(true);
    const after = withKeys([newKey]);
    expect((await after.handle({ topic: T.command, payload: payload(cmd('1b241101-e2bb-4255-8caf-000000000003'), oldKey), retain: false })).reply).toMatchObject({ ok: false, error: expect.stringMatching(/^signature: signed with key/) });
  });

  it('turns a failing gateway into an error reply', async () => {
    const { h } = handler(async () => {
      throw new Error('relay driver gone');
    });
    const answer = await h.handle({ topic: T.command, payload: payload(commandFixture({}, NOW.toISOString())), retain: false });
    expect(answer.reply).toMatchObject({ ok: false, error: 'failed: relay driver gone' });
  });
});

describe('uplink config', () => {
  it('fills defaults and names wrong fields', () => {
    expect(UplinkConfigSchema.parse({ url: 'mqtts://broker:8883', centralKeys: ['central.pub'] })).toMatchObject({ prefix: 'oa/v1', protocolVersion: 5, eventBatch: 50, keepalive: 30 });
    const r = UplinkConfigSchema.safeParse({ url: 'http://x', prefix: 'oa/#', password: 'a', passwordFile: '/p', tls: { cert: 'c.pem' } });
    expect(r.success).toBe(false);
    const paths = r.error?.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['url', 'prefix']));
    const r2 = UplinkConfigSchema.safeParse({ url: 'mqtt://x', centralKeys: ['central.pub'], password: 'a', passwordFile: '/p', tls: { cert: 'c.pem' } });
    expect(r2.error?.issues.map((i) => i.path.join('.'))).toEqual(expect.arrayContaining(['passwordFile', 'tls.key']));
  });

  it("requires central's public key: a branch with a broker acts only on what central signed", () => {
    const missing = UplinkConfigSchema.safeParse({ url: 'mqtt://x' });
    expect(missing.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([
      "centralKeys: required: the public key file of central's signing key (oag central signing-key --public FILE)",
    ]);
    expect(UplinkConfigSchema.safeParse({ url: 'mqtt://x', centralKeys: [] }).error?.issues[0]?.message).toMatch(/at least one public key/);
    expect(UplinkConfigSchema.safeParse({ url: 'mqtt://x', centralKeys: ['a', 'b', 'c', 'd', 'e'] }).error?.issues[0]?.message).toMatch(/at most 4/);
  });
});
