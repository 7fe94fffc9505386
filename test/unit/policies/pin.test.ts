import { scryptSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashPin, verifyPin } from '../../../policies/index.js';

describe('PIN hashing', () => {
  const hash = hashPin('1234');

  it('verifies the right PIN and refuses others', () => {
    expect(verifyPin(hash, '1234')).toBe(true);
    expect(verifyPin(hash, '1235')).toBe(false);
    expect(verifyPin(hash, '12345')).toBe(false);
    expect(verifyPin(hash, '')).toBe(false);
  });

  it('salts every hash: the same PIN hashes differently, and the hash does not contain it', () => {
    const other = hashPin('1234');
    expect(other).not.toBe(hash);
    expect(hash).toMatch(/^scrypt\$10\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(verifyPin(other, '1234')).toBe(true);
  });

  it('is reproducible with a given salt', () => {
    expect(hashPin('9876', 'salt-for-tests')).toBe(hashPin('9876', 'salt-for-tests'));
  });

  it('accepts 4 to 8 digits only', () => {
    expect(() => hashPin('123')).toThrow(RangeError);
    expect(() => hashPin('123456789')).toThrow(RangeError);
    expect(() => hashPin('12a4')).toThrow(RangeError);
    expect(verifyPin(hashPin('87654321'), '87654321')).toBe(true);
  });

  it('answers false, never throws, for a malformed or hostile hash', () => {
    for (const bad of ['', 'bcrypt$x', 'scrypt$10$8$1$$', 'scrypt$40$8$1$c2FsdA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', 'scrypt$x$8$1$c2FsdA==$AAAA']) {
      expect(verifyPin(bad, '1234')).toBe(false);
    }
  });

  it('reads the cost from the hash, so it can be raised later without re-enrolling everyone', () => {
    const salt = Buffer.from('another-salt');
    const key = scryptSync('1234', salt, 32, { N: 2 ** 11, r: 8, p: 1 });
    const stronger = ['scrypt', '11', '8', '1', salt.toString('base64'), key.toString('base64')].join('$');
    expect(verifyPin(stronger, '1234')).toBe(true);
    // The same key presented under another cost is not accepted.
    expect(verifyPin(stronger.replace('scrypt$11$', 'scrypt$10$'), '1234')).toBe(false);
  });
});
