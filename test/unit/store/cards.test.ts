import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CardIdError, createCardHasher, normaliseCardId } from '../../../gateway/core/cards.js';

describe('normaliseCardId', () => {
  it('drops spaces, colons and dashes and upper-cases, so every spelling of a card is one card', () => {
    expect(normaliseCardId('04:a2:1b:7c')).toBe('04A21B7C');
    expect(normaliseCardId(' 04-A2-1B-7C ')).toBe('04A21B7C');
    expect(normaliseCardId('2112 3400 0123 45')).toBe('21123400012345');
    expect(normaliseCardId('\t2112\u00a03400\n')).toBe('21123400');
  });

  it.each([
    ['', 'empty', 'card number is empty'],
    [' : - ', 'empty', 'card number is empty'],
    ['2112!3400', 'bad-characters', 'card number has characters other than letters and digits'],
    ['21123400é', 'bad-characters', 'card number has characters other than letters and digits'],
    ['A1B', 'too-short', 'card number is shorter than 4 characters'],
    ['1'.repeat(33), 'too-long', 'card number is longer than 32 characters'],
  ])('refuses %j as %s without repeating the number', (raw, problem, message) => {
    let error: unknown;
    try {
      normaliseCardId(raw);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CardIdError);
    expect((error as CardIdError).problem).toBe(problem);
    expect((error as Error).message).toBe(message);
    const digits = raw.replace(/[^0-9A-Za-z]/g, '');
    if (digits.length >= 3) expect((error as Error).message).not.toContain(digits);
  });

  it('accepts exactly 4 and 32 characters', () => {
    expect(normaliseCardId('abcd')).toBe('ABCD');
    expect(normaliseCardId('f'.repeat(32))).toBe('F'.repeat(32));
  });
});

describe('createCardHasher', () => {
  it('is HMAC-SHA256 with the deployment key, for every id length and key size', () => {
    for (const keyBytes of [32, 48, 64, 65, 128]) {
      const key = randomBytes(keyBytes);
      const hash = createCardHasher(key);
      for (let length = 4; length <= 32; length++) {
        for (let i = 0; i < 20; i++) {
          const id = randomBytes(32).toString('hex').toUpperCase().slice(0, length);
          expect(hash(id).equals(createHmac('sha256', key).update(id).digest())).toBe(true);
        }
      }
    }
  });

  it('gives 32 bytes that depend on the key, and a fresh buffer each call', () => {
    const a = createCardHasher(Buffer.alloc(32, 1));
    const b = createCardHasher(Buffer.alloc(32, 2));
    const first = a('04A21B7C');
    expect(first).toHaveLength(32);
    expect(a('04A21B7C').equals(first)).toBe(true);
    expect(b('04A21B7C').equals(first)).toBe(false);
    const second = a('04A21B7D');
    expect(second.equals(first)).toBe(false);
    expect(first.equals(a('04A21B7C'))).toBe(true); // the first digest was not overwritten
  });

  it('refuses a short key and ids that were not normalised', () => {
    expect(() => createCardHasher(Buffer.alloc(31))).toThrow('at least 32 bytes');
    const hash = createCardHasher(Buffer.alloc(32, 7));
    expect(() => hash('04:a2:1b:7c')).toThrow(TypeError);
    expect(() => hash('04a21b7c')).toThrow(TypeError);
  });
});
