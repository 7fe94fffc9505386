// `oag check-config FILE`: validate a policy or a gateway config before it is deployed. The kind is told by
// content: a policy has `schedule`. Errors are `path: reason`, one per line on stderr; exit 1 when invalid.
// `--policy FILE` with a gateway config: check that policy (one about to be sent from central) against this branch
// instead of its policy file.
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import type { GatewayConfig } from '../../gateway/config.js';
import { readTextFile } from '../../kit/read-bounded.js';
import { MAX_POLICY_BYTES, parseDocumentText, parsePolicy, unknownPolicyNames } from '../../policies/index.js';
import { processIo, readPolicyFile, type CommandIo } from './schedule.js';

interface GatewayConfigModule {
  checkGatewayConfigText(text: string, file?: string, baseDir?: string): GatewayConfig;
  checkReferencedFiles(config: GatewayConfig, env?: NodeJS.ProcessEnv): string[];
  httpExposureProblem(http: GatewayConfig['http']): string | undefined;
  doorLocks(config: Pick<GatewayConfig, 'lock' | 'hardware'>): Array<{ id: string }>;
}

export interface CheckConfigOptions {
  /** With a gateway config: the policy to check against it, in place of its policyFile. */
  policy?: string | undefined;
}

function isConfigError(error: unknown): error is Error & { errors: string[] } {
  return error instanceof Error && Array.isArray((error as { errors?: unknown }).errors);
}

export async function runCheckConfig(file: string, io: CommandIo, options: CheckConfigOptions = {}): Promise<number> {
  // A policy and a gateway config have the same limit (256 KiB); the kind is known only once the file is parsed.
  const read = readTextFile(file, { what: file, maxBytes: MAX_POLICY_BYTES });
  if (!read.ok) {
    io.err(`${read.error}\n`);
    return 1;
  }
  const text = read.text;
  const doc = parseDocumentText(text, file);
  if (!doc.ok) {
    for (const line of doc.errors) io.err(`${line}\n`);
    return 1;
  }
  const value = doc.value;
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && 'schedule' in value) {
    if (options.policy !== undefined) {
      io.err(`${file}: --policy checks a policy against a gateway config, and this is a policy\n`);
      return 1;
    }
    // A language the announcements have no words for is refused by the schema itself (docs/sound.md).
    const parsed = parsePolicy(value);
    if (!parsed.ok) {
      for (const line of parsed.errors) io.err(`${line}\n`);
      return 1;
    }
    io.out(`ok: policy ${parsed.policy.site} v${parsed.policy.version}\n`);
    return 0;
  }
  return checkGatewayConfig(text, file, io, options.policy);
}

/** A gateway config: checked by the gateway's own schema, then the policy file it names. */
async function checkGatewayConfig(text: string, file: string, io: CommandIo, policyOption: string | undefined): Promise<number> {
  // The gateway config checker (hardware, uplink and SIP2 schemas) is loaded only here: checking a policy needs none of it.
  let gateway: GatewayConfigModule;
  try {
    gateway = (await import('../../gateway/config.js')) as GatewayConfigModule;
  } catch (error) {
    io.err(`${file}: not a policy (no schedule), and the gateway config checker could not load: ${(error as Error).message}\n`);
    return 1;
  }
  let config: GatewayConfig;
  try {
    config = gateway.checkGatewayConfigText(text, file, dirname(resolve(file)));
  } catch (error) {
    if (!isConfigError(error)) throw error;
    for (const line of error.errors) io.err(`${line}\n`);
    return 1;
  }
  const policyFile = policyOption ?? config.policyFile;
  const label = policyOption === undefined ? 'policyFile' : 'policy';
  const policy = await readPolicyFile(policyFile, {
    out: io.out,
    err: (line) => io.err(`${label} (${policyFile}): ${line}`),
  });
  if (!policy) return 1;
  if (policy.site !== config.site) {
    io.err(`${label}: policy is for site "${policy.site}", this gateway is "${config.site}"\n`);
    return 1;
  }
  const unknown = unknownPolicyNames(policy, { doors: gateway.doorLocks(config).map(({ id }) => id), outputs: config.hardware.switched.map(({ id }) => id) });
  if (unknown.length > 0) {
    for (const line of unknown) io.err(`${label}: ${line}\n`);
    return 1;
  }
  // Not an error: the branch takes such a policy and the section does nothing there (gateway/extensions/intruder-alarm.ts).
  if (policy.intruderAlarm !== undefined && config.hardware.intruderAlarm === undefined) {
    io.out(`warning: ${label}: intruderAlarm: this gateway has no hardware.intruderAlarm wired, so the section does nothing here\n`);
  }
  // The files it names, as the service would read them, and a console it would keep off: the running gateway would
  // only raise these as alarms.
  const exposure = gateway.httpExposureProblem(config.http);
  const fileErrors = [...(exposure === undefined ? [] : [exposure]), ...gateway.checkReferencedFiles(config, process.env)];
  if (fileErrors.length > 0) {
    for (const line of fileErrors) io.err(`${line}\n`);
    return 1;
  }
  io.out(`ok: gateway ${config.site}, policy ${policy.site} v${policy.version}\n`);
  return 0;
}

export function register(program: Command): void {
  program
    .command('check-config')
    .description('validate a policy file or a gateway config; exits 1 with the errors, one per line')
    .argument('<file>', 'policy or gateway config (YAML or JSON)')
    .option('--policy <file>', 'with a gateway config: check this policy against it instead of its policyFile')
    .action(async (file: string, options: { policy?: string }) => {
      process.exitCode = await runCheckConfig(file, processIo, { policy: options.policy });
    });
}
