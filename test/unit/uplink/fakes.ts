// A gateway as the uplink sees it: an outbox in memory, a state, commands that record what they were asked.
import pino from 'pino';
import type { Command, GatewayEvent } from '../../../policies/contract/index.js';
import type { UplinkConfigInput, UplinkDeps, OutboxRow } from '../../../gateway/uplink/types.js';
import { UplinkConfigSchema } from '../../../gateway/uplink/types.js';
import { testSigningKey } from '../../helpers/signing-keys.js';
import { until as waitUntil } from '../../helpers/until.js';
import { stateFixture } from '../contract/fixtures.js';

export class MemoryOutbox {
  rows: Array<OutboxRow & { published: boolean }> = [];
  markCalls = 0;

  append(event: GatewayEvent): void {
    this.rows.push({ id: event.id, at: event.at, type: event.type, payload: event, published: false });
  }
  unpublished(limit: number): OutboxRow[] {
    return this.rows.filter((r) => !r.published).slice(0, limit);
  }
  markPublished(ids: string[]): void {
    this.markCalls++;
    const set = new Set(ids);
    for (const r of this.rows) if (set.has(r.id)) r.published = true;
  }
  get pending(): number {
    return this.rows.filter((r) => !r.published).length;
  }
}

export class FakeGateway {
  outbox = new MemoryOutbox();
  state = stateFixture();
  executed: Array<{ cmd: Command; actor: string }> = [];
  offers: unknown[] = [];
  policyVersion = 1;
  private listeners = new Set<() => void>();
  now = new Date('2025-06-02T09:30:00.000Z');

  setState(patch: Partial<typeof this.state>): void {
    this.state = { ...this.state, ...patch };
    for (const l of this.listeners) l();
  }

  /** Central's public key is the test key unless `config` names others. */
  deps(config: Omit<UplinkConfigInput, 'centralKeys'> & Partial<Pick<UplinkConfigInput, 'centralKeys'>>, site = 'town'): UplinkDeps {
    return {
      config: UplinkConfigSchema.parse({ reconnectPeriodMs: 200, reconnectMaxMs: 400, centralKeys: [testSigningKey().publicFile], ...config }),
      site,
      outbox: this.outbox,
      state: {
        current: () => this.state,
        onChange: (l) => {
          this.listeners.add(l);
          return () => this.listeners.delete(l);
        },
      },
      commands: {
        execute: async (cmd, actor) => {
          this.executed.push({ cmd, actor });
          return cmd.command === 'lockdown-off' ? { ok: false, error: 'not in lockdown' } : { ok: true };
        },
      },
      policy: {
        offer: (doc) => {
          this.offers.push(doc);
          const v = (doc as { version?: unknown } | null)?.version;
          if (typeof v !== 'number') return { ok: false, errors: ['version: required'] };
          this.policyVersion = v;
          return { ok: true, version: v };
        },
      },
      clock: { now: () => this.now },
      logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
    };
  }
}

/** The uplink tests' wait: the shared `until`, at their shorter deadline and poll. */
export function until(check: () => boolean, what: string, timeoutMs = 8000): Promise<void> {
  return waitUntil(check, what, timeoutMs, 10);
}
