// One central instance for the ingest floor bench (scripts/bench/ingest-floor.ts), in a process of its own as
// `oag central` runs: its CPU is its own, and three instances are three event loops, not one. It takes its config
// over IPC, starts, answers with its address and a viewer's token for /api/stats, answers "commits" with how ingest
// grouped its commits, and closes on "close".
// The fault tests' cluster (test/helpers/central-cluster.ts) sends a job instead: the config with a log file (its
// lines say which instance leads) and the token's role (an administrator's saves the alert rules).
import pino from 'pino';
import type { IngestCommitStats } from '../../central/ingest.js';

export type CentralChildMessage = { ready: true; httpUrl: string; token: string } | { error: string };
/** The answer to "commits". */
export type CentralCommitsMessage = { commits: IngestCommitStats };

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
  let closing = false;
  const close = (): void => {
    if (closing) return;
    closing = true;
    void c.close().finally(() => process.exit(0));
  };
  // "commits": how ingest grouped its commits so far (the bench prints the batch sizes); anything else closes it.
  process.on('message', (m: unknown) => {
    if (m === 'commits') process.send!({ commits: c.ingestCommits() } satisfies CentralCommitsMessage);
    else close();
  });
  // Its parent gone (a test run stopped): no central left behind holding ports and sessions.
  process.once('disconnect', close);
}

if (process.send !== undefined && process.argv.includes('--central')) {
  process.once('message', (config: unknown) => {
    run(config).catch((err: unknown) => {
      process.send!({ error: err instanceof Error ? err.message : String(err) } satisfies CentralChildMessage, () => process.exit(1));
    });
  });
}
