// A replacement list's order by card hash, worked out in memory. The members table filled in that order is
// appended to; filled in file order, a million random hashes would cost it a sort of its own (SQLite's, through a
// temp table: two more passes over the rows).

/** Rows a chunk holds: columns grow a chunk at a time, never copied (a doubling array peaks at 1.5 times its size). */
export const CHUNK_ROWS = 1 << 16;
export const CHUNK_BITS = 16;
const IN_CHUNK = CHUNK_ROWS - 1;

/** 32-byte card hashes by position, in chunks. */
export class HashColumn {
  private readonly chunks: Buffer[] = [];
  size = 0;

  push(hash: Buffer): void {
    const i = this.size++;
    if (i >>> CHUNK_BITS === this.chunks.length) this.chunks.push(Buffer.allocUnsafe(CHUNK_ROWS * 32));
    hash.copy(this.chunks[i >>> CHUNK_BITS]!, (i & IN_CHUNK) * 32, 0, 32);
  }

  /** Appends the 32 bytes of `from` at `offset`. */
  pushFrom(from: Buffer, offset: number): void {
    const i = this.size++;
    if (i >>> CHUNK_BITS === this.chunks.length) this.chunks.push(Buffer.allocUnsafe(CHUNK_ROWS * 32));
    from.copy(this.chunks[i >>> CHUNK_BITS]!, (i & IN_CHUNK) * 32, offset, offset + 32);
  }

  /** A view of hash i (valid while this column lives). */
  at(i: number): Buffer {
    const at = (i & IN_CHUNK) * 32;
    return this.chunks[i >>> CHUNK_BITS]!.subarray(at, at + 32);
  }

  /** Compares hash i with `other`'s 32 bytes, as Buffer.compare does. */
  compareWith(i: number, other: Buffer): number {
    const at = (i & IN_CHUNK) * 32;
    return this.chunks[i >>> CHUNK_BITS]!.compare(other, 0, 32, at, at + 32);
  }

  compare(a: number, b: number): number {
    const at = (b & IN_CHUNK) * 32;
    return this.compareWith(a, this.chunks[b >>> CHUNK_BITS]!.subarray(at, at + 32));
  }

  firstWord(i: number): number {
    return this.chunks[i >>> CHUNK_BITS]!.readUInt32BE((i & IN_CHUNK) * 32);
  }

  clear(): void {
    this.chunks.length = 0;
    this.size = 0;
  }
}

export interface HashOrder {
  /** Positions in card-hash order, the first of each hash only. */
  order: Uint32Array;
  /** [position, first position with that hash] for each later row with a hash already seen, by position. */
  duplicates: Array<[number, number]>;
}

/**
 * A native sort of numbers (the hash's first bits, then the position) does nearly all of it; rows whose first bits
 * are equal are put in order by their whole hash.
 */
export function hashOrder(hashes: HashColumn): HashOrder {
  const n = hashes.size;
  const positionBits = Math.max(1, Math.ceil(Math.log2(n + 1)));
  const scale = 2 ** positionBits;
  // A double holds 53 bits exactly: the position's, and as many of the hash's first as fit.
  const shift = 2 ** (32 - Math.min(32, 53 - positionBits));
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = Math.floor(hashes.firstWord(i) / shift) * scale + i;
  keys.sort();
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
      run.sort((a, b) => hashes.compare(a, b) || a - b);
      let first = run[0]!;
      order[kept++] = first;
      for (let k = 1; k < run.length; k++) {
        if (hashes.compare(run[k]!, first) === 0) duplicates.push([run[k]!, first]);
        else order[kept++] = first = run[k]!;
      }
    }
    start = end;
  }
  duplicates.sort((a, b) => a[0] - b[0]);
  return { order: order.subarray(0, kept), duplicates };
}
