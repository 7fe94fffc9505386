// The member list at central: imports (CLI, API, watched folder), changes to one member, versions, and their
// distribution. One import or change at a time; each new version is announced at once, so every online branch
// pulls it within seconds.
import type { Database } from 'better-sqlite3';
import type { Logger } from 'pino';
import { createCardHasher, deploymentKeyId, normaliseCardId } from '../../policies/cards.js';
import { memberFieldsText, parseMemberFields } from '../../policies/member-list.js';
import { hashPinAsync } from '../../policies/pin.js';
import { HashSlots } from '../../kit/auth/hash-slots.js';
import type { Member } from '../../policies/types.js';
import type { SiteRow } from '../store.js';
import { onBranchList, type CentralMembersConfig } from './config.js';
import { importLmsCsv, type LmsImportOptions, type LmsImportProgress, type LmsImportSummary } from './lms-import.js';
import { importLmsDelta, removalGuard, storedChanges, type LmsDeltaSummary, type MemberDeltaChange } from './lms-delta.js';
import type { ListDiff, MemberStore, MemberVersion } from './member-store.js';
import { SqliteMemberStore } from './sqlite-member-store.js';
import type { CentralSigningKey } from '../signing-key.js';
import { MembersPublisher, type MembersLink, type PublisherHooks, type TransferView } from './publisher.js';

export { TooManyRemovalsError, type MemberDeltaChange } from './lms-delta.js';

export class UnknownCardError extends Error {
  constructor() {
    super('no member with that card in the last export or the current list');
    this.name = 'UnknownCardError';
  }
}

export interface ApplyChangesMeta {
  /** Where the changes came from, as the version records it (`delta:FILE`, `koha:poll`). */
  source: string;
}

export interface ApplyChangesResult {
  /** The version made, or null when the list did not change (the same delta again, or only unlisted members). */
  version: MemberVersion | null;
  /** The version current afterwards (null only while there is no list at all). */
  current: MemberVersion | null;
  diff: ListDiff;
  /** Members the changes left off the branches' list, held at central (not registered for open access, not staff). */
  unlisted: number;
}

/** What the API may change on one member (a block at the desk, a renewal…). */
export interface MemberPatch {
  blocked?: boolean | undefined;
  blockedUntil?: string | null | undefined;
  expires?: string | null | undefined;
  openAccess?: boolean | undefined;
  staff?: boolean | undefined;
  /** An open-access PIN's hash (policies/pin.ts), null to remove it: set through `setPin`, which hashes it. */
  pinHash?: string | null | undefined;
}

export interface MemberChangeResult {
  version: MemberVersion | null;
  current: MemberVersion;
  /** The member's pseudonym at central. */
  person: string;
  /** Whether the branches' list holds the member now. */
  listed: boolean;
}

export type DeskLinkOutcome =
  | { outcome: 'unknown-member' | 'card-taken' }
  | { outcome: 'linked' | 'already'; version: MemberVersion | null; person: string; listed: boolean };

export type SiteListStatus = 'current' | 'behind' | 'no-list' | 'unknown';

export interface SiteMembersView {
  site: string;
  online: boolean;
  /** The version the branch reports in its state (null: none, or no state yet). */
  version: number | null;
  count: number | null;
  updatedAt: string | null;
  status: SiteListStatus;
  /** Versions behind the current one (null when not known). */
  behind: number | null;
  transfer: TransferView | null;
}

export interface CentralMembersDeps {
  db: Database;
  /** Where the list lives: PostgreSQL's store when central has one (store.postgres), else the SQLite file's (`db`). */
  store?: MemberStore | undefined;
  key: Buffer;
  config: CentralMembersConfig;
  prefix: string;
  link: MembersLink;
  /** Central's signing key: announcements, chunks and refusals go out signed (docs/members.md). */
  signingKey: CentralSigningKey;
  clock: { now(): Date };
  logger: Logger;
  hooks?: PublisherHooks | undefined;
  /** Central's own pseudonym for a card (a secret only central holds), so its audit matches no branch's events. */
  pseudonym: (cardHash: Buffer) => string;
  /**
   * Whether this instance publishes the list: of several central instances only the leader announces and answers
   * branches (central/cluster/leader.ts), so that a branch never gets two answers. Default: always.
   */
  leads?: (() => boolean) | undefined;
}

export class CentralMembers {
  readonly store: MemberStore;
  readonly keyId: string;
  readonly publisher: MembersPublisher;
  private readonly hasher: (normalisedId: string) => Buffer;
  private readonly log: Logger;
  private queue: Promise<unknown> = Promise.resolve();
  /** PINs set through the API, hashed a few at a time so a flood cannot take the cores the broker and API need. */
  private readonly pinSlots = new HashSlots({ concurrent: 1, queued: 8 });
  private readonly timers: NodeJS.Timeout[] = [];
  private stopped = false;

  constructor(private readonly deps: CentralMembersDeps) {
    this.store = deps.store ?? new SqliteMemberStore(deps.db);
    this.keyId = deploymentKeyId(deps.key);
    this.hasher = createCardHasher(deps.key);
    this.log = deps.logger.child({ module: 'members' });
    this.publisher = new MembersPublisher({
      members: this.store,
      prefix: deps.prefix,
      keyId: this.keyId,
      chunkSize: deps.config.chunkSize,
      link: deps.link,
      signingKey: deps.signingKey,
      clock: deps.clock,
      logger: this.log,
      hooks: deps.hooks,
    });
  }

  start(): void {
    const every = (ms: number, fn: () => void): void => {
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    // Again every so often: its `at` tells branches that the list they hold was still current then.
    every(this.deps.config.announceEveryMinutes * 60_000, () => void this.announce());
    // A version made by `oag central members import` in another process is announced when it is noticed.
    // So is one made through another central instance on the same PostgreSQL database.
    every(this.deps.config.pollSeconds * 1000, () => void this.announceWhenNewer());
    void this.announce();
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.splice(0)) clearInterval(t);
  }

  private async announceWhenNewer(): Promise<void> {
    try {
      const current = await this.store.current();
      if (current !== null && current.version !== this.publisher.lastAnnouncement?.version) await this.announce();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not read the member list\'s current version; will try again');
    }
  }

  /** Publishes the current version now (on start, on every connect, after every change). */
  async announce(): Promise<void> {
    if (this.stopped || this.deps.leads?.() === false) return;
    try {
      await this.publisher.announce();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not announce the member list; will try again');
    }
  }

  handleRequest(site: string, payload: Buffer): void {
    if (this.stopped || this.deps.leads?.() === false) return;
    void this.publisher.handleRequest(site, payload);
  }

  /** Imports an LMS export as the new list (all or nothing) and announces the version it made. */
  importFile(file: string, options: { onProgress?: (p: LmsImportProgress) => void; source?: string } = {}): Promise<LmsImportSummary> {
    return this.importWith(
      (common) => importLmsCsv(this.store, file, { ...common, onProgress: options.onProgress }),
      options.source,
      (s) => ({ count: s.count, added: s.added, changed: s.changed, removed: s.removed, rejected: s.rejectedCount, notRegistered: s.notRegistered }),
      'member export imported',
    );
  }

  /**
   * Sets (or with null removes) a member's open-access PIN, typed by the member on the library's website or at a
   * desk: hashed at once on the thread pool, a few at a time (HashingBusyError past that), and distributed with the
   * member's row as any change is. The PIN itself is neither stored nor logged. Throws as `change` does.
   */
  async setPin(cardNumber: string, pin: string | null, actor: string): Promise<MemberChangeResult> {
    const pinHash = pin === null ? null : await this.pinSlots.run(() => hashPinAsync(pin));
    return this.change(cardNumber, { pinHash }, actor);
  }

  /**
   * The card hash a phone token names (docs/phone-credential.md), hashed at once, and central's pseudonym for the
   * audit; `listed`: whether the branches' list holds the member (a token for one it does not is refused at the door).
   * Throws CardIdError for an unusable number, UnknownCardError for a card central does not know.
   */
  async phoneTokenCard(cardNumber: string): Promise<{ cardHash: Buffer; person: string; listed: boolean }> {
    const cardHash = this.hasher(normaliseCardId(cardNumber));
    const listed = (await this.store.fields(cardHash)) !== undefined;
    if (!listed && (await this.store.unlistedFields(cardHash)) === undefined) throw new UnknownCardError();
    return { cardHash, person: this.deps.pseudonym(cardHash), listed };
  }

  /**
   * Changes one member (by card number, hashed at once), whether on the branches' list or held off it by central
   * (`branchList: registered`). Registering one (open access, or staff) puts them on the list, unregistering takes
   * them off: a new version, announced at once; null when the list did not change. `actor` is who asked, as
   * central's audit names them (`user:alice`); `person` is the member's pseudonym; `listed`, whether the branches'
   * list holds them now. The change is the member's, so it reaches every card of theirs: a card UID from the
   * library system's export names its member, and a block or a PIN given through any one holds for all.
   */
  change(cardNumber: string, patch: MemberPatch, actor: string): Promise<MemberChangeResult> {
    // Normalised and hashed before anything else happens to it; throws CardIdError for an unusable number.
    const tapped = this.hasher(normaliseCardId(cardNumber));
    return this.changeCard(tapped, patch, actor, `api:${actor}`);
  }

  /**
   * `change` by a card's hash (a branch's desk names the member by one), the version's source given: the one body
   * of both. Throws UnknownCardError, and OtherKeyError while the list was made with another deployment key.
   */
  changeCard(tapped: Buffer, patch: MemberPatch, actor: string, source: string): Promise<MemberChangeResult> {
    return this.serial(async () => {
      const { member: cardHash, cards } = await this.store.credentials(tapped);
      const old = await this.store.heldFields(cardHash);
      if (old === undefined) throw new UnknownCardError();
      const member: Member = { ...parseMemberFields(old) };
      if (patch.blocked !== undefined) {
        member.blocked = patch.blocked;
        if (!patch.blocked) member.blockedUntil = null;
      }
      if (patch.blockedUntil !== undefined) member.blockedUntil = patch.blockedUntil;
      if (patch.expires !== undefined) member.expires = patch.expires;
      if (patch.openAccess !== undefined) member.openAccess = patch.openAccess;
      if (patch.staff !== undefined) member.staff = patch.staff;
      if (patch.pinHash !== undefined) member.pinHash = patch.pinHash;
      const listed = onBranchList(this.deps.config.branchList, member);
      const fields = memberFieldsText({ cardHash, ...member });
      const { version } = await this.store.applyChanges(
        cards.map((card) => ({ cardHash: card, fields, listed })),
        { keyId: this.keyId, source, at: this.deps.clock.now(), keepVersions: this.deps.config.keepVersions },
      );
      const person = this.deps.pseudonym(cardHash);
      // A PIN's hash is as secret as the PIN (10^4 to 10^8 guesses): the log says only that one was set.
      const { pinHash, ...shown } = patch;
      this.log.info({ actor, person, version: version?.version ?? null, listed, patch: pinHash === undefined ? shown : { ...shown, pin: pinHash === null ? 'removed' : 'set' } }, 'member changed');
      if (version !== null) await this.announce();
      return { version, current: (await this.store.current())!, person, listed };
    });
  }

  /**
   * Links a card tapped at `site`'s desk to the member `tapped` (any card of theirs) names: it opens doors as them
   * from the next version, and the library system's imports keep it while the member exists (member-store.ts).
   * Refused (no version) when central holds no such member or the card is another member's; `already` when it is
   * this member's. Throws OtherKeyError while the list was made with another deployment key.
   */
  linkDeskCard(tapped: Buffer, card: Buffer, site: string, actor: string): Promise<DeskLinkOutcome> {
    return this.serial(async () => {
      const meta = { keyId: this.keyId, source: `desk:${actor}`, at: this.deps.clock.now(), keepVersions: this.deps.config.keepVersions };
      const result = await this.store.linkDeskCard(tapped, card, site, meta);
      if (!('member' in result)) return { outcome: result.outcome };
      const person = this.deps.pseudonym(result.member);
      this.log.info({ actor, person, version: result.version?.version ?? null, listed: result.listed, outcome: result.outcome }, 'card linked at a desk');
      if (result.version !== null) await this.announce();
      return { outcome: result.outcome, version: result.version, person, listed: result.listed };
    });
  }

  /**
   * Applies changes from the library system (a delta file, a poller) as ONE new version, announced at once, in one
   * transaction. Rows are absolute, so the same changes twice make no second version. Each card is hashed at once
   * (throws CardIdError, which never holds the number, for an unusable one); `branchList: registered` moves a member
   * between the list and members_unlisted as `change` does, and a deleted member leaves both. A delta that would
   * take more than `members.import.maxRemovedFraction` of the list away throws TooManyRemovalsError, changing nothing.
   */
  applyChanges(changes: readonly MemberDeltaChange[], meta: ApplyChangesMeta): Promise<ApplyChangesResult> {
    // Hashed before anything else happens to them; normalising again is harmless for rows lms-row.ts read.
    const hashed = storedChanges(changes, (card) => this.hasher(normaliseCardId(card)), this.deps.config.branchList);
    return this.serial(async () => {
      const started = performance.now();
      // The PIN central holds is read in the serial turn (applyMemberUpdates), so a PIN set just before is the one kept.
      const { version, diff, refused } = await this.store.applyMemberUpdates(
        hashed.changes,
        { keyId: this.keyId, source: meta.source, at: this.deps.clock.now(), keepVersions: this.deps.config.keepVersions },
        removalGuard(this.deps.config.import.maxRemovedFraction),
      );
      if (refused.length > 0) {
        // Pseudonyms only: the library system's record of these members gives a card to two of them.
        const members = refused.map((r) => this.deps.pseudonym(hashed.changes[r.index]!.cardHash));
        this.log.warn({ source: meta.source, members }, 'member changes left out: a card UID they give is another member\'s; the library system must give it to one');
      }
      this.log.info(
        { source: meta.source, version: version?.version ?? null, changes: changes.length, added: diff.added, changed: diff.changed, removed: diff.removed, unlisted: hashed.unlisted, refused: refused.length, ms: Math.round(performance.now() - started) },
        'member changes applied',
      );
      if (version !== null) await this.announce();
      return { version, current: await this.store.current(), diff, unlisted: hashed.unlisted };
    });
  }

  /** A delta file (lms-delta.ts) as one version, announced at once; throws LmsImportError when it is refused. */
  importDeltaFile(file: string, options: { source?: string } = {}): Promise<LmsDeltaSummary> {
    return this.importWith(
      (common) => importLmsDelta(this.store, file, common),
      options.source,
      (s) => ({ count: s.count, added: s.added, changed: s.changed, removed: s.removed, deleted: s.deleted, rejected: s.rejectedCount }),
      'member delta imported',
    );
  }

  /** A file import in the serial turn, with the deployment's mapping, key and list rules; logged, and announced when it made a version. */
  private importWith<S extends { version: number; created: boolean }>(
    run: (common: Omit<LmsImportOptions, 'onProgress' | 'hashWorkerFromBytes'>) => Promise<S>,
    source: string | undefined,
    figures: (summary: S) => Record<string, number>,
    message: string,
  ): Promise<S> {
    return this.serial(async () => {
      const started = performance.now();
      const { config } = this.deps;
      const summary = await run({ mapping: config.import, hasher: this.hasher, keyId: this.keyId, branchList: config.branchList, now: this.deps.clock.now(), keepVersions: config.keepVersions, source });
      this.log.info({ version: summary.version, created: summary.created, ...figures(summary), ms: Math.round(performance.now() - started) }, message);
      if (summary.created) await this.announce();
      return summary;
    });
  }

  /** Each branch against the current version, from the state it last reported and the transfers central sees. */
  async sites(rows: readonly SiteRow[]): Promise<SiteMembersView[]> {
    const current = await this.store.current();
    const transfers = this.publisher.transfers();
    return rows.map((row) => {
      const list = row.state?.memberList ?? null;
      const version = list?.version ?? null;
      let status: SiteListStatus;
      if (row.state === null) status = 'unknown';
      else if (version === null) status = 'no-list';
      else if (current !== null && version === current.version) status = 'current';
      else status = current === null ? 'unknown' : 'behind';
      return {
        site: row.id,
        online: row.online,
        version,
        count: list?.count ?? null,
        updatedAt: list?.updatedAt ?? null,
        status,
        behind: current !== null && version !== null ? Math.max(0, current.version - version) : null,
        transfer: transfers.get(row.id) ?? null,
      };
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
