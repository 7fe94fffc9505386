import { describe, expect, it } from 'vitest';
import { hashPin } from '../../../policies/pin.js';
import { MemberDeskChangeSchema, MemberDeskReplySchema, ReceivedMemberDeskChangeSchema, ReceivedMemberDeskReplySchema } from '../../../policies/contract/index.js';

const card = 'A'.repeat(43);
const base = { id: '8f1c2a9e-4b7d-4c1e-9a3f-2d6b5e8c7a10', at: '2026-12-03T10:00:00Z', keyId: '0123456789abcdef', actor: 'alice', member: card };

describe('a desk change (members/change)', () => {
  it('carries a card to link, or a PIN hash, never a clear PIN', () => {
    expect(MemberDeskChangeSchema.parse({ ...base, change: { kind: 'link-card', card: 'B'.repeat(43) } }).v).toBe(10);
    expect(MemberDeskChangeSchema.safeParse({ ...base, change: { kind: 'set-pin', pinHash: hashPin('1234') } }).success).toBe(true);
    const clear = MemberDeskChangeSchema.safeParse({ ...base, change: { kind: 'set-pin', pinHash: '1234' } });
    expect(clear.success).toBe(false);
    expect(clear.error?.issues[0]?.path).toEqual(['change', 'pinHash']);
  });

  it('refuses a card number where a card hash belongs, naming the field', () => {
    const result = ReceivedMemberDeskChangeSchema.safeParse({ ...base, member: '04A1B2C3D4E5F6', change: { kind: 'remove-pin' } });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toMatch(/card hash/);
  });
});

describe("central's reply (members/change/reply)", () => {
  it('names a reason exactly when it refuses', () => {
    expect(MemberDeskReplySchema.safeParse({ id: base.id, result: 'done', message: 'Linked.', version: 12 }).success).toBe(true);
    expect(MemberDeskReplySchema.safeParse({ id: base.id, result: 'refused', message: 'No such member.' }).success).toBe(false);
    expect(MemberDeskReplySchema.safeParse({ id: base.id, result: 'done', reason: 'stale', message: 'x' }).success).toBe(false);
    // A newer central's reason still reads.
    expect(ReceivedMemberDeskReplySchema.parse({ id: base.id, result: 'refused', reason: 'card-lost', message: 'x' }).reason).toBe('card-lost');
  });
});
