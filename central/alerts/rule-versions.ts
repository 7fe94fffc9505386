// The alert rules' versions at central. Each save that validates becomes a new version, and every older one is kept
// (who saved it, when): going back is saving an old one again. A document that does not validate changes nothing,
// so the rules in force stay the last good ones.
import type { AlertsStore } from './alerts-store.js';
import { ActorSchema } from '../../policies/contract/common.js';
import { AlertRules, emptyRules, parseRulesText, validateRules, type AlertRulesDoc } from './rules.js';

export interface RulesVersionInfo {
  version: number;
  actor: string;
  at: string;
}

export type SaveOutcome =
  | { ok: true; version: number; rules: AlertRules }
  | { ok: false; code: 'invalid' | 'conflict'; errors: string[] };

export interface SaveOptions {
  actor: string;
  at: Date;
  /**
   * The version the editor started from: when another administrator saved since, the save is refused rather than
   * silently undoing their change.
   */
  basedOn?: number | undefined;
}

/** How many older versions are tried when the newest no longer reads (a rule this release refuses). */
const FALL_BACK_VERSIONS = 20;

export class AlertRuleVersions {
  private rules: AlertRules;
  /** The newest version in the store when the rules were last read (it may be one that no longer reads). */
  private newest = 0;

  /** The rules are read at the first `refresh` (`open` does it). */
  constructor(
    private readonly store: AlertsStore,
    private readonly options: { timezone: string; logger?: { error(obj: object, msg: string): void } },
  ) {
    this.rules = emptyRules(options.timezone);
  }

  /** The versions in `store`, the rules in force read from them. */
  static async open(store: AlertsStore, options: { timezone: string; logger?: { error(obj: object, msg: string): void } }): Promise<AlertRuleVersions> {
    const versions = new AlertRuleVersions(store, options);
    versions.rules = await versions.load();
    return versions;
  }

  /**
   * The rules in force as the store has them now: another instance may have saved a version since (read again only
   * when the newest version changed).
   */
  async refresh(): Promise<AlertRules> {
    const newest = (await this.store.ruleVersions(1))[0]?.version ?? 0;
    if (newest !== this.newest) this.rules = await this.load();
    return this.rules;
  }

  /** The rules in force. */
  current(): AlertRules {
    return this.rules;
  }

  /** A parsed document (a JSON body). */
  save(input: unknown, options: SaveOptions): Promise<SaveOutcome> {
    return this.commit(input, validateRules(input), options);
  }

  /** YAML or JSON text (an uploaded file, an edit box). */
  saveText(text: string | Uint8Array, options: SaveOptions, filename?: string): Promise<SaveOutcome> {
    const parsed = parseRulesText(text, filename);
    // Stored as the text's JSON reading: one form in the table, whatever it was written in.
    return this.commit(parsed.ok ? parsed.input : null, parsed, options);
  }

  /** Newest first. */
  async versions(limit = 50): Promise<RulesVersionInfo[]> {
    return (await this.store.ruleVersions(Math.min(Math.max(1, Math.floor(limit)), 1000))).map((r) => ({ version: r.version, actor: r.actor, at: new Date(r.created_ms).toISOString() }));
  }

  /** One version's document as it was saved. */
  async version(version: number): Promise<(RulesVersionInfo & { doc: unknown }) | null> {
    const row = await this.store.ruleVersion(version);
    if (!row) return null;
    return { version: row.version, actor: row.actor, at: new Date(row.created_ms).toISOString(), doc: JSON.parse(row.doc) as unknown };
  }

  private async commit(input: unknown, parsed: { ok: true; value: AlertRulesDoc } | { ok: false; errors: string[] }, options: SaveOptions): Promise<SaveOutcome> {
    const actor = ActorSchema.safeParse(options.actor);
    if (!actor.success) return { ok: false, code: 'invalid', errors: ['actor: must be 1 to 64 characters'] };
    if (!parsed.ok) return { ok: false, code: 'invalid', errors: parsed.errors };
    const saved = await this.store.saveRuleVersion(JSON.stringify(input), actor.data, options.at.getTime(), options.basedOn);
    if (!saved.ok) {
      return { ok: false, code: 'conflict', errors: [`basedOn: the rules were changed since version ${options.basedOn} (now version ${saved.latest}): load them again`] };
    }
    this.rules = new AlertRules(parsed.value, saved.version, this.options.timezone);
    this.newest = saved.version;
    return { ok: true, version: saved.version, rules: this.rules };
  }

  private async load(): Promise<AlertRules> {
    const rows = await this.store.ruleVersions(FALL_BACK_VERSIONS);
    this.newest = rows[0]?.version ?? 0;
    for (const row of rows) {
      const parsed = validateRules(JSON.parse(row.doc) as unknown);
      if (parsed.ok) return new AlertRules(parsed.value, row.version, this.options.timezone);
      this.options.logger?.error({ version: row.version, errors: parsed.errors.slice(0, 10) }, 'alerts: a saved rules version no longer reads; using an older one');
    }
    return emptyRules(this.options.timezone);
  }
}
