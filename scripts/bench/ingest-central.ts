// One central instance for the ingest floor bench (scripts/bench/ingest-floor.ts), in a process of its own as
// `oag central` runs: its CPU is its own, and three instances are three event loops, not one. It takes its config
// over IPC, starts, answers with its address and a viewer's token for /api/stats, and closes on "close".
// The fault tests' cluster (test/helpers/central-cluster.ts) sends a job instead: the config with a log file (its
// lines say which instance leads) and the token's role (an administrator's saves the alert rules).
import pino from 'pino';

export type CentralChildMessage = { ready: true; httpUrl: string; token: string } | { error: string };

/** What the child may be sent instead of a bare config. */
export interface CentralChildJob {
  config: unknown;
  /** Central's log, at info, written as it goes (nothing lost to a kill -9). Default: none. */
  logFile?: string;
  tokenRole?: 'viewer' | 'operator' | 'administrator';
}

const isJob = (m: unknown): m is CentralChildJob => typeof m === 'object' && m !== null && 'config' in m;

async function run(message: unknown): Promise<void> {
  const job: CentralChildJob = isJob(message) ? message : { config: message };
  const { parseCentralConfig, startCentral } = await import('../../central/main.js');
  const logger = job.logFile === undefined ? pino({ level: 'silent' }) : pino({ level: 'info' }, pino.destination({ dest: job.logFile, sync: true }));
  const c = await startCentral(parseCentralConfig(job.config), { clock: { now: () => new Date() }, logger });
  // Named by the process: instances on one database share their accounts and tokens.
  const made = await c.auth.tokens.create({ name: `bench-${process.pid}`, role: job.tokenRole ?? 'viewer', expiresDays: 1 }, 'bench');
  process.send!({ ready: true, httpUrl: c.httpUrl, token: made.token } satisfies CentralChildMessage);
  process.once('message', () => {
    void c.close().finally(() => process.exit(0));
  });
  // Its parent gone (a test run stopped): no central left behind holding ports and sessions.
  process.once('disconnect', () => {
    void c.close().finally(() => process.exit(0));
  });
}

if (process.send !== undefined && process.argv.includes('--central')) {
  process.once('message', (config: unknown) => {
    run(config).catch((err: unknown) => {
      process.send!({ error: err instanceof Error ? err.message : String(err) } satisfies CentralChildMessage, () => process.exit(1));
    });
  });
}
