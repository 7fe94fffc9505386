// The alert rules' versions at central. Each save that validates becomes a new version, and every older one is kept
// (who saved it, when): going back is saving an old one again. A document that does not validate changes nothing,
// so the rules in force stay the last good ones.
import type { Database as Db, Statement } from 'better-sqlite3';
import { ActorSchema } from '../../policies/contract/common.js';
import { AlertRules, emptyRules, parseRulesText, validateRules, type AlertRulesDoc } from './rules.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS alert_rule_versions (
  version INTEGER PRIMARY KEY,
  -- the document as the administrator wrote it (JSON), defaults left out
  doc TEXT NOT NULL,
  actor TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
`;

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

interface Row {
  version: number;
  doc: string;
  actor: string;
  created_ms: number;
}

/** How many older versions are tried when the newest no longer reads (a rule this release refuses). */
const FALL_BACK_VERSIONS = 20;

export class AlertRuleVersions {
  private rules: AlertRules;
  private readonly q: {
    insert: Statement<[string, string, number]>;
    newest: Statement<[number], Row>;
    byVersion: Statement<[number], Row>;
    latest: Statement<[], { v: number | null }>;
  };

  constructor(
    private readonly db: Db,
    private readonly options: { timezone: string; logger?: { error(obj: object, msg: string): void } },
  ) {
    db.exec(SCHEMA);
    this.q = {
      insert: db.prepare('INSERT INTO alert_rule_versions (doc, actor, created_ms) VALUES (?, ?, ?)'),
      newest: db.prepare('SELECT * FROM alert_rule_versions ORDER BY version DESC LIMIT ?'),
      byVersion: db.prepare('SELECT * FROM alert_rule_versions WHERE version = ?'),
      latest: db.prepare('SELECT max(version) AS v FROM alert_rule_versions'),
    };
    this.rules = this.load();
  }

  /** The rules in force. */
  current(): AlertRules {
    return this.rules;
  }

  /** A parsed document (a JSON body). */
  save(input: unknown, options: SaveOptions): SaveOutcome {
    return this.commit(input, validateRules(input), options);
  }

  /** YAML or JSON text (an uploaded file, an edit box). */
  saveText(text: string | Uint8Array, options: SaveOptions, filename?: string): SaveOutcome {
    const parsed = parseRulesText(text, filename);
    // Stored as the text's JSON reading: one form in the table, whatever it was written in.
    return this.commit(parsed.ok ? parsed.input : null, parsed, options);
  }

  /** Newest first. */
  versions(limit = 50): RulesVersionInfo[] {
    return this.q.newest.all(Math.min(Math.max(1, Math.floor(limit)), 1000)).map((r) => ({ version: r.version, actor: r.actor, at: new Date(r.created_ms).toISOString() }));
  }

  /** One version's document as it was saved. */
  version(version: number): (RulesVersionInfo & { doc: unknown }) | null {
    const row = this.q.byVersion.get(version);
    if (!row) return null;
    return { version: row.version, actor: row.actor, at: new Date(row.created_ms).toISOString(), doc: JSON.parse(row.doc) as unknown };
  }

  private commit(input: unknown, parsed: { ok: true; value: AlertRulesDoc } | { ok: false; errors: string[] }, options: SaveOptions): SaveOutcome {
    const actor = ActorSchema.safeParse(options.actor);
    if (!actor.success) return { ok: false, code: 'invalid', errors: ['actor: must be 1 to 64 characters'] };
    if (!parsed.ok) return { ok: false, code: 'invalid', errors: parsed.errors };
    return this.db.transaction((): SaveOutcome => {
      const latest = this.q.latest.get()?.v ?? 0;
      if (options.basedOn !== undefined && options.basedOn !== latest) {
        return { ok: false, code: 'conflict', errors: [`basedOn: the rules were changed since version ${options.basedOn} (now version ${latest}): load them again`] };
      }
      const version = Number(this.q.insert.run(JSON.stringify(input), actor.data, options.at.getTime()).lastInsertRowid);
      this.rules = new AlertRules(parsed.value, version, this.options.timezone);
      return { ok: true, version, rules: this.rules };
    })();
  }

  private load(): AlertRules {
    for (const row of this.q.newest.all(FALL_BACK_VERSIONS)) {
      const parsed = validateRules(JSON.parse(row.doc) as unknown);
      if (parsed.ok) return new AlertRules(parsed.value, row.version, this.options.timezone);
      this.options.logger?.error({ version: row.version, errors: parsed.errors.slice(0, 10) }, 'alerts: a saved rules version no longer reads; using an older one');
    }
    return emptyRules(this.options.timezone);
  }
}
