// The replacement list's order by card hash: what SQLite would give (bytes compared in order), the first row of
// each hash kept and the later ones named with it, whether or not two hashes share their first bytes.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CHUNK_ROWS, HashColumn, hashOrder } from '../../../gateway/store/hash-order.js';

function column(hashes: readonly Buffer[]): HashColumn {
  const c = new HashColumn();
  for (const h of hashes) c.push(h);
  return c;
}

describe('the order by card hash', () => {
  it('is the byte order, across chunks, with hashes that share their first bytes put in order by the rest', () => {
    const hashes = Array.from({ length: CHUNK_ROWS + 500 }, () => randomBytes(32));
    // Three that agree on their first 8 bytes, in reverse order of the rest.
    const shared = randomBytes(8);
    for (const [at, last] of [[10, 0xff], [CHUNK_ROWS + 7, 0x80], [20, 0x01]] as const) {
      hashes[at] = Buffer.concat([shared, Buffer.alloc(23, last), Buffer.from([last])]);
    }
    const { order, duplicates } = hashOrder(column(hashes));
    expect(duplicates).toEqual([]);
    const expected = hashes.map((h, i) => [h, i] as const).sort((a, b) => Buffer.compare(a[0], b[0])).map(([, i]) => i);
    expect([...order]).toEqual(expected);
  });

  it('keeps the first row of a hash and names each later one with it, by position', () => {
    const [a, b, c] = [randomBytes(32), randomBytes(32), randomBytes(32)];
    const { order, duplicates } = hashOrder(column([a, b, Buffer.from(a), c, Buffer.from(b), Buffer.from(a)]));
    expect(duplicates).toEqual([
      [2, 0],
      [4, 1],
      [5, 0],
    ]);
    expect([...order].sort()).toEqual([0, 1, 3]);
  });
});
