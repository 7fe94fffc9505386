import { describe, expect, it } from 'vitest';
import { InvalidUidError, normaliseUid } from '../../../firmware-bridge/readers/uid.js';

describe('card UID normalisation', () => {
  it('spells every UID one way: hex, upper case, no separators', () => {
    for (const raw of ['04:a2:b3:c4', '04 A2 B3 C4', '04-a2-b3-c4', '04a2b3c4', ' 04.A2.B3.C4 ']) expect(normaliseUid(raw)).toBe('04A2B3C4');
    expect(normaliseUid(Buffer.from([0x04, 0xa2, 0xb3, 0xc4, 0x5d, 0x6e, 0x80]))).toBe('04A2B3C45D6E80');
    expect(normaliseUid(new Uint8Array([0, 1, 0xff]))).toBe('0001FF');
  });

  it('refuses what is not a UID without repeating it', () => {
    expect(() => normaliseUid('')).toThrow(InvalidUidError);
    expect(() => normaliseUid('04:G2:B3')).toThrow(/must be hexadecimal/);
    expect(() => normaliseUid('secret-but-bad-zz')).toThrow(expect.objectContaining({ message: expect.not.stringContaining('secret') }));
    expect(() => normaliseUid('0'.repeat(65))).toThrow(/longer than 64/);
    expect(() => normaliseUid(Buffer.alloc(0))).toThrow(/empty/);
  });
});
