// Card hashes and member digests for a full import, a batch at a time. Three SHA-256 a row (the HMAC's two, the
// member's digest): made straight from the batch's UTF-8 bytes with the key's HMAC pads hashed once
// (createBytesHasher, ~2 µs a row; node:crypto's three calls, a string encoded for each, cost ~4 µs). A large file
// read on the import's own thread (its reading thread could not start) is hashed by a thread here, a batch behind.
//
// The card numbers cross to the thread in memory and nowhere else (no file, no log), as they do within the import.
import { type Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { cardHasherKey, createCardHasher, createCardHashWriter } from '../policies/cards.js';
import { Sha256 } from '../policies/sha256.js';
import { ListHash, digestOfParts } from '../policies/member-list.js';
import { startModuleWorker } from './worker-thread.js';

const ROLE = 'oag-card-hash';
const encoder = new TextEncoder();
const NEWLINE = 0x0a;
/** Bytes a row in a reply: the card hash, then the member's digest. */
export const HASHED_ROW_BYTES = 64;
/** After the rows, a reply holds the list hash of the batch (the sum of its digests, as ListHash's hex reads). */
const SUM_BYTES = 32;
/** Below this many bytes of export, a thread's start (and tsx's, from the sources) costs more than it saves. */
export const HASH_WORKER_FROM_BYTES = 4 * 2 ** 20;

interface Request {
  id: number;
  /**
   * UTF-8: the normalised card ids, one a line, then each member's fields text (memberFieldsText), one a line (none
   * holds a line break). One buffer, handed over rather than copied.
   */
  rows: Uint8Array;
  /** Bytes of `rows` that are card ids. */
  idBytes: number;
}

type Reply = { id: number; out: Uint8Array } | { id: number; error: string };

/** Card hash and digest of each row of a batch, from a Uint8Array of HASHED_ROW_BYTES a row. */
export function hashedRow(out: Uint8Array, i: number): { cardHash: Buffer; digest: Buffer } {
  return {
    cardHash: Buffer.from(out.buffer, out.byteOffset + i * HASHED_ROW_BYTES, 32),
    digest: Buffer.from(out.buffer, out.byteOffset + i * HASHED_ROW_BYTES + 32, 32),
  };
}

/**
 * The list hash of a whole batch (every row's digest summed), made beside the rows: a caller that counts every row
 * adds it once rather than a digest a row.
 */
export function hashedSum(out: Uint8Array): ListHash {
  return ListHash.fromHex(Buffer.from(out.buffer, out.byteOffset + out.byteLength - SUM_BYTES, SUM_BYTES).toString('hex'));
}

/** The same, on the calling thread (a small file, a hasher of another kind, or no thread to be had). */
export function hashRows(hasher: (id: string) => Buffer, ids: readonly string[], texts: readonly string[]): Uint8Array {
  const fromBytes = bytesHasher(hasher);
  if (fromBytes !== undefined) return fromBytes(encodeRows(ids, texts));
  const out = new Uint8Array(ids.length * HASHED_ROW_BYTES + SUM_BYTES);
  const sum = new ListHash();
  for (let i = 0; i < ids.length; i++) {
    const cardHash = hasher(ids[i]!);
    const digest = digestOfParts(cardHash, texts[i]!);
    out.set(cardHash, i * HASHED_ROW_BYTES);
    out.set(digest, i * HASHED_ROW_BYTES + 32);
    sum.addDigest(digest);
  }
  sum.writeInto(out, ids.length * HASHED_ROW_BYTES);
  return out;
}

/** Rows as encodeRows packed them: `rows` UTF-8, the ids one a line, then the texts one a line; `idBytes` the ids'. */
export interface EncodedRows {
  rows: Uint8Array;
  idBytes: number;
}

/** A batch's card ids and fields' texts in one buffer of its own (none holds a line break), to hand over whole. */
export function encodeRows(ids: readonly string[], texts: readonly string[]): EncodedRows {
  const idText = ids.join('\n');
  return { rows: encoder.encode(`${idText}\n${texts.join('\n')}`), idBytes: Buffer.byteLength(idText, 'utf8') };
}

/** The texts of rows encodeRows packed. */
export function encodedTexts({ rows, idBytes }: EncodedRows): string[] {
  return Buffer.from(rows.buffer, rows.byteOffset, rows.byteLength).toString('utf8', idBytes + 1).split('\n');
}

/** hashRows of rows encodeRows packed. */
export function hashEncoded(hasher: (id: string) => Buffer, encoded: EncodedRows): Uint8Array {
  const fromBytes = bytesHasher(hasher);
  if (fromBytes !== undefined) return fromBytes(encoded);
  const { rows, idBytes } = encoded;
  return hashRows(hasher, Buffer.from(rows.buffer, rows.byteOffset, rows.byteLength).toString('utf8', 0, idBytes).split('\n'), encodedTexts(encoded));
}

const bytesHashers = new WeakMap<(id: string) => Buffer, (encoded: EncodedRows) => Uint8Array>();

/** For createCardHasher's hasher, hashRows made straight from the rows' bytes (createBytesHasher); else undefined. */
function bytesHasher(hasher: (id: string) => Buffer): ((encoded: EncodedRows) => Uint8Array) | undefined {
  let made = bytesHashers.get(hasher);
  if (made === undefined) {
    const key = cardHasherKey(hasher);
    if (key === undefined) return undefined;
    made = createBytesHasher(key);
    bytesHashers.set(hasher, made);
  }
  return made;
}

/** How many ids rows encodeRows packed hold: the line breaks before `idBytes`, plus one (an id is never empty). */
function idCount(rows: Uint8Array, idBytes: number): number {
  if (idBytes === 0) return 0;
  let count = 1;
  for (let i = rows.indexOf(NEWLINE); i !== -1 && i < idBytes; i = rows.indexOf(NEWLINE, i + 1)) count++;
  return count;
}

/**
 * hashRows, the same bytes out, made from rows as encodeRows packed them with the deployment key: no string decoded,
 * no call into node:crypto a row (policies/sha256.ts says why that is most of a row's cost).
 */
export function createBytesHasher(deploymentKey: Buffer): (encoded: EncodedRows) => Uint8Array {
  const cardHash = createCardHashWriter(deploymentKey);
  const sha256 = new Sha256();
  /** A digest's input: the card hash, then the fields' text. */
  let parts = new Uint8Array(1024);
  return ({ rows, idBytes }) => {
    const count = idCount(rows, idBytes);
    const out = new Uint8Array(count * HASHED_ROW_BYTES + SUM_BYTES);
    const sum = new ListHash();
    let idAt = 0;
    let textAt = idBytes + 1;
    for (let r = 0; r < count; r++) {
      const idEnd = r === count - 1 ? idBytes : rows.indexOf(NEWLINE, idAt);
      let textEnd = rows.indexOf(NEWLINE, textAt);
      if (textEnd === -1) textEnd = rows.length;
      const at = r * HASHED_ROW_BYTES;
      cardHash(rows, idAt, idEnd, out, at);
      const textBytes = textEnd - textAt;
      if (32 + textBytes > parts.length) parts = new Uint8Array(2 * (32 + textBytes));
      for (let i = 0; i < 32; i++) parts[i] = out[at + i]!;
      for (let i = 0; i < textBytes; i++) parts[32 + i] = rows[textAt + i]!;
      sha256.hashInto(parts, 0, 32 + textBytes, out, at + 32);
      sum.addDigest(out, at + 32);
      idAt = idEnd + 1;
      textAt = textEnd + 1;
    }
    sum.writeInto(out, count * HASHED_ROW_BYTES);
    return out;
  };
}

/**
 * Hashes batches in order, at most `ahead` of them in flight: `add` one, and get back the oldest once more than
 * that are waiting (its hashes come back while the next batch is checked); `drain` at the end.
 */
export class HashQueue<T> {
  private readonly queue: Array<{ batch: T; out: Promise<Uint8Array> }> = [];

  constructor(
    private readonly hasher: (id: string) => Buffer,
    private readonly worker: CardHashWorker | null,
    private readonly ahead = 1,
  ) {}

  /** Queues a batch; returns the batches now done (with their hashes), oldest first. */
  async add(batch: T, ids: readonly string[], texts: readonly string[]): Promise<Array<[T, Uint8Array]>> {
    // A thread that failed (it exited, or could not take the batch) costs time, not the import: hashed here instead.
    const out =
      this.worker === null ? Promise.resolve(hashRows(this.hasher, ids, texts)) : this.worker.hash(ids, texts).catch(() => hashRows(this.hasher, ids, texts));
    // Awaited in its turn; until then a failure (the import stopped for another reason) must not go unhandled.
    out.catch(() => undefined);
    this.queue.push({ batch, out });
    const done: Array<[T, Uint8Array]> = [];
    while (this.queue.length > this.ahead) {
      const next = this.queue.shift()!;
      done.push([next.batch, await next.out]);
    }
    return done;
  }

  async drain(): Promise<Array<[T, Uint8Array]>> {
    const done: Array<[T, Uint8Array]> = [];
    for (const next of this.queue.splice(0)) done.push([next.batch, await next.out]);
    return done;
  }
}

export class CardHashWorker {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (out: Uint8Array) => void; reject: (error: Error) => void }>();
  private failed: Error | null = null;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (reply: Reply) => {
      const waiter = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if ('error' in reply) waiter?.reject(new Error(reply.error));
      else waiter?.resolve(reply.out);
    });
    worker.on('error', (error) => this.fail(error));
    worker.on('exit', (code) => this.fail(new Error(`the card-hash thread exited with ${code}`)));
  }

  /** A thread hashing as `hasher` does; null when `hasher` is not createCardHasher's or no thread can start. */
  static start(hasher: (id: string) => Buffer): CardHashWorker | null {
    const key = cardHasherKey(hasher);
    if (key === undefined) return null;
    try {
      return new CardHashWorker(startModuleWorker(import.meta.url, { role: ROLE, key }));
    } catch {
      return null;
    }
  }

  hash(ids: readonly string[], texts: readonly string[]): Promise<Uint8Array> {
    if (this.failed !== null) return Promise.reject(this.failed);
    if (ids.length === 0) return Promise.resolve(hashRows(() => Buffer.alloc(32), [], []));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      // Its own memory (not Buffer's shared pool): it is handed over to the thread.
      const { rows, idBytes } = encodeRows(ids, texts);
      this.worker.postMessage({ id, rows, idBytes } satisfies Request, [rows.buffer as ArrayBuffer]);
    });
  }

  close(): void {
    this.fail(new Error('the card-hash thread was closed'));
    void this.worker.terminate();
  }

  private fail(error: Error): void {
    this.failed ??= error;
    for (const [id, waiter] of this.waiting) {
      this.waiting.delete(id);
      waiter.reject(error);
    }
  }
}

if (!isMainThread && (workerData as { role?: unknown } | null)?.role === ROLE && parentPort !== null) {
  const port = parentPort;
  const hasher = createCardHasher(Buffer.from((workerData as { key: Uint8Array }).key));
  port.on('message', (request: Request) => {
    try {
      const out = hashEncoded(hasher, request);
      port.postMessage({ id: request.id, out } satisfies Reply, [out.buffer as ArrayBuffer]);
    } catch (error) {
      port.postMessage({ id: request.id, error: (error as Error).message } satisfies Reply);
    }
  });
}
