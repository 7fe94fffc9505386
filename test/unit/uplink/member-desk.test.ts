// A desk change as the uplink sends it and waits for central's answer (gateway/uplink/member-desk.ts): only what
// central signed is an answer; no link is "offline" at once; no answer in 15 s is "no-answer", and a reply after that
// changes nothing staff were told.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { DESK_REPLY_TIMEOUT_MS, MemberDeskLink } from '../../../gateway/uplink/member-desk.js';
import { RefusalLog } from '../../../gateway/uplink/refusal-log.js';
import { MemberDeskChangeSchema, topics, type MemberDeskChange, type MemberDeskReply } from '../../../policies/contract/index.js';
import { signedJson, testSigningKey } from '../../helpers/signing-keys.js';
import { TestClock } from '../../helpers/test-clock.js';

const T = topics('oa/v1', 'town');
const MEMBER = Buffer.alloc(32, 7);
const CARD = Buffer.alloc(32, 9);

function setup() {
  const clock = new TestClock(Date.parse('2026-03-04T10:00:00Z'));
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  const link = new MemberDeskLink({ replyTopic: T.membersChangeReply, centralKeys: [testSigningKey().central], keyId: '0123456789abcdef', clock, logger, refusals: new RefusalLog(logger), timers: clock });
  const sent: MemberDeskChange[] = [];
  link.link(async (payload) => {
    sent.push(MemberDeskChangeSchema.parse(JSON.parse(payload.toString())));
  });
  const reply = (message: MemberDeskReply, key = testSigningKey()): void => link.receive(signedJson(T.membersChangeReply, message, key));
  return { clock, lines, link, sent, reply };
}

/** Lets the publish's promise settle, so that the change is out before the test answers it. */
const settled = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('a desk change to central', () => {
  it('carries only hashes, the staff user and the key id, and resolves with central’s signed answer', async () => {
    const { link, sent, reply } = setup();
    const answer = link.send({ actor: 'anna', member: MEMBER, change: { kind: 'link-card', card: CARD } });
    await settled();
    expect(sent).toEqual([
      { v: expect.any(Number), id: expect.any(String), at: '2026-03-04T10:00:00.000Z', keyId: '0123456789abcdef', actor: 'anna', member: MEMBER.toString('base64url'), change: { kind: 'link-card', card: CARD.toString('base64url') } },
    ]);
    reply({ id: sent[0]!.id, result: 'done', message: 'linked in version 4', version: 4 });
    expect(await answer).toEqual({ result: 'done', message: 'linked in version 4', version: 4 });
  });

  it('passes on a refusal with central’s reason and words', async () => {
    const { link, sent, reply } = setup();
    const answer = link.send({ actor: 'anna', member: MEMBER, change: { kind: 'remove-pin' } });
    await settled();
    reply({ id: sent[0]!.id, result: 'refused', reason: 'unknown-member', message: 'no member with that card at central' });
    expect(await answer).toEqual({ result: 'refused', reason: 'unknown-member', message: 'no member with that card at central' });
  });

  it('ignores and logs a reply that is unsigned or signed with another key; waits on for the real one', async () => {
    const { link, sent, reply, lines, clock } = setup();
    let settledWith: unknown;
    void link.send({ actor: 'anna', member: MEMBER, change: { kind: 'set-pin', pinHash: 'scrypt$14$8$1$c2FsdA==$a2V5' } }).then((a) => (settledWith = a));
    await settled();
    const forged = { id: sent[0]!.id, result: 'done', message: 'forged', version: 99 } as const;
    link.receive(Buffer.from(JSON.stringify(forged)));
    reply(forged, testSigningKey('attacker'));
    await settled();
    expect(settledWith).toBeUndefined();
    expect(lines.map((l) => l.msg)).toContain('desk change reply from central refused: signature: unsigned');
    expect(lines.some((l) => String(l.msg).startsWith('desk change reply from central refused: signature: signed with key'))).toBe(true);
    clock.advance(DESK_REPLY_TIMEOUT_MS);
    await settled();
    expect(settledWith).toEqual({ result: 'no-answer' });
  });

  it('says no-answer after 15 s, and a late reply changes nothing', async () => {
    const { link, sent, reply, clock, lines } = setup();
    const answer = link.send({ actor: 'anna', member: MEMBER, change: { kind: 'remove-pin' } });
    await settled();
    clock.advance(DESK_REPLY_TIMEOUT_MS - 1);
    clock.advance(1);
    expect(await answer).toEqual({ result: 'no-answer' });
    reply({ id: sent[0]!.id, result: 'done', message: 'late', version: 5 });
    expect(lines.map((l) => l.msg)).toContain('desk change answered after the wait ended');
  });

  it('says no-answer after 15 s though the broker never acknowledges the change (the connection dropped while it was out)', async () => {
    const { link, clock } = setup();
    // A QoS 1 publish in flight when the connection drops waits, unanswered, for the next connection.
    link.link(() => new Promise<void>(() => undefined));
    let settledWith: unknown;
    void link.send({ actor: 'anna', member: MEMBER, change: { kind: 'remove-pin' } }).then((a) => (settledWith = a));
    await settled();
    clock.advance(DESK_REPLY_TIMEOUT_MS);
    await settled();
    expect(settledWith).toEqual({ result: 'no-answer' });
  });

  it('is offline at once without a link, or when the broker does not take the change', async () => {
    const { link } = setup();
    link.link(null);
    expect(link.connected).toBe(false);
    expect(await link.send({ actor: 'anna', member: MEMBER, change: { kind: 'remove-pin' } })).toEqual({ result: 'offline' });
    link.link(() => Promise.reject(new Error('not connected to the broker')));
    expect(await link.send({ actor: 'anna', member: MEMBER, change: { kind: 'remove-pin' } })).toEqual({ result: 'offline' });
  });
});
