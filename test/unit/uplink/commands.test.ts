// Command handling without a broker: the MQTT 5 request/response route, and every refusal.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { CommandHandler } from '../../../gateway/uplink/commands.js';
import { UplinkConfigSchema } from '../../../gateway/uplink/types.js';
import { topics } from '../../../policies/contract/index.js';
import { commandFixture } from '../contract/fixtures.js';

const T = topics('oa/v1', 'town');
const NOW = new Date('2025-06-02T09:30:00.000Z');

function handler(execute?: (cmd: unknown) => Promise<{ ok: true } | { ok: false; error: string }>) {
  const calls: unknown[] = [];
  const h = new CommandHandler({
    topics: T,
    clock: { now: () => NOW },
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

const payload = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
const corr = Buffer.from('req-42');

describe('commands', () => {
  it('answers on the MQTT 5 response topic with the correlation data', async () => {
    const { h, calls } = handler();
    const cmd = commandFixture({}, NOW.toISOString());
    const answer = await h.handle({ topic: T.command, payload: payload(cmd), retain: false, responseTopic: `${T.root}command/reply`, correlationData: corr });
    expect(answer).toEqual({ topic: T.commandReply, correlationData: corr, reply: { ok: true, id: cmd.id } });
    expect(calls).toEqual([{ cmd, actor: 'central:alice' }]);
  });

  it('passes on what the gateway said when it refuses', async () => {
    const { h } = handler(async () => ({ ok: false, error: 'not in lockdown' }));
    const cmd = commandFixture({ command: 'lockdown-off' }, NOW.toISOString());
    const answer = await h.handle({ topic: T.command, payload: payload(cmd), retain: false });
    expect(answer.reply).toEqual({ ok: false, error: 'not in lockdown', id: cmd.id });
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
    ['unknown', {}, { ...commandFixture({}, NOW.toISOString()), command: 'self-destruct' }, /^invalid command: command: must be one of/],
    ['missing actor', {}, { ...commandFixture({}, NOW.toISOString()), actor: undefined }, /^invalid command: actor: required/],
  ])('refuses a %s command with an error reply and changes nothing', async (_name, extra, cmd, error) => {
    const { h, calls } = handler();
    const answer = await h.handle({ topic: T.command, payload: payload(cmd), retain: false, correlationData: corr, ...extra });
    expect(answer.reply).toMatchObject({ ok: false, error: expect.stringMatching(error) });
    expect(answer.correlationData).toBe(corr);
    expect(calls).toHaveLength(0);
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
    expect(a.reply).toEqual({ ok: true, id: cmd.id });
    expect(b.reply).toEqual({ ok: true, id: cmd.id });
    expect(calls).toHaveLength(1);
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
    expect(UplinkConfigSchema.parse({ url: 'mqtts://broker:8883' })).toMatchObject({ prefix: 'oa/v1', protocolVersion: 5, eventBatch: 50, keepalive: 30 });
    const r = UplinkConfigSchema.safeParse({ url: 'http://x', prefix: 'oa/#', password: 'a', passwordFile: '/p', tls: { cert: 'c.pem' } });
    expect(r.success).toBe(false);
    const paths = r.error?.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['url', 'prefix']));
    const r2 = UplinkConfigSchema.safeParse({ url: 'mqtt://x', password: 'a', passwordFile: '/p', tls: { cert: 'c.pem' } });
    expect(r2.error?.issues.map((i) => i.path.join('.'))).toEqual(expect.arrayContaining(['passwordFile', 'tls.key']));
  });
});
