// The policy in force, where it came from, and the rules for replacing it. No number a sender picks can pin the
// branch: central's versions come only from central (its signed messages, checked by the uplink before they get
// here), and a console edit takes no number of its own. Three layers:
//   - the base: central's newest version once central has sent one, before that the policy file;
//   - a branch override made in the console, recorded ON TOP OF the base in force (who, when, over which version),
//     in force while that base is: central's next version supersedes it;
//   - nothing else: a version from central is taken only if it is newer than central's last one.
// Saved atomically (one settings row) before it is applied; a refused offer leaves everything as it was.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { DISPLAY_NAME_MAX } from '../../policies/contract/index.js';
import { MAX_POLICY_VERSION, parsePolicy, unknownPolicyNames } from '../../policies/index.js';
import type { Policy } from '../../policies/index.js';
import type { EventBus } from './bus.js';
import type { Clock } from './clock.js';
import type { EventLog } from './event-log.js';
import { RefusalTally } from '../../kit/refusal-tally.js';
import type { RefusalCount } from '../../kit/refusal-tally.js';
import type { PolicyState } from './state.js';
import type { Store } from '../store/index.js';
import { describeStorageError } from './storage-faults.js';

/** Where the policy in force came from; `console` is a branch override made in the console (the contract's name). */
export type PolicySource = 'file' | 'console' | 'central';

/** The base an override was made over: central's version N, or the policy file (before central sent any). */
export interface PolicyBase {
  source: 'central' | 'file';
  version: number;
}

export interface PolicyOverride {
  by: string;
  /** ISO instant. */
  at: string;
  over: PolicyBase;
}

export interface PolicyStatus {
  source: PolicySource;
  /** The version in force: central's, the file's, or (for an override) the one it was made over. */
  version: number;
  /** Central's newest version this branch holds; null before central sent one. */
  central: number | null;
  /** The override in force, or null. */
  override: PolicyOverride | null;
  /** A short digest of all of the above and the document: an editor saves only over what it loaded. */
  revision: string;
}

export type OfferResult =
  | { ok: true; version: number; changed: boolean }
  /** `recorded` false: the refusal was counted into one already recorded this interval (log it the same way). */
  | { ok: false; errors: string[]; recorded: boolean };

const SavedSchema = z.object({
  central: z.unknown().nullable(),
  override: z
    .object({
      by: z.string().min(1).max(200),
      at: z.iso.datetime(),
      over: z.object({ source: z.enum(['central', 'file']), version: z.int().min(0).max(MAX_POLICY_VERSION) }),
      document: z.unknown(),
    })
    .nullable(),
});
type Saved = z.output<typeof SavedSchema>;

/** What releases before 1.5 saved: one document and where it came from. */
const LegacySavedSchema = z.object({ source: z.enum(['file', 'console', 'central']), document: z.unknown() });

const SETTINGS_KEY = 'policy';

type RefusalReason = 'invalid' | 'other-site' | 'older' | 'replayed' | 'unsaved';

interface RefusedPolicy {
  source: PolicySource;
  error: string;
}

/** One refused-policy event per kind of refusal in this time; the others are counted into one more. */
const REFUSAL_INTERVAL_MS = 10 * 60_000;

export class PolicyHolder {
  private central: Policy | null = null;
  private overrideDoc: { meta: PolicyOverride; policy: Policy } | null = null;
  private readonly refusals: RefusalTally<RefusedPolicy>;

  constructor(
    /**
     * `doors`: the branch's door ids (`main` first), which a booking's `doors` must name; `outputs`: its switched
     * outputs' ids (`hardware.switched`), which the policy's `outputs` must name.
     */
    private readonly deps: { site: string; doors: readonly string[]; outputs?: readonly string[]; store: Store; events: EventLog; bus: EventBus; clock: Clock },
    private readonly file: Policy,
  ) {
    this.refusals = new RefusalTally({ clock: deps.clock, intervalMs: REFUSAL_INTERVAL_MS, onSummary: (summary) => this.recordSummary(summary) });
    let saved: unknown;
    try {
      saved = deps.store.settings.get<unknown>(SETTINGS_KEY);
    } catch {
      // An unreadable store: the file's policy is in force, and the store writer raises the storage alarm.
      saved = undefined;
    }
    this.restore(saved);
  }

  get current(): Policy {
    return this.overrideInForce()?.policy ?? this.base().policy;
  }

  get source(): PolicySource {
    return this.overrideInForce() !== null ? 'console' : this.base().source;
  }

  get status(): PolicyStatus {
    const override = this.overrideInForce()?.meta ?? null;
    const facts = { source: this.source, version: this.current.version, central: this.central?.version ?? null, override };
    const revision = createHash('sha256').update(JSON.stringify({ ...facts, policy: this.current })).digest('hex').slice(0, 16);
    return { ...facts, revision };
  }

  /** What the gateway's state says: the version and source in force, and who made an override, when. */
  get reported(): PolicyState {
    const override = this.overrideInForce()?.meta;
    const facts = { version: this.current.version, source: this.source };
    return override === undefined ? facts : { ...facts, override: { by: override.by.slice(0, DISPLAY_NAME_MAX), at: override.at } };
  }

  /** A version from central: taken when it is valid, for this site and newer than central's last; supersedes an override. */
  offer(document: unknown, source: 'central'): OfferResult {
    const result = this.validate(document);
    if (!result.ok) return this.refuse(source, result.reason, versionOf(document), result.errors);
    const policy = result.policy;
    const last = this.central;
    if (last !== null && policy.version <= last.version) {
      if (policy.version === last.version && JSON.stringify(policy) === JSON.stringify(last)) {
        // The same document again (a retained message re-delivered on reconnect): nothing to do, and an override
        // made over it stays in force.
        return { ok: true, version: policy.version, changed: false };
      }
      const error =
        policy.version === last.version
          ? `version: ${policy.version} is central's version already applied, with other content; central numbers each version once`
          : `version: ${policy.version} is older than central's version ${last.version}, already applied`;
      return this.refuse(source, policy.version === last.version ? 'replayed' : 'older', policy.version, [error]);
    }
    const saved = this.save({ central: policy, override: null }, source, policy.version);
    if (saved !== undefined) return saved;
    this.central = policy;
    this.overrideDoc = null;
    return this.applied(source, policy.version);
  }

  /**
   * A console edit: the draft (a policy without a version) becomes a branch override over the base in force. It
   * takes the base's version as its label, never a number of its own, so it cannot outrank central's next version.
   */
  override(draft: unknown, by: { actor: string; at: Date }): OfferResult {
    const base = this.base();
    const draftObject = typeof draft === 'object' && draft !== null && !Array.isArray(draft) ? draft : {};
    // Parsed with a version the schema accepts (the closed fallback's base is 0), then labelled with the base's.
    const result = this.validate({ ...draftObject, version: Math.max(1, base.policy.version) });
    if (!result.ok) return this.refuse('console', result.reason, null, result.errors);
    const policy: Policy = { ...result.policy, version: base.policy.version };
    const meta: PolicyOverride = { by: by.actor, at: by.at.toISOString(), over: { source: base.source, version: base.policy.version } };
    const saved = this.save({ central: this.central, override: { ...meta, document: policy } }, 'console', policy.version);
    if (saved !== undefined) return saved;
    this.overrideDoc = { meta, policy };
    return this.applied('console', policy.version);
  }

  /** Writes out the refusals still only counted (the core's stop). */
  stop(): void {
    this.refusals.stop();
  }

  private base(): { policy: Policy; source: 'central' | 'file' } {
    return this.central !== null ? { policy: this.central, source: 'central' } : { policy: this.file, source: 'file' };
  }

  /** The override, while the base it was made over is still the base in force. */
  private overrideInForce(): { meta: PolicyOverride; policy: Policy } | null {
    const override = this.overrideDoc;
    if (override === null) return null;
    const base = this.base();
    return override.meta.over.source === base.source && override.meta.over.version === base.policy.version ? override : null;
  }

  private restore(saved: unknown): void {
    const current = SavedSchema.safeParse(saved);
    if (current.success) {
      this.central = this.parseSaved(current.data.central);
      const override = current.data.override;
      const policy = override === null ? null : this.parseSaved({ ...(override.document as object), version: Math.max(1, override.over.version) });
      if (override !== null && policy !== null) {
        this.overrideDoc = { meta: { by: override.by, at: override.at, over: override.over }, policy: { ...policy, version: override.over.version } };
      }
      return;
    }
    // Saved by an older release: central's document is central's base; a console edit had a number of its own,
    // so it becomes an override over the file that central's next version supersedes.
    const legacy = LegacySavedSchema.safeParse(saved);
    if (!legacy.success) return;
    const policy = this.parseSaved(legacy.data.document);
    if (policy === null) return;
    if (legacy.data.source === 'central') this.central = policy;
    if (legacy.data.source === 'console') {
      const over: PolicyBase = { source: 'file', version: this.file.version };
      this.overrideDoc = { meta: { by: 'console', at: this.deps.clock.now().toISOString(), over }, policy: { ...policy, version: over.version } };
    }
  }

  /** A saved document, or null when it no longer passes (a version past the bound, another site): never in force. */
  private parseSaved(document: unknown): Policy | null {
    if (document === null || document === undefined) return null;
    // Its doors were checked when it was taken. A door taken out of the config since must not bring back an older
    // policy: the booking for it opens nothing until central sends a policy without it.
    const parsed = this.validate(document, { checkDoors: false });
    return parsed.ok ? parsed.policy : null;
  }

  /** Saves before applying; a refusal result when the store fails. */
  private save(value: Saved, source: PolicySource, version: number): OfferResult | undefined {
    try {
      this.deps.store.settings.set(SETTINGS_KEY, value);
      return undefined;
    } catch (error) {
      // Applied only once saved: a policy that would silently go back to the old one after a restart is worse
      // than one refused now, which its sender sees and sends again.
      return this.refuse(source, 'unsaved', version, [`(root): cannot save the policy: ${describeStorageError(error)}`]);
    }
  }

  private applied(source: PolicySource, version: number): OfferResult {
    this.deps.events.record('policy', { result: 'applied', source, version });
    this.deps.bus.emit('policy-applied', { version, source });
    return { ok: true, version, changed: true };
  }

  /** One event per kind of refusal per interval; the others are counted into a summary (kit/refusal-tally.ts). */
  private refuse(source: PolicySource, reason: RefusalReason, version: number | null, errors: string[]): OfferResult {
    const error = errorLine(errors);
    const recorded = this.refusals.admit(`${source}/${reason}`, { source, error });
    if (recorded) this.deps.events.record('policy', { result: 'refused', source, version, error });
    return { ok: false, errors, recorded };
  }

  private recordSummary({ count, since, last }: RefusalCount<RefusedPolicy>): void {
    const more = `${count} more ${count === 1 ? 'policy' : 'policies'} from ${last.source} refused for the same reason since ${since.toISOString()}`;
    this.deps.events.record('policy', { result: 'refused', source: last.source, version: null, error: errorLine([`${more}; the last: ${last.error}`]) });
  }

  private validate(document: unknown, { checkDoors = true } = {}): { ok: true; policy: Policy } | { ok: false; reason: RefusalReason; errors: string[] } {
    const parsed = parsePolicy(document);
    if (!parsed.ok) return { ok: false, reason: 'invalid', errors: parsed.errors };
    if (parsed.policy.site !== this.deps.site) {
      return { ok: false, reason: 'other-site', errors: [`site: "${parsed.policy.site}" is not this gateway's site ("${this.deps.site}")`] };
    }
    const unknown = checkDoors ? this.unknownNames(parsed.policy) : [];
    if (unknown.length > 0) return { ok: false, reason: 'invalid', errors: unknown };
    return parsed;
  }

  /**
   * What a valid policy names that this branch lacks: a booking's door, a switched output (each a line with its
   * path). The console's preview asks too, so a draft says so before it is saved.
   */
  unknownNames(policy: Policy): string[] {
    return unknownPolicyNames(policy, { doors: this.deps.doors, outputs: this.deps.outputs ?? [] });
  }
}

/** The refused document's version as the refusal event may carry it: a whole number of 0 or more, else none. */
function versionOf(document: unknown): number | null {
  const version = (document as { version?: unknown } | null)?.version;
  return typeof version === 'number' && Number.isSafeInteger(version) && version >= 0 ? version : null;
}

/** The errors in one line short enough for the contract's event (central refuses a longer one, and the record). */
function errorLine(errors: string[]): string {
  const line = errors.join('; ');
  return line.length <= MAX_ERROR_CHARS ? line : `${line.slice(0, MAX_ERROR_CHARS - 40)}… (${errors.length} errors in all)`;
}

const MAX_ERROR_CHARS = 1000;
