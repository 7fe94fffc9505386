// The order of a full import's rows by card hash, worked out in memory, for the branch's list and central's. A
// keyed table filled in that order is appended to; filled in file order, a million random hashes cost it a sort of
// its own (SQLite's, through a temp table: two more passes over the rows).

export interface HashOrder {
  /** Positions in card-hash order, the first of each hash only. */
  order: Uint32Array;
  /** [position, first position with that hash] for each later row with a hash already seen, by position. */
  duplicates: Array<[number, number]>;
}

/**
 * `hashes`: n hashes of 32 bytes, back to back, by position. A native sort of numbers (the hash's first bits, then
 * the position) does nearly all of it; rows whose first bits are equal are put in order by their whole hash.
 */
export function hashOrder(hashes: Buffer, n: number): HashOrder {
  const positionBits = Math.max(1, Math.ceil(Math.log2(n + 1)));
  const scale = 2 ** positionBits;
  // A double holds 53 bits exactly: the position's, and as many of the hash's first as fit.
  const shift = 2 ** (32 - Math.min(32, 53 - positionBits));
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = Math.floor(hashes.readUInt32BE(i * 32) / shift) * scale + i;
  keys.sort();
  const compare = (a: number, b: number): number => hashes.compare(hashes, b * 32, b * 32 + 32, a * 32, a * 32 + 32);
  const order = new Uint32Array(n);
  const duplicates: Array<[number, number]> = [];
  let kept = 0;
  for (let start = 0; start < n; ) {
    const prefix = Math.floor(keys[start]! / scale);
    let end = start + 1;
    while (end < n && Math.floor(keys[end]! / scale) === prefix) end++;
    if (end - start === 1) {
      order[kept++] = keys[start]! % scale;
    } else {
      const run: number[] = [];
      for (let k = start; k < end; k++) run.push(keys[k]! % scale);
      run.sort((a, b) => compare(a, b) || a - b);
      let first = run[0]!;
      order[kept++] = first;
      for (let k = 1; k < run.length; k++) {
        if (compare(run[k]!, first) === 0) duplicates.push([run[k]!, first]);
        else order[kept++] = first = run[k]!;
      }
    }
    start = end;
  }
  duplicates.sort((a, b) => a[0] - b[0]);
  return { order: order.subarray(0, kept), duplicates };
}
