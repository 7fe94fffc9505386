// A full member import's reading, in a worker thread: the file is read, split and each row checked there, and the
// import's own thread only hashes and stages what comes back (issue #18: a million rows' parsing and checks were
// ~5 s of the thread that also writes SQLite). That thread is idle while the file is read; the card hashes (three
// SHA-256 a row) are made there, or here for a batch when two or more wait for it (counted in shared memory, as the
// import's thread takes them), so the two share the work as their pace says, without a third thread's heap. What a
// row means is the caller's: a batch maker, a module's export that both threads can load, turns each parser batch
// into plain data and typed arrays, handed over without a copy (no object a row crosses). The same maker runs on the calling thread for a small file and
// when no thread can start: the same rows, rejections and list hash.
//
// Back-pressure: at most AHEAD batches are made before the import's thread has taken them. The card numbers cross
// nowhere but this process's memory; a refusal crosses as its message and rejected lines, which never quote one.
import { type Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { ParsedRecord } from '../policies/member-csv.js';
import { cardHasherKey, createCardHasher } from '../policies/cards.js';
import { CardHashWorker, encodeRows, encodedTexts, hashEncoded, HASH_WORKER_FROM_BYTES, HashQueue, type EncodedRows } from './card-hash-worker.js';
import { MemberCsvReader, type MemberCsvReaderOptions, type ReaderCounts, type RejectedRow } from './member-csv-reader.js';
import { startModuleWorker } from './worker-thread.js';

const ROLE = 'oag-member-import';
/** Batches made ahead of the import's thread: enough to keep both busy, few enough to bound memory. */
const AHEAD = 4;
const PROGRESS_EVERY = 2_000;

/** Turns parser batches into the caller's batches; rejects bad rows through `reader`. */
export interface BatchMaker<B> {
  /**
   * The kept rows of one parser batch, checked, with each row's normalised card id and fields' text (memberFieldsText)
   * to be hashed; null when none was kept.
   */
  make(records: readonly ParsedRecord[], reader: MemberCsvReader<string>): { batch: B; ids: string[]; texts: string[] } | null;
  /** The buffers of a batch handed over to the other thread. */
  transfer(batch: B): ArrayBuffer[];
}

/** A batch with its rows' card hashes and digests, HASHED_ROW_BYTES a row, then their list hash (hashRows). */
export interface Hashed<B> {
  batch: B;
  hashed: Uint8Array;
  /** Each row's fields' text, as hashed (decoded when asked: a branch import never asks). */
  texts(): readonly string[];
}

/** A module's export making a BatchMaker from cloneable params. */
export type BatchMakerFactory<P, B> = (params: P) => BatchMaker<B>;

export interface ImportReading<P, B> {
  /** The module exporting the factory (its import.meta.url) and the export's name. */
  maker: { url: string; name: string; factory: BatchMakerFactory<P, B> };
  params: P;
  hasher: (normalisedId: string) => Buffer;
  /** Read in a worker thread from a file of this many bytes (default HASH_WORKER_FROM_BYTES, 4 MiB). */
  workerFromBytes?: number | undefined;
}

type ReaderSetup = Pick<MemberCsvReaderOptions<string>, 'delimiter' | 'fields' | 'columns' | 'configPath' | 'emptyHint'>;

interface Setup {
  role: typeof ROLE;
  filePath: string;
  reader: ReaderSetup;
  url: string;
  name: string;
  params: unknown;
  /** The deployment key, when the hasher is createCardHasher's: then this thread hashes a batch when the other lags. */
  key: Uint8Array | null;
  /**
   * One Int32: batches the import's thread has taken. Read here as it is now: a 'more' message waits for this
   * thread's next turn of its event loop, which a file read from the page cache may not take for many batches.
   */
  taken: SharedArrayBuffer;
}

type Message =
  | { type: 'batch'; batch: unknown; encoded: EncodedRows; hashed: Uint8Array | null; total: number; bytesRead: number }
  | { type: 'done'; counts: ReaderCounts }
  | { type: 'failed'; message: string; refused: boolean; rejected: RejectedRow[] | undefined; counts: ReaderCounts };

/** A refusal made in the worker, carried back as its message and rejected lines. */
class Refused extends Error {
  constructor(
    message: string,
    readonly rejected: readonly RejectedRow[] | undefined,
  ) {
    super(message);
  }
}

/**
 * The file's batches, as `reading.maker` makes them, then `reader.finish(true)`: a file unusable as a whole throws
 * the reader's refusal (naming the line where there is one), an error reading it too. After the last batch, the
 * reader holds the file's counts and rejected rows, wherever it was read.
 */
export function readBatches<P, B>(reader: MemberCsvReader<string>, setup: ReaderSetup, reading: ImportReading<P, B>): AsyncGenerator<Hashed<B>> {
  const large = reader.totalBytes >= (reading.workerFromBytes ?? HASH_WORKER_FROM_BYTES);
  if (!large) return readHere(reader, reading, large);
  let worker: Worker;
  const taken = new SharedArrayBuffer(4);
  try {
    worker = startModuleWorker(import.meta.url, {
      role: ROLE,
      filePath: reader.filePath,
      reader: setup,
      url: reading.maker.url,
      name: reading.maker.name,
      params: reading.params,
      key: cardHasherKey(reading.hasher) ?? null,
      taken,
    } satisfies Setup);
  } catch {
    return readHere(reader, reading, large);
  }
  return readThere(reader, worker, reading.hasher, new Int32Array(taken));
}

/** On this thread; the hashing in a thread of its own for a large file (when the hasher allows). */
async function* readHere<P, B>(reader: MemberCsvReader<string>, reading: ImportReading<P, B>, large: boolean): AsyncGenerator<Hashed<B>> {
  const maker = reading.maker.factory(reading.params);
  const hashWorker = large ? CardHashWorker.start(reading.hasher) : null;
  const hashes = new HashQueue<{ batch: B; texts: string[] }>(reading.hasher, hashWorker);
  try {
    for await (const records of reader.records()) {
      const made = maker.make(records, reader);
      if (made === null) continue;
      for (const [{ batch, texts }, hashed] of await hashes.add(made, made.ids, made.texts)) yield { batch, hashed, texts: () => texts };
    }
    for (const [{ batch, texts }, hashed] of await hashes.drain()) yield { batch, hashed, texts: () => texts };
  } catch (error) {
    throw reader.refusal(error);
  } finally {
    hashWorker?.close();
  }
  reader.finish(true);
}

async function* readThere<B>(reader: MemberCsvReader<string>, worker: Worker, hasher: (normalisedId: string) => Buffer, taken: Int32Array): AsyncGenerator<Hashed<B>> {
  const inbox: Message[] = [];
  let stopped: Error | null = null;
  let wake: (() => void) | null = null;
  const arrived = (): void => {
    wake?.();
    wake = null;
  };
  worker.on('message', (message: Message) => {
    inbox.push(message);
    arrived();
  });
  worker.on('error', (error) => {
    stopped ??= error;
    arrived();
  });
  worker.on('exit', (code) => {
    stopped ??= new Error(`exited with ${code}`);
    arrived();
  });
  try {
    for (;;) {
      const message = inbox.shift();
      if (message === undefined) {
        // A thread that stopped without a word (out of memory, a bug) is the import's failure: nothing was applied.
        if (stopped !== null) throw new Error(`${reader.filePath}: the import's reading thread stopped (${(stopped as Error).message}): nothing changed`);
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      if (message.type === 'batch') {
        const before = reader.total;
        reader.total = message.total;
        reader.bytesRead = message.bytesRead;
        if (Math.floor(message.total / PROGRESS_EVERY) > Math.floor(before / PROGRESS_EVERY)) reader.progress('reading');
        // Hashed here: this thread is idle while the file is read, a third thread's heap would cost more memory.
        const hashed = message.hashed ?? hashEncoded(hasher, message.encoded);
        Atomics.add(taken, 0, 1);
        worker.postMessage('more');
        const { encoded } = message;
        yield { batch: message.batch as B, hashed, texts: () => encodedTexts(encoded) };
        continue;
      }
      reader.adopt(message.counts);
      if (message.type === 'done') return;
      throw message.refused ? reader.refuse(message.message, message.rejected) : new Error(message.message);
    }
  } finally {
    worker.removeAllListeners();
    void worker.terminate();
  }
}

async function work(setup: Setup): Promise<void> {
  const port = parentPort!;
  const taken = new Int32Array(setup.taken);
  let sent = 0;
  /** Batches sent and not yet taken by the import's thread. */
  const waiting = (): number => sent - Atomics.load(taken, 0);
  let wake: (() => void) | null = null;
  port.on('message', () => {
    wake?.();
    wake = null;
  });
  const mod = (await import(setup.url)) as Record<string, unknown>;
  const factory = mod[setup.name] as BatchMakerFactory<unknown, unknown>;
  const maker = factory(setup.params);
  const hasher = setup.key === null ? null : createCardHasher(Buffer.from(setup.key));
  const reader = new MemberCsvReader(setup.filePath, { ...setup.reader, refuse: (message, rejected) => new Refused(message, rejected) });
  try {
    try {
      for await (const records of reader.records()) {
        const made = maker.make(records, reader);
        if (made === null) continue;
        while (waiting() >= AHEAD) await new Promise<void>((resolve) => (wake = resolve));
        // Two batches or more not yet taken: the import's thread is the slower, this one hashes the batch itself.
        const encoded = encodeRows(made.ids, made.texts);
        const hashed = hasher !== null && waiting() >= 2 ? hashEncoded(hasher, encoded) : null;
        sent++;
        const transfer = [...maker.transfer(made.batch), encoded.rows.buffer as ArrayBuffer];
        if (hashed !== null) transfer.push(hashed.buffer as ArrayBuffer);
        port.postMessage({ type: 'batch', batch: made.batch, encoded, hashed, total: reader.total, bytesRead: reader.bytesRead } satisfies Message, transfer);
      }
    } catch (error) {
      throw reader.refusal(error);
    }
    reader.finish(true);
    port.postMessage({ type: 'done', counts: reader.counts() } satisfies Message);
  } catch (error) {
    const refused = error instanceof Refused;
    port.postMessage({
      type: 'failed',
      // Not a refusal: a bug's message, never its stack (it could hold a row's text).
      message: refused ? error.message : `${setup.filePath}: the import failed (${(error as Error).message}): nothing changed`,
      refused,
      rejected: refused ? [...(error.rejected ?? [])] : undefined,
      counts: reader.counts(),
    } satisfies Message);
  } finally {
    reader.close();
  }
}

if (!isMainThread && (workerData as { role?: unknown } | null)?.role === ROLE && parentPort !== null) {
  void work(workerData as Setup);
}
