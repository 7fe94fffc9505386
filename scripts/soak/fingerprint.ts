// What "the gateway's state changed" means for the fuzz: a malformed input may be refused, and the refusal may be
// recorded, but nothing else about the branch may move. The fingerprint is
//   - GET /api/state without its timestamps (`at`, `modeSince`, `modeUntil`) and without the `policy-refused`
//     alarm (the documented answer to a refused policy from central),
//   - GET /api/health/detail: each part's name and state, and `healthy` (a part that failed is a change),
//   - the member list in force (version, count, hash) from the store,
//   - every event recorded since the last look, except the records of a refusal: access refused, a reader's
//     unreadable card, a policy or member list refused, a console sign-in refused, the policy-refused alarm.
// Both routes need credentials: the watch makes itself a staff API token in the gateway's store, once.
import Database from 'better-sqlite3';
import { addApiToken } from '../../gateway/console/index.js';

export interface Fingerprint {
  state: string;
  health: string;
  memberList: string;
  /** Events that are not refusals, by type (and action or state), since the previous fingerprint. */
  changes: Record<string, number>;
  /** Refusals recorded since the previous fingerprint (expected; counted for the report). */
  refusals: number;
  newestId: string;
}

interface EventRow {
  id: string;
  type: string;
  data: string;
}

/** A refusal's record, or the kind of change an event is. */
export function classify(row: EventRow): { refusal: true } | { refusal: false; kind: string } {
  let data: Record<string, unknown> = {};
  try {
    data = JSON.parse(row.data) as Record<string, unknown>;
  } catch {
    return { refusal: false, kind: `${row.type}:unreadable` };
  }
  if (row.type === 'access' && data.decision === 'refused') return { refusal: true };
  if (row.type === 'reader' && typeof data.error === 'string') return { refusal: true };
  if ((row.type === 'policy' || row.type === 'members') && data.result === 'refused') return { refusal: true };
  if (row.type === 'staff' && data.action === 'login-failed') return { refusal: true };
  if (row.type === 'alarm' && data.alarm === 'policy-refused' && data.state === 'raised') return { refusal: true };
  const detail = data.action ?? data.state ?? data.what ?? data.decision ?? data.result ?? data.change;
  return { refusal: false, kind: detail === undefined ? row.type : `${row.type}:${String(detail)}` };
}

export class GatewayWatch {
  private newestId = '';
  private token: string | undefined;

  constructor(
    private readonly url: string,
    private readonly storePath: string,
  ) {}

  /** Starts counting events from the newest one now in the store. */
  reset(): void {
    this.newestId = this.read((db) => (db.prepare('SELECT max(id) AS id FROM events').get() as { id: string | null }).id ?? '');
  }

  async take(): Promise<Fingerprint> {
    this.token ??= addApiToken({ path: this.storePath }, 'soak-watch', 'staff', 30).token;
    const headers = { authorization: `Bearer ${this.token}` };
    const [stateResponse, healthResponse] = await Promise.all([fetch(`${this.url}/api/state`, { headers }), fetch(`${this.url}/api/health/detail`, { headers })]);
    if (!stateResponse.ok || !healthResponse.ok) throw new Error(`the gateway's state or health: ${stateResponse.status}, ${healthResponse.status}`);
    const state = (await stateResponse.json()) as Record<string, unknown> & { alarms?: string[] };
    const health = (await healthResponse.json()) as { healthy?: boolean; parts?: Array<{ name: string; state: string }> };
    const { at: _at, modeSince: _since, modeUntil: _until, ...rest } = state;
    const stable = { ...rest, alarms: (state.alarms ?? []).filter((a) => a !== 'policy-refused') };
    const since = this.newestId;
    const { list, rows } = this.read((db) => ({
      list: db.prepare('SELECT version, count, hash FROM member_list').get() ?? null,
      rows: db.prepare('SELECT id, type, data FROM events WHERE id > ? ORDER BY id').all(since) as EventRow[],
    }));
    const changes: Record<string, number> = {};
    let refusals = 0;
    for (const row of rows) {
      const c = classify(row);
      if (c.refusal) refusals += 1;
      else changes[c.kind] = (changes[c.kind] ?? 0) + 1;
    }
    if (rows.length > 0) this.newestId = rows[rows.length - 1]!.id;
    return {
      state: JSON.stringify(stable),
      health: JSON.stringify({ healthy: health.healthy, parts: (health.parts ?? []).map((p) => `${p.name}:${p.state}`) }),
      memberList: JSON.stringify(list),
      changes,
      refusals,
      newestId: this.newestId,
    };
  }

  private read<T>(fn: (db: Database.Database) => T): T {
    const db = new Database(this.storePath, { readonly: true, fileMustExist: true });
    try {
      return fn(db);
    } finally {
      db.close();
    }
  }
}

/** What differs between two fingerprints, one line per difference (empty: no change). */
export function difference(before: Fingerprint, after: Fingerprint): string[] {
  const out: string[] = [];
  if (before.state !== after.state) out.push(`state: ${diffJson(before.state, after.state)}`);
  if (before.health !== after.health) out.push(`health: ${before.health} → ${after.health}`);
  if (before.memberList !== after.memberList) out.push(`member list: ${before.memberList} → ${after.memberList}`);
  for (const [kind, count] of Object.entries(after.changes)) out.push(`${count} ${kind} event(s)`);
  return out;
}

function diffJson(a: string, b: string): string {
  const x = JSON.parse(a) as Record<string, unknown>;
  const y = JSON.parse(b) as Record<string, unknown>;
  const keys = new Set([...Object.keys(x), ...Object.keys(y)]);
  return [...keys]
    .filter((k) => JSON.stringify(x[k]) !== JSON.stringify(y[k]))
    .map((k) => `${k} ${JSON.stringify(x[k])} → ${JSON.stringify(y[k])}`)
    .join('; ');
}
