// The import's own SHA-256 (policies/sha256.ts) must be SHA-256: every list hash and card hash a branch checks is made
// with it at central and with node:crypto at the tap. Lengths cover each padding case: the message's last block with
// room for the length, without it (55, 56 and 63 bytes and their neighbours), several blocks, and after a prefix.
import { hash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Sha256 } from '../../../policies/sha256.js';

const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed * 17 + 7) & 0xff);

describe('Sha256', () => {
  it("is node's SHA-256 for every length from 0 to 300 bytes", () => {
    const sha = new Sha256();
    const out = new Uint8Array(32);
    for (let n = 0; n <= 300; n++) {
      const message = bytes(n, n);
      sha.hashInto(message, 0, n, out, 0);
      expect(Buffer.from(out).toString('hex'), `${n} bytes`).toBe(hash('sha256', message, 'hex'));
    }
  });

  it('hashes the prefix it was made with ahead of each message, and reads only its slice of the bytes', () => {
    for (const blocks of [1, 2]) {
      const prefix = bytes(64 * blocks, blocks);
      const sha = new Sha256(prefix);
      const around = bytes(200, 3);
      const out = new Uint8Array(40);
      for (const [from, to] of [[0, 0], [5, 60], [10, 130], [1, 200]] as const) {
        sha.hashInto(around, from, to, out, 8);
        const whole = Buffer.concat([prefix, around.subarray(from, to)]);
        expect(Buffer.from(out.subarray(8)).toString('hex')).toBe(hash('sha256', whole, 'hex'));
      }
    }
  });

  it('refuses a prefix that is not whole blocks', () => {
    expect(() => new Sha256(new Uint8Array(65))).toThrow(/whole 64-byte blocks/);
  });
});
