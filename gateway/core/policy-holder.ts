// The policy in force, where it came from, and the one rule for replacing it: a valid document for this site
// with a newer version. Applied atomically (one settings row); a refused one leaves the old one in force.
import { parsePolicy } from '../../policies/index.js';
import type { Policy } from '../../policies/index.js';
import type { EventBus } from './bus.js';
import type { EventLog } from './event-log.js';
import type { Store } from '../store/index.js';
import { describeStorageError } from './storage-faults.js';

export type PolicySource = 'file' | 'console' | 'central';

interface SavedPolicy {
  source: PolicySource;
  document: unknown;
}

export type OfferResult = { ok: true; version: number; changed: boolean } | { ok: false; errors: string[] };

export class PolicyHolder {
  private policy: Policy;
  private from: PolicySource;

  constructor(
    private readonly deps: { site: string; store: Store; events: EventLog; bus: EventBus },
    filePolicy: Policy,
  ) {
    this.policy = filePolicy;
    this.from = 'file';
    // A newer version saved from the console or central outranks the file after a restart.
    let saved: SavedPolicy | undefined;
    try {
      saved = deps.store.settings.get<SavedPolicy>('policy');
    } catch {
      // An unreadable store: the file's policy is in force, and the store writer raises the storage alarm.
      saved = undefined;
    }
    if (saved !== undefined) {
      const parsed = parsePolicy(saved.document);
      if (parsed.ok && parsed.policy.site === deps.site && parsed.policy.version > filePolicy.version) {
        this.policy = parsed.policy;
        this.from = saved.source;
      }
    }
  }

  get current(): Policy {
    return this.policy;
  }

  get source(): PolicySource {
    return this.from;
  }

  offer(document: unknown, source: PolicySource): OfferResult {
    const result = this.validate(document);
    if (!result.ok) {
      this.deps.events.record('policy', { result: 'refused', source, version: versionOf(document), error: errorLine(result.errors) });
      return result;
    }
    const policy = result.policy;
    if (policy.version === this.policy.version && JSON.stringify(policy) === JSON.stringify(this.policy)) {
      // The same document again (a retained message re-delivered on reconnect): nothing to do.
      return { ok: true, version: policy.version, changed: false };
    }
    if (policy.version <= this.policy.version) {
      const errors = [`version: ${policy.version} is not newer than the version in force (${this.policy.version})`];
      this.deps.events.record('policy', { result: 'refused', source, version: policy.version, error: errors[0] });
      return { ok: false, errors };
    }
    try {
      this.deps.store.settings.set('policy', { source, document: policy } satisfies SavedPolicy);
    } catch (error) {
      // Applied only once saved: a policy that would silently go back to the old one after a restart is worse
      // than one refused now, which its sender sees and sends again.
      const errors = [`(root): cannot save the policy: ${describeStorageError(error)}`];
      this.deps.events.record('policy', { result: 'refused', source, version: policy.version, error: errors[0] });
      return { ok: false, errors };
    }
    this.policy = policy;
    this.from = source;
    this.deps.events.record('policy', { result: 'applied', source, version: policy.version });
    this.deps.bus.emit('policy-applied', { version: policy.version, source });
    return { ok: true, version: policy.version, changed: true };
  }

  private validate(document: unknown): { ok: true; policy: Policy } | { ok: false; errors: string[] } {
    const parsed = parsePolicy(document);
    if (!parsed.ok) return parsed;
    if (parsed.policy.site !== this.deps.site) {
      return { ok: false, errors: [`site: "${parsed.policy.site}" is not this gateway's site ("${this.deps.site}")`] };
    }
    return parsed;
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
