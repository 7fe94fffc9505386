// Checking member-list chunks from central off the door's event loop (docs/members.md). A snapshot chunk of 5,000
// members is ~430 kB of JSON: parsing it, checking it against the contract, hashing it, and decoding and hashing
// each entry is tens of milliseconds of CPU — on the gateway's thread, tens of milliseconds a tap would wait. A
// worker thread does it; what comes back is cheap to take over (the card hashes in one transferred buffer, each
// member's checked fields as one string), and the gateway's thread only stages the rows, a batch per turn.
//
// The same `checkTransfer` runs on the gateway's thread for a small chunk (a delta of a few changes), where a
// round trip to the worker would cost more than the check, and when the worker cannot be started.
//
// The worker also checkpoints the store's WAL while a transfer is staged. A million members is ~100 MB through the
// WAL; left to SQLite's automatic checkpoint, every ~4 MB one staging commit on the gateway's thread copies the
// WAL into the database and fsyncs it, 20–200 ms on this VM. From its own connection here the copy runs beside the
// gateway's writes (a PASSIVE checkpoint takes no lock they need), the WAL is rewound by the next write, and the
// automatic checkpoint, still there as the fallback, is not reached.
import Database from 'better-sqlite3';
import { type Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { ReceivedMembersTransferSchema, parseSignedMessage } from '../../policies/contract/index.js';
import type { CentralPublicKey, MembersChunk, MembersRefusal } from '../../policies/contract/index.js';
import { ListHash, chunkHash, chunkOfCard, decodeMemberEntry } from '../../policies/member-list.js';
import { startModuleWorker } from '../../kit/worker-thread.js';
import type { PackedRows } from '../store/member-sync.js';

export type ChunkHeader = Omit<MembersChunk, 'entries'> & { entries: number };

/** Whose signature a transfer message must carry, and for which topic (the branch's own chunk topic). */
export interface SignedBy {
  topic: string;
  keys: readonly CentralPublicKey[];
}

/** A member-list transfer message, checked. */
export type CheckedTransfer =
  | { type: 'invalid'; errors: string[] }
  /** Not signed by central: nothing else was looked at. */
  | { type: 'forged'; reason: string }
  | { type: 'refused'; message: MembersRefusal }
  | {
      type: 'chunk';
      chunk: ChunkHeader;
      /** Whether `chunkHash` is the hash of the entries; when not, nothing else was looked at. */
      hashMatches: boolean;
      /** Why an entry is not valid (null: all are); then `rows` is null. */
      error: string | null;
      rows: PackedRows | null;
      /** The list-hash sum of a snapshot chunk's members (zero for a delta). */
      sum: string;
    };

/** Parses and checks one message from the transfer topic, central's signature first; never throws. */
export function checkTransfer(payload: Uint8Array, signedBy: SignedBy): CheckedTransfer {
  const parsed = parseSignedMessage(ReceivedMembersTransferSchema, payload, signedBy);
  if (!parsed.ok) return parsed.signature === 'refused' ? { type: 'forged', reason: parsed.errors[0] ?? 'signature' } : { type: 'invalid', errors: parsed.errors.slice(0, 3) };
  const msg = parsed.value;
  if (msg.type === 'refused') return { type: 'refused', message: msg };
  const { entries, ...rest } = msg;
  const chunk: ChunkHeader = { ...rest, entries: entries.length };
  const sum = new ListHash();
  if (chunkHash(entries) !== msg.chunkHash) return { type: 'chunk', chunk, hashMatches: false, error: null, rows: null, sum: sum.toHex() };
  const cardHashes = new Uint8Array(entries.length * 32);
  const fields: Array<string | null> = new Array<string | null>(entries.length);
  try {
    entries.forEach((entry, i) => {
      const d = decodeMemberEntry(entry);
      cardHashes.set(d.kind === 'removal' ? d.cardHash : d.row.cardHash, i * 32);
      if (d.kind === 'removal') {
        if (msg.kind === 'snapshot') throw new Error('a removal in a snapshot');
        fields[i] = null;
        return;
      }
      if (msg.kind === 'snapshot') {
        if (chunkOfCard(d.row.cardHash, msg.total) !== msg.index) throw new Error('a card outside the chunk');
        sum.addDigest(d.digest);
      }
      fields[i] = d.fields;
    });
  } catch (error) {
    return { type: 'chunk', chunk, hashMatches: true, error: (error as Error).message, rows: null, sum: sum.toHex() };
  }
  return { type: 'chunk', chunk, hashMatches: true, error: null, rows: { cardHashes, fields }, sum: sum.toHex() };
}

export interface TransferChecker {
  check(payload: Uint8Array, signedBy: SignedBy): Promise<CheckedTransfer>;
  /** Asks for a checkpoint of the store's WAL at `path` beside this thread's work (skipped while one runs). */
  checkpoint?(path: string): void;
  close(): void;
}

const ROLE = 'oag-member-chunks';
/** A worker idle this long is ended (it holds a V8 heap of its own); the next chunk starts another. */
const IDLE_MS = 60_000;

// The keys go as KeyObjects, which a worker receives as clones.
type Request = { id: number; payload: Uint8Array; signedBy: SignedBy } | { id: number; checkpoint: string };
type Reply = { id: number; result: CheckedTransfer } | { id: number; checkpointed: true };

/** Checks chunks in a worker thread, one at a time in order; on the caller's thread when no worker can run. */
export class WorkerChecker implements TransferChecker {
  private worker: Worker | null = null;
  private broken: Error | null = null;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (r: CheckedTransfer) => void; reject: (e: Error) => void }>();
  private idle: NodeJS.Timeout | null = null;
  private checkpointing = false;

  /** `onBroken` is told once when the worker fails and checks go on in the caller's thread. */
  constructor(private readonly onBroken: (error: Error) => void = () => undefined) {}

  check(payload: Uint8Array, signedBy: SignedBy): Promise<CheckedTransfer> {
    if (this.broken !== null) return Promise.resolve(checkTransfer(payload, signedBy));
    const worker = this.ensureWorker();
    if (worker === null) return Promise.resolve(checkTransfer(payload, signedBy));
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
    const id = this.nextId++;
    // A copy of its own, handed over without another: an MQTT payload is often a view into a bigger buffer.
    const copy = new Uint8Array(payload);
    return new Promise<CheckedTransfer>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ id, payload: copy, signedBy } satisfies Request, [copy.buffer]);
    }).finally(() => this.armIdle());
  }

  checkpoint(path: string): void {
    if (this.checkpointing || this.broken !== null || path === '' || path === ':memory:') return;
    const worker = this.ensureWorker();
    if (worker === null) return;
    this.checkpointing = true;
    worker.postMessage({ id: this.nextId++, checkpoint: path } satisfies Request);
    this.armIdle();
  }

  close(): void {
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
    const worker = this.worker;
    this.worker = null;
    this.failAll(new Error('the member-list checker was closed'));
    void worker?.terminate();
  }

  private ensureWorker(): Worker | null {
    if (this.worker !== null) return this.worker;
    try {
      const worker = startModuleWorker(import.meta.url, { role: ROLE });
      // The door's process must not stay up for a checker with nothing to do.
      worker.unref();
      worker.on('message', (reply: Reply) => {
        if ('checkpointed' in reply) {
          this.checkpointing = false;
          return;
        }
        const waiter = this.waiting.get(reply.id);
        this.waiting.delete(reply.id);
        waiter?.resolve(reply.result);
      });
      worker.on('error', (error) => this.fail(worker, error));
      worker.on('exit', (code) => {
        if (this.worker === worker) this.fail(worker, new Error(`the member-list checker thread exited with ${code}`));
      });
      this.worker = worker;
      return worker;
    } catch (error) {
      this.markBroken(error as Error);
      return null;
    }
  }

  private fail(worker: Worker, error: Error): void {
    if (this.worker !== worker) return;
    this.worker = null;
    this.checkpointing = false;
    // What was sent is checked here instead, in order: the caller awaits each in turn.
    for (const [id, waiter] of this.waiting) {
      this.waiting.delete(id);
      waiter.reject(error);
    }
    this.markBroken(error);
  }

  private markBroken(error: Error): void {
    if (this.broken !== null) return;
    this.broken = error;
    this.onBroken(error);
  }

  private failAll(error: Error): void {
    for (const [id, waiter] of this.waiting) {
      this.waiting.delete(id);
      waiter.reject(error);
    }
  }

  private armIdle(): void {
    if (this.waiting.size > 0 || this.worker === null) return;
    if (this.idle) clearTimeout(this.idle);
    this.idle = setTimeout(() => {
      this.idle = null;
      const worker = this.worker;
      this.worker = null;
      this.checkpointing = false;
      void worker?.terminate();
    }, IDLE_MS);
    this.idle.unref();
  }
}

if (!isMainThread && (workerData as { role?: unknown } | null)?.role === ROLE && parentPort !== null) {
  const port = parentPort;
  let store: { path: string; db: Database.Database } | null = null;
  port.on('message', (request: Request) => {
    if ('checkpoint' in request) {
      try {
        if (store?.path !== request.checkpoint) {
          store?.db.close();
          store = null;
          // Never waits for a lock: a checkpoint that cannot run now is simply the next one's work.
          store = { path: request.checkpoint, db: new Database(request.checkpoint, { fileMustExist: true, timeout: 0 }) };
        }
        store.db.pragma('wal_checkpoint(PASSIVE)');
      } catch {
        // Busy, or the store was moved away: SQLite's own checkpoint on the gateway's connection still runs.
      }
      port.postMessage({ id: request.id, checkpointed: true } satisfies Reply);
      return;
    }
    const result = checkTransfer(request.payload, request.signedBy);
    const transfer = result.type === 'chunk' && result.rows !== null ? [result.rows.cardHashes.buffer as ArrayBuffer] : [];
    port.postMessage({ id: request.id, result } satisfies Reply, transfer);
  });
}
