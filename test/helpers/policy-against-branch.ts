// A policy file against a branch's hardware, both ways it is checked: by the gateway at start (a policy it cannot use
// leaves it closed with the policy-refused alarm) and by `oag check-config` beforehand.
import { join } from 'node:path';
import { pino } from 'pino';
import { parseGatewayConfig, type GatewayConfigInput } from '../../gateway/config.js';
import { startGateway } from '../../gateway/main.js';
import { runCheckConfig } from '../../scripts/commands/check-config.js';

/**
 * Starts a gateway on `dir`/policy.yaml with `hardware`, and stops it again: the policy version it ran with (0: none)
 * and what its policy-refused alarm said.
 */
export async function startOnPolicyFile(dir: string, hardware: GatewayConfigInput['hardware']): Promise<{ version: number; refused: string }> {
  const config = parseGatewayConfig({
    site: 'town-central',
    policyFile: join(dir, 'policy.yaml'),
    store: { path: join(dir, 's.sqlite') },
    http: { enabled: false },
    log: { level: 'silent' },
    hardware,
  });
  const running = await startGateway(config, { env: { OAG_DEPLOYMENT_KEY: 'ab'.repeat(32) }, logger: pino({ level: 'silent' }) });
  try {
    const alarm = running.store.events.query({ types: ['alarm'], limit: 10 }).find((e) => e.data.alarm === 'policy-refused');
    return { version: running.gateway.policies.current.version, refused: String(alarm?.data.detail) };
  } finally {
    await running.stop();
  }
}

/** `oag check-config FILE` (with `--policy` when given): its exit code and the lines it wrote to each stream. */
export async function checkConfig(file: string, options: { policy?: string } = {}): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCheckConfig(file, { out: (line: string) => void out.push(line), err: (line: string) => void err.push(line) }, options);
  return { code, out, err };
}
