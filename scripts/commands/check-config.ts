// `oag check-config FILE`: validate a policy or a gateway config before it is deployed. The kind is told by
// content: a policy has `schedule`. Errors are `path: reason`, one per line on stderr; exit 1 when invalid.
// `--policy FILE` with a gateway config: check that policy (one about to be sent from central) against this branch
// instead of its policy file. `--central FILE`: central's config, its signing key and the files it names.
// `--require-key`: check the deployment key as the service would read it at start (OAG_DEPLOYMENT_KEY, which systemd
// sets from /etc/oag/secrets.env, or deploymentKeyFile); install-pi.sh runs it so with the service's environment.
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
  loadDeploymentKey(config: GatewayConfig, env?: NodeJS.ProcessEnv): Buffer;
}

export interface CheckConfigOptions {
  /** With a gateway config: the policy to check against it, in place of its policyFile. */
  policy?: string | undefined;
  /** The file is central's config. */
  central?: boolean | undefined;
  /** A missing or unusable deployment key is an error, as it is when the service starts. */
  requireKey?: boolean | undefined;
}

function isConfigError(error: unknown): error is Error & { errors: string[] } {
  return error instanceof Error && Array.isArray((error as { errors?: unknown }).errors);
}

export async function runCheckConfig(file: string, io: CommandIo, options: CheckConfigOptions = {}): Promise<number> {
  if (options.central === true) {
    if (options.policy !== undefined) {
      io.err('--policy checks a policy against a gateway config, not central\'s\n');
      return 1;
    }
    return checkCentralConfig(file, io, options.requireKey === true);
  }
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
  return checkGatewayConfig(text, file, io, options.policy, options.requireKey === true);
}

/** A gateway config: checked by the gateway's own schema, then the policy file it names. */
async function checkGatewayConfig(text: string, file: string, io: CommandIo, policyOption: string | undefined, requireKey: boolean): Promise<number> {
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
  // checkReferencedFiles reads a key file only when the environment has no key; the service reads either.
  const keyChecked = config.deploymentKeyFile !== undefined && (process.env.OAG_DEPLOYMENT_KEY ?? '') === '';
  if (requireKey && !keyChecked) {
    try {
      gateway.loadDeploymentKey(config, process.env);
    } catch (error) {
      if (!isConfigError(error)) throw error;
      fileErrors.push(...error.errors);
    }
  }
  if (fileErrors.length > 0) {
    for (const line of fileErrors) io.err(`${line}\n`);
    return 1;
  }
  io.out(`ok: gateway ${config.site}, policy ${policy.site} v${policy.version}\n`);
  return 0;
}

/** Central's config: its schema, then what central reads at start (the signing key, the broker's files, the key). */
async function checkCentralConfig(file: string, io: CommandIo, requireKey: boolean): Promise<number> {
  const { CentralConfigError, EMBEDDED_PASSWORD_FILE_REQUIRED, loadCentralConfig } = await import('../../central/config.js');
  const { loadSigningKey } = await import('../../central/signing-key.js');
  const { DeploymentKeyError, loadCentralKey } = await import('../../central/members/key.js');
  const { readFileBytes } = await import('../../kit/read-bounded.js');
  let config;
  try {
    config = loadCentralConfig(file);
  } catch (error) {
    if (!(error instanceof CentralConfigError)) throw error;
    for (const line of error.errors) io.err(`${line}\n`);
    return 1;
  }
  const errors: string[] = [];
  if (config.broker === undefined && config.embedded === undefined) errors.push(`embedded.passwordFile: ${EMBEDDED_PASSWORD_FILE_REQUIRED}`);
  let kid: string | undefined;
  try {
    kid = loadSigningKey(config).kid;
  } catch (error) {
    if (!(error instanceof Error && error.name === 'SigningKeyError')) throw error;
    errors.push(error.message);
  }
  const check = (setting: string, path: string | undefined): void => {
    if (path === undefined) return;
    const read = readFileBytes(path, { what: `${setting} (${path})`, maxBytes: 1024 * 1024 });
    if (!read.ok) errors.push(read.error);
  };
  check('embedded.passwordFile', config.embedded?.passwordFile);
  check('embedded.tls.cert', config.embedded?.tls?.cert);
  check('embedded.tls.key', config.embedded?.tls?.key);
  check('broker.passwordFile', config.broker?.passwordFile);
  check('broker.tls.ca', config.broker?.tls?.ca);
  check('broker.tls.cert', config.broker?.tls?.cert);
  check('broker.tls.key', config.broker?.tls?.key);
  let store = config.store.path;
  if (config.store.postgres !== undefined) {
    const { CentralDatabaseError, readPostgresUrl } = await import('../../central/history/open-history.js');
    const { describePgUrl } = await import('../../central/pg/pool.js');
    try {
      store = describePgUrl(readPostgresUrl(config.store.postgres.urlFile));
    } catch (error) {
      if (!(error instanceof CentralDatabaseError)) throw error;
      errors.push(error.message);
    }
  }
  try {
    const key = loadCentralKey(config, process.env);
    if (key === null && requireKey) errors.push('OAG_DEPLOYMENT_KEY: not set (and no deploymentKeyFile in the config): central would distribute no member list');
  } catch (error) {
    if (!(error instanceof DeploymentKeyError)) throw error;
    errors.push(error.message);
  }
  if (errors.length > 0) {
    for (const line of errors) io.err(`${line}\n`);
    return 1;
  }
  const broker = config.broker === undefined ? `embedded broker ${config.embedded!.host}:${config.embedded!.port}` : `broker ${config.broker.url}`;
  io.out(`ok: central, ${broker}, signing key ${kid!}, store ${store}\n`);
  return 0;
}

export function register(program: Command): void {
  program
    .command('check-config')
    .description("validate a policy file, a gateway config or (--central) central's config; exits 1 with the errors, one per line")
    .argument('<file>', 'policy, gateway config or central config (YAML or JSON)')
    .option('--policy <file>', 'with a gateway config: check this policy against it instead of its policyFile')
    .option('--central', "the file is central's config: check it, its signing key and the broker files it names")
    .option('--require-key', 'the deployment key must be there and usable, as at the service\'s start (OAG_DEPLOYMENT_KEY or deploymentKeyFile)')
    .action(async (file: string, options: { policy?: string; central?: boolean; requireKey?: boolean }) => {
      process.exitCode = await runCheckConfig(file, processIo, { policy: options.policy, central: options.central, requireKey: options.requireKey });
    });
}
