import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { CentralBus } from '../../../central/bus.js';
import { buildHttp } from '../../../central/http/server.js';
import { Ingest } from '../../../central/ingest.js';
import type { CommandOutcome } from '../../../central/link.js';
import { NotConnectedError } from '../../../central/link.js';
import { CentralStore } from '../../../central/store.js';
import { topics } from '../../../policies/contract/index.js';

export class FakeLink {
  connected = true;
  policies: Array<{ site: string; doc: unknown }> = [];
  commands: Array<{ site: string; command: string; actor: string; text?: string | undefined }> = [];
  answer: CommandOutcome['status'] | 'refuse' = 'answered';

  async publishPolicy(site: string, doc: unknown): Promise<void> {
    if (!this.connected) throw new NotConnectedError();
    this.policies.push({ site, doc });
  }
  async sendCommand(site: string, req: { command: string; actor: string; text?: string | undefined }): Promise<CommandOutcome> {
    if (!this.connected) throw new NotConnectedError();
    this.commands.push({ site, ...req });
    const id = randomUUID();
    if (this.answer === 'timeout') return { status: 'timeout', id };
    if (this.answer === 'refuse') return { status: 'answered', id, reply: { ok: false, error: 'not in lockdown', id } };
    return { status: 'answered', id, reply: { ok: true, id } };
  }
}

export function centralParts(now = new Date('2025-06-02T09:30:00.000Z')) {
  const clock = { now: () => now, set: (d: Date) => (now = d) };
  const store = new CentralStore(':memory:');
  const bus = new CentralBus();
  const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
  const ingest = new Ingest({ prefix: 'oa/v1', store, bus, clock, logger });
  const publish = (site: string, kind: Exclude<keyof ReturnType<typeof topics>, 'root'>, payload: unknown, retain = false): void =>
    ingest.handle({ topic: topics('oa/v1', site)[kind], payload: Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)), retain });
  return { clock, store, bus, logger, ingest, publish };
}

export async function centralApp(now?: Date) {
  const parts = centralParts(now);
  const link = new FakeLink();
  const app = await buildHttp({ ...parts, link, timezone: 'Europe/London' });
  return { ...parts, link, app };
}
