// The branch's side of the member-list protocol (docs/members.md): follow central's announcement, pull what is
// missing a window of chunks at a time, check each chunk, stage it durably, and apply the version in one
// transaction once every chunk is there and count and hash match. Driven only by MQTT messages and timers: the
// tap path never waits on any of it, and the one step that holds the write lock is the final swap.
//
// It shares the door's event loop, so nothing here runs long in one go: a chunk is checked in a worker thread
// (chunk-worker.ts) and staged a batch of rows per turn of the loop, and the apply does its checks a page per turn
// before a short swap. Messages, timers and the apply are taken one at a time, in order: a message that arrives
// while a chunk is being staged waits for it (a small one with nothing in progress is handled at once).
//
// Only what central signed is followed (docs/members.md): an announcement or a chunk that does not verify with one of
// central's keys is refused unread, and a chunk's signature covers the branch's own random transfer id, so chunks
// recorded from another transfer are refused. Announcements only move forward: a signed one older than the one
// followed (replayed from a recording) changes nothing.
//
// Also watches the list's age: after `staleAfterDays` without central confirming the list in force is current,
// `member-list-stale` is raised.
import { randomUUID } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Logger } from 'pino';
import {
  ReceivedMembersAnnouncementSchema,
  MembersRequestSchema,
  encodeMessage,
  parseSignedMessage,
  type CentralPublicKey,
  type MembersAnnouncement,
  type MembersRefusal,
  type MembersRequest,
} from '../../policies/contract/index.js';
import { MemberListError } from '../store/errors.js';
import type { ApplyResult, StagedTransfer, Store } from '../store/index.js';
import { runInTurns, runNow } from '../store/member-sync.js';
import type { Steps } from '../store/member-sync.js';
import { RefusalLog } from '../uplink/refusal-log.js';
import { WorkerChecker, checkTransfer } from './chunk-worker.js';
import type { CheckedTransfer, ChunkHeader, SignedBy, TransferChecker } from './chunk-worker.js';

export interface MemberSyncConfig {
  staleAfterDays: number;
  windowChunks: number;
  requestTimeoutMs: number;
}

/** Tests only. */
export interface MemberSyncHooks {
  /** Runs inside the apply transaction just before it commits: throw to play a crash or a power cut there. */
  beforeCommit?: () => void;
}

export interface MemberSyncDeps {
  store: Pick<Store, 'members' | 'memberSync' | 'settings'> & Partial<Pick<Store, 'path'>>;
  /** deploymentKeyId(the gateway's key): a list made with another key is refused. */
  keyId: string;
  /** Central's public keys, and the topics its signatures are for: the shared announcement, this site's chunks. */
  central: { keys: readonly CentralPublicKey[]; announcementTopic: string; transferTopic: string };
  clock: { now(): Date };
  logger: Logger;
  /** Writes a `members` event (applied or refused) to the outbox. */
  record: (event: { result: 'applied' | 'refused'; version: number | null; count?: number; error?: string }) => void;
  alarms: { set(alarm: 'member-list-stale', raised: boolean, detail?: string): void };
  /** The list in force changed (the state goes out again). */
  onApplied: () => void;
  config: MemberSyncConfig;
  hooks?: MemberSyncHooks | undefined;
  newId?: () => string;
  /** Where chunks are checked (default: a worker thread). */
  checker?: TransferChecker | undefined;
  /** Awaited between steps of staging and applying (default: one turn of the event loop). */
  yieldToLoop?: (() => Promise<void>) | undefined;
}

export interface MemberSyncStatus {
  /** The version central announced (null: none yet, or one made with another key). */
  announced: { version: number; count: number; at: string } | null;
  transfer: { version: number; kind: 'delta' | 'snapshot'; received: number; total: number } | null;
  lastSyncAt: string | null;
  requests: number;
  chunks: number;
  corruptChunks: number;
  refusals: number;
  applied: number;
  lastApply: (Omit<ApplyResult, 'hash'> & { at: string }) | null;
  lastError: string | null;
}

/** The settings key under which the last time central confirmed the list is kept (`oag doctor` reads it too). */
export const MEMBER_SYNC_SETTING = 'member-sync';
const STALE_CHECK_MS = 3600_000;
const DAY_MS = 86_400_000;
/** Bad chunks in one transfer before it is abandoned for a while (a broken link or a broken central). */
const MAX_CORRUPT = 8;
const MAX_BACKOFF_MS = 300_000;
/**
 * A transfer message this small (a delta of a few dozen changes, a refusal) is checked and staged at once when
 * nothing else is in progress: about a millisecond of work, less than a round trip to the worker.
 */
const INLINE_MAX_BYTES = 8 * 1024;

/** Thrown between steps once the sync is stopped: the work in progress ends there, nothing half-applied. */
class Stopped extends Error {}

/** While steps run, the WAL is checkpointed from the checker's thread this often (chunk-worker.ts). */
const CHECKPOINT_EVERY_MS = 50;

export class MemberSync {
  private send: ((payload: Buffer) => boolean) | null = null;
  private target: MembersAnnouncement | null = null;
  /** A transfer asked for, no chunk of which has arrived yet (so nothing is staged). */
  private pending: { transfer: string; kind: MembersRequest['kind']; version: number } | null = null;
  /** Chunks asked for and not yet staged, of `outstandingFor`. */
  private readonly outstanding = new Set<number>();
  private outstandingFor: string | null = null;
  private requestTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private staleTimer: NodeJS.Timeout | null = null;
  private applyScheduled: NodeJS.Immediate | null = null;
  /** An apply scheduled or in progress. */
  private applying = false;
  /** Work waiting its turn, and whether one is running (then everything else queues behind it). */
  private readonly queue: Array<() => void | Promise<void>> = [];
  private busy = false;
  private readonly checker: TransferChecker;
  private readonly yieldStep: () => Promise<void>;
  private forceSnapshot = false;
  private corruptInTransfer = 0;
  private failures = 0;
  private keyRefused: number | null = null;
  private stopped = false;
  private readonly log: Logger;
  private readonly newId: () => string;
  private readonly counters = { requests: 0, chunks: 0, corruptChunks: 0, refusals: 0, applied: 0 };
  private lastApply: MemberSyncStatus['lastApply'] = null;
  private lastError: string | null = null;
  /** The highest version central announced (signed) since start: an older announcement is a replay. */
  private highestAnnounced = 0;
  private readonly refusals: RefusalLog;
  private readonly chunksSignedBy: SignedBy;

  constructor(private readonly deps: MemberSyncDeps) {
    this.log = deps.logger.child({ module: 'member-sync' });
    this.refusals = new RefusalLog(this.log);
    this.chunksSignedBy = { topic: deps.central.transferTopic, keys: deps.central.keys };
    this.newId = deps.newId ?? randomUUID;
    this.checker =
      deps.checker ??
      new WorkerChecker((error) => this.log.warn({ err: { message: error.message } }, 'member-list chunks are checked on the main thread: the checker thread failed'));
    const yieldToLoop = deps.yieldToLoop ?? nextTurn;
    let checkpointed = 0;
    this.yieldStep = async () => {
      const now = performance.now();
      if (now - checkpointed >= CHECKPOINT_EVERY_MS && this.deps.store.path !== undefined) {
        checkpointed = now;
        this.checker.checkpoint?.(this.deps.store.path);
      }
      await yieldToLoop();
      if (this.stopped) throw new Stopped();
    };
  }

  start(): void {
    this.checkStale();
    this.staleTimer = setInterval(() => this.checkStale(), STALE_CHECK_MS);
    this.staleTimer.unref();
    // The old list of a swap, or the rows of a dropped transfer, that a stop or a crash left behind.
    this.submit(false, () => (this.deps.store.memberSync.hasLeftovers() ? this.cleanUp() : undefined));
  }

  stop(): void {
    this.stopped = true;
    this.send = null;
    for (const t of [this.requestTimer, this.retryTimer, this.staleTimer]) if (t) clearTimeout(t);
    if (this.applyScheduled) clearImmediate(this.applyScheduled);
    this.requestTimer = this.retryTimer = this.staleTimer = null;
    this.applyScheduled = null;
    this.applying = false;
    this.queue.length = 0;
    this.refusals.stop();
    this.checker.close();
  }

  /** The link came up (with a way to publish a request) or went down (null). The announcement drives the rest. */
  link(send: ((payload: Buffer) => boolean) | null): void {
    this.send = this.stopped ? null : send;
    if (send === null) this.cancelRequest();
  }

  /** A message on a member-list topic: the retained announcement, or a chunk / refusal for this site. */
  receive(kind: 'announcement' | 'transfer', payload: Buffer): void {
    if (this.stopped) return;
    if (kind === 'announcement') {
      this.submit(true, () => this.onAnnouncement(payload));
      return;
    }
    if (payload.length <= INLINE_MAX_BYTES) {
      const check = (): CheckedTransfer => checkTransfer(payload, this.chunksSignedBy);
      this.submit(true, () => runNow(this.onTransfer(check())), async () => runInTurns(this.onTransfer(check()), this.yieldStep));
      return;
    }
    // Sent to the worker at once, so that it checks the next chunks while this thread stages the one before.
    const checking = this.checker.check(payload, this.chunksSignedBy);
    checking.catch(() => undefined); // awaited below, unless the sync stops first
    this.submit(false, async () => {
      const checked = await checking.catch(() => {
        if (this.stopped) throw new Stopped();
        // The checker thread failed (it says so once): check the chunk on this thread.
        return checkTransfer(payload, this.chunksSignedBy);
      });
      if (this.stopped) return;
      await runInTurns(this.onTransfer(checked), this.yieldStep);
    });
  }

  /**
   * Runs `task` now when it is quick (`inline`) and nothing is in progress, else queues it behind what is: the
   * store's staged transfer is only ever changed by one task at a time. `queued` is what runs when it has to wait.
   */
  private submit(inline: boolean, task: () => void | Promise<void>, queued: () => void | Promise<void> = task): void {
    if (this.stopped) return;
    if (inline && !this.busy && this.queue.length === 0) {
      this.guarded(task);
      return;
    }
    this.queue.push(queued);
    if (!this.busy) void this.drain();
  }

  private async drain(): Promise<void> {
    this.busy = true;
    try {
      for (let task = this.queue.shift(); task !== undefined && !this.stopped; task = this.queue.shift()) {
        await this.guarded(task);
      }
    } finally {
      this.busy = false;
    }
  }

  private guarded(task: () => void | Promise<void>): void | Promise<void> {
    const failed = (err: unknown): void => {
      if (err instanceof Stopped || this.stopped) return;
      // A store failure (disk full…) must not take the uplink down with it; the timers ask again later.
      this.fail(`member-list sync failed: ${(err as Error).message}`, err);
      this.backoff();
    };
    try {
      const running = task();
      if (running instanceof Promise) return running.catch(failed);
    } catch (err) {
      failed(err);
    }
  }

  status(): MemberSyncStatus {
    const staged = this.deps.store.memberSync.transfer();
    const t = this.target;
    return {
      announced: t === null ? null : { version: t.version, count: t.count, at: t.at },
      transfer: staged === null ? null : { version: staged.version, kind: staged.kind, received: staged.received.length, total: staged.total },
      lastSyncAt: this.lastSyncAt(),
      ...this.counters,
      lastApply: this.lastApply,
      lastError: this.lastError,
    };
  }

  // ---- announcements ----

  private onAnnouncement(payload: Buffer): void {
    if (payload.length === 0) return; // cleared at the broker: the list in force stays
    const { keys, announcementTopic } = this.deps.central;
    const parsed = parseSignedMessage(ReceivedMembersAnnouncementSchema, payload, { topic: announcementTopic, keys });
    if (!parsed.ok) {
      if (parsed.signature === 'refused') this.refusals.refused('member-list announcement', parsed.errors.join('; '));
      else this.refusals.refused('member-list announcement', 'does not match the contract', { errors: parsed.errors });
      return;
    }
    const a = parsed.value;
    const local = this.deps.store.members.stats().version ?? 0;
    if (a.version < Math.max(this.highestAnnounced, local)) {
      this.refusals.refused('member-list announcement', `version ${a.version} is older than ${Math.max(this.highestAnnounced, local)}, already announced or in force (a replay)`);
      return;
    }
    this.highestAnnounced = a.version;
    if (a.keyId !== this.deps.keyId) {
      this.target = null;
      this.pending = null;
      this.cancelRequest();
      if (this.keyRefused !== a.version) {
        this.keyRefused = a.version;
        this.refuse(a.version, a.count, this.keyMessage(a.keyId));
      }
      return;
    }
    this.keyRefused = null;
    if (this.target?.version !== a.version) {
      // A new version: whatever went wrong with the last one starts afresh.
      this.failures = 0;
      this.forceSnapshot = false;
      this.corruptInTransfer = 0;
      if (this.retryTimer) clearTimeout(this.retryTimer);
      this.retryTimer = null;
      // A transfer asked for and not started is for the version before: ask for this one instead.
      if (this.pending !== null) {
        this.pending = null;
        this.cancelRequest();
      }
    }
    this.target = a;
    this.evaluate();
  }

  /** Decides what to do next: nothing (in sync), apply what is staged, or ask for the next chunks. */
  private evaluate(): void {
    const t = this.target;
    if (this.stopped || t === null || this.applying) return;
    const local = this.deps.store.members.stats();
    const sync = this.deps.store.memberSync;
    if (local.version === t.version && local.hash === t.hash) {
      // Central says so as of its `at` (an old retained announcement is no proof that central is still there).
      this.markSynced(new Date(Math.min(Date.parse(t.at), this.deps.clock.now().getTime())));
      if (sync.transfer() !== null) sync.discard();
      this.pending = null;
      this.cancelRequest();
      return;
    }
    let staged = sync.transfer();
    if (staged !== null && !this.usable(staged, t, local)) {
      sync.discard();
      staged = null;
    }
    if (staged !== null && staged.received.length === staged.total) {
      this.scheduleApply();
      return;
    }
    if (this.retryTimer !== null) return; // backing off; the timer calls back
    if (this.outstanding.size > 0 && this.outstandingFor === (staged?.transfer ?? this.pending?.transfer) && this.requestTimer !== null) return;
    this.requestNext(staged);
  }

  private usable(staged: StagedTransfer, t: MembersAnnouncement, local: { version: number | null; hash: string }): boolean {
    if (staged.version !== t.version || staged.keyId !== this.deps.keyId || staged.count !== t.count || staged.hash !== t.hash) return false;
    return staged.kind === 'snapshot' || (staged.base === local.version && staged.baseHash === local.hash);
  }

  // ---- requests ----

  /** Asks for the chunks from `from` (default: the first missing one), as many as the window allows. */
  private requestNext(staged: StagedTransfer | null, from?: number): void {
    const t = this.target;
    if (this.send === null || t === null || this.stopped) return;
    let transfer: string;
    let kind: MembersRequest['kind'];
    let start: number;
    let count: number;
    const window = this.deps.config.windowChunks;
    if (staged !== null) {
      const have = new Set(staged.received);
      start = from ?? 0;
      while (from === undefined && have.has(start)) start++;
      count = 1;
      while (count < window && start + count < staged.total && !have.has(start + count) && !(from !== undefined && this.outstanding.has(start + count))) count++;
      transfer = staged.transfer;
      kind = staged.kind;
    } else {
      if (this.pending === null || this.pending.version !== t.version) {
        this.pending = { transfer: this.newId(), kind: this.forceSnapshot ? 'snapshot' : 'auto', version: t.version };
      }
      transfer = this.pending.transfer;
      kind = this.pending.kind;
      start = from ?? 0;
      count = from === undefined ? window : 1;
    }
    const local = this.deps.store.members.stats();
    const request: MembersRequest = {
      transfer,
      at: this.deps.clock.now().toISOString(),
      keyId: this.deps.keyId,
      version: t.version,
      kind,
      base: local.version === null ? null : { version: local.version, hash: local.hash },
      from: start,
      count,
    };
    if (!this.send(encodeMessage(MembersRequestSchema, request))) return; // link down: asked again on the next announcement
    this.counters.requests++;
    if (this.outstandingFor !== transfer) {
      this.outstanding.clear();
      this.outstandingFor = transfer;
    }
    for (let i = start; i < start + count; i++) this.outstanding.add(i);
    this.log.debug({ version: t.version, kind, from: start, count }, 'member-list chunks requested');
    this.armRequestTimer();
  }

  private armRequestTimer(): void {
    if (this.requestTimer) clearTimeout(this.requestTimer);
    this.requestTimer = setTimeout(() => {
      this.requestTimer = null;
      this.submit(true, () => {
        // Nothing (more) came: ask again from the first chunk still missing.
        this.outstanding.clear();
        this.log.info('member-list chunks did not arrive in time; asking again');
        this.evaluate();
      });
    }, this.deps.config.requestTimeoutMs);
    this.requestTimer.unref?.();
  }

  private cancelRequest(): void {
    if (this.requestTimer) clearTimeout(this.requestTimer);
    this.requestTimer = null;
    this.outstanding.clear();
  }

  // ---- chunks ----

  /** A checked message from the transfer topic: a refusal, or a chunk to check against the transfer and stage. */
  private *onTransfer(checked: CheckedTransfer): Steps<void> {
    if (checked.type === 'forged') {
      // Not central's: not a damaged chunk of this transfer either, so it counts for nothing and asks for nothing.
      this.refusals.refused('member-list chunk', checked.reason);
      return;
    }
    if (checked.type === 'invalid') {
      this.counters.corruptChunks++;
      this.log.warn({ errors: checked.errors }, 'member-list chunk refused: does not match the contract');
      this.onCorrupt(null);
      return;
    }
    const transfer = checked.type === 'refused' ? checked.message.transfer : checked.chunk.transfer;
    const staged = this.deps.store.memberSync.transfer();
    const current = staged?.transfer ?? this.pending?.transfer;
    if (transfer !== current) return; // an earlier transfer's, still on its way
    if (checked.type === 'refused') this.onRefused(checked.message);
    else yield* this.onChunk(checked, staged);
  }

  private *onChunk(checked: Extract<CheckedTransfer, { type: 'chunk' }>, staged: StagedTransfer | null): Steps<void> {
    const c: ChunkHeader = checked.chunk;
    const t = this.target;
    const sync = this.deps.store.memberSync;
    if (t === null) return;
    if (c.keyId !== this.deps.keyId) {
      if (staged !== null) sync.discard();
      this.pending = null;
      this.cancelRequest();
      this.refuse(c.version, c.count, this.keyMessage(c.keyId));
      return;
    }
    if (c.version !== t.version || c.count !== t.count || c.hash !== t.hash) return; // not what is announced now
    if (staged !== null && (staged.kind !== c.kind || staged.total !== c.total || staged.base !== c.base)) {
      // Not the transfer that was staged: start again.
      sync.discard();
      this.pending = null;
      this.cancelRequest();
      this.evaluate();
      return;
    }
    if (!checked.hashMatches) {
      this.counters.corruptChunks++;
      this.log.warn({ index: c.index, version: c.version }, 'member-list chunk refused: its hash does not match; asking for it again');
      this.onCorrupt(c.index);
      return;
    }
    if (staged !== null && staged.received.includes(c.index)) {
      this.afterStaged();
      return;
    }
    if (checked.rows === null) {
      this.counters.corruptChunks++;
      this.log.warn({ index: c.index, reason: checked.error }, 'member-list chunk refused: an entry is not valid; asking for it again');
      this.onCorrupt(c.index);
      return;
    }
    if (staged === null) {
      const local = this.deps.store.members.stats();
      if (c.kind === 'delta' && c.base !== local.version) {
        this.pending = null;
        this.cancelRequest();
        this.evaluate();
        return;
      }
      // What a dropped transfer left, a batch per turn: begin() would otherwise delete it all in one go.
      if (sync.hasLeftovers()) yield* sync.cleanUpSteps();
      sync.begin(
        {
          transfer: c.transfer,
          kind: c.kind,
          version: c.version,
          base: c.base,
          baseHash: c.kind === 'delta' ? local.hash : null,
          keyId: c.keyId,
          total: c.total,
          count: c.count,
          hash: c.hash,
        },
        this.deps.clock.now(),
      );
      this.pending = null;
      // Now that the number of chunks is known, stop waiting for any beyond it.
      for (const i of [...this.outstanding]) if (i >= c.total) this.outstanding.delete(i);
    }
    try {
      yield* sync.stageChunkSteps(c.index, checked.rows, checked.sum);
    } catch (err) {
      if (!(err instanceof MemberListError)) throw err;
      sync.discard();
      this.abandon(c.version, c.count, `member list version ${c.version} refused: ${err.message}`);
      return;
    }
    this.counters.chunks++;
    this.afterStaged();
  }

  /** After a chunk was staged: apply when complete, ask for the next window when this one is in. */
  private afterStaged(): void {
    const staged = this.deps.store.memberSync.transfer();
    if (staged === null) return;
    for (const i of staged.received) this.outstanding.delete(i);
    if (staged.received.length === staged.total) {
      this.cancelRequest();
      this.scheduleApply();
      return;
    }
    this.armRequestTimer(); // progress: the timeout starts again
    if (this.outstanding.size === 0) this.requestNext(staged);
  }

  private onCorrupt(index: number | null): void {
    this.corruptInTransfer++;
    if (this.corruptInTransfer > MAX_CORRUPT) {
      const t = this.target;
      this.deps.store.memberSync.discard();
      this.abandon(t?.version ?? null, t?.count, `member list version ${t?.version ?? '?'}: ${this.corruptInTransfer} damaged chunks; trying again later`);
      return;
    }
    // Unreadable as a whole: the request timer asks again for whatever is still missing.
    if (index !== null) this.requestNext(this.deps.store.memberSync.transfer(), index);
  }

  private onRefused(r: MembersRefusal): void {
    this.counters.refusals++;
    this.log.info({ reason: r.reason, message: r.message, current: r.current }, 'central refused the member-list request');
    this.deps.store.memberSync.discard();
    this.pending = null;
    this.cancelRequest();
    switch (r.reason) {
      case 'key-mismatch':
        this.refuse(this.target?.version ?? null, this.target?.count, r.message);
        this.target = null; // until the next announcement
        return;
      case 'superseded':
      case 'unknown-version':
        // The announcement of the newer version is on its way (or here already): start again with it shortly,
        // and less often each time if it does not come.
        this.backoff();
        return;
      default:
        this.lastError = r.message;
        this.backoff();
    }
  }

  // ---- apply ----

  private scheduleApply(): void {
    if (this.applying) return;
    this.applying = true;
    // On a later turn of the loop: taps waiting now are decided first.
    this.applyScheduled = setImmediate(() => {
      this.applyScheduled = null;
      this.submit(false, async () => {
        let applied = false;
        try {
          applied = await this.apply();
        } finally {
          this.applying = false;
        }
        // After a failure the back-off timer calls back; after an apply, the announcement may be newer already.
        if (applied && !this.stopped) this.evaluate();
        else if (!applied && this.retryTimer === null && !this.stopped) this.evaluate();
      });
    });
  }

  /** Whether a list was applied. */
  private async apply(): Promise<boolean> {
    if (this.stopped) return false;
    const sync = this.deps.store.memberSync;
    const staged = sync.transfer();
    if (staged === null || staged.received.length !== staged.total) return false;
    let result: ApplyResult;
    const now = this.deps.clock.now();
    try {
      result = await runInTurns(sync.applySteps({ appliedAt: now, source: 'central', beforeCommit: this.deps.hooks?.beforeCommit }), this.yieldStep);
    } catch (err) {
      if (err instanceof Stopped) throw err;
      if (err instanceof MemberListError) {
        // The transfer does not add up to what central announced: never applied; a snapshot next time.
        sync.discard();
        if (staged.kind === 'delta') this.forceSnapshot = true;
        this.abandon(staged.version, staged.count, `member list version ${staged.version} refused: ${err.message}`);
        return false;
      }
      // Not the list's fault (disk, I/O): what is staged is still good; try again later.
      this.fail(`member list version ${staged.version} could not be applied: ${(err as Error).message}`, err);
      this.backoff();
      return false;
    }
    this.counters.applied++;
    this.failures = 0;
    this.forceSnapshot = false;
    this.corruptInTransfer = 0;
    this.lastError = null;
    const { hash: _hash, ...figures } = result;
    this.lastApply = { ...figures, at: now.toISOString() };
    this.deps.record({ result: 'applied', version: result.version, count: result.count });
    this.log.info(
      { version: result.version, kind: result.kind, count: result.count, added: result.added, changed: result.changed, removed: result.removed, lockMs: Math.round(result.lockMs * 10) / 10 },
      'member list applied',
    );
    const t = this.target;
    this.markSynced(t !== null && t.version === result.version ? new Date(Math.min(Date.parse(t.at), now.getTime())) : now);
    this.deps.onApplied();
    // The list it replaced goes after the news that this one is in force.
    this.submit(false, () => this.cleanUp());
    return true;
  }

  private async cleanUp(): Promise<void> {
    await runInTurns(this.deps.store.memberSync.cleanUpSteps(), this.yieldStep);
  }

  // ---- failures ----

  private refuse(version: number | null, count: number | undefined, error: string): void {
    this.counters.refusals++;
    this.lastError = error;
    this.log.error({ version }, error);
    this.deps.record({ result: 'refused', version, ...(count === undefined ? {} : { count }), error: error.slice(0, 2000) });
  }

  /** Gives up on this transfer for now: reported once, tried again after a while. */
  private abandon(version: number | null, count: number | undefined, error: string): void {
    this.pending = null;
    this.cancelRequest();
    this.refuse(version, count, error);
    this.corruptInTransfer = 0;
    this.backoff();
  }

  private fail(message: string, err: unknown): void {
    this.lastError = message;
    this.log.error({ err }, message);
  }

  private backoff(ms?: number): void {
    if (this.stopped) return;
    if (ms === undefined) {
      this.failures++;
      ms = Math.min(MAX_BACKOFF_MS, 2000 * 2 ** (this.failures - 1));
    }
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.submit(true, () => this.evaluate());
    }, ms);
    this.retryTimer.unref?.();
  }

  private keyMessage(theirs: string): string {
    return `the member list was made with another deployment key (key id ${theirs}, this gateway's is ${this.deps.keyId}): refused`;
  }

  // ---- staleness ----

  private lastSyncAt(): string | null {
    const saved = this.deps.store.settings.get<{ lastSyncAt?: string }>(MEMBER_SYNC_SETTING);
    return saved?.lastSyncAt ?? null;
  }

  private markSynced(at: Date): void {
    const last = this.lastSyncAt();
    if (last === null || Date.parse(last) < at.getTime()) this.deps.store.settings.set(MEMBER_SYNC_SETTING, { lastSyncAt: at.toISOString() });
    this.checkStale();
  }

  /** Raises or clears `member-list-stale` by the last time central confirmed the list (or the list's own age). */
  checkStale(): void {
    const last = this.lastSyncAt() ?? this.deps.store.members.stats().updatedAt;
    if (last === null) {
      this.deps.alarms.set('member-list-stale', false);
      return;
    }
    const age = this.deps.clock.now().getTime() - Date.parse(last);
    const stale = age > this.deps.config.staleAfterDays * DAY_MS;
    this.deps.alarms.set(
      'member-list-stale',
      stale,
      stale ? `no member list confirmed by central for ${Math.floor(age / DAY_MS)} days (limit ${this.deps.config.staleAfterDays})` : 'member list confirmed by central',
    );
  }
}
