// One central instance for the ingest floor bench (scripts/bench/ingest-floor.ts), in a process of its own as
// `oag central` runs: its CPU is its own, and three instances are three event loops, not one. It takes its config
// over IPC, starts, answers with its address and a viewer's token for /api/stats, and closes on "close".
import pino from 'pino';

export type CentralChildMessage = { ready: true; httpUrl: string; token: string } | { error: string };

async function run(config: unknown): Promise<void> {
  const { parseCentralConfig, startCentral } = await import('../../central/main.js');
  const c = await startCentral(parseCentralConfig(config), { clock: { now: () => new Date() }, logger: pino({ level: 'silent' }) });
  const made = await c.auth.tokens.create({ name: 'bench', role: 'viewer', expiresDays: 1 }, 'bench');
  process.send!({ ready: true, httpUrl: c.httpUrl, token: made.token } satisfies CentralChildMessage);
  process.once('message', () => {
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
