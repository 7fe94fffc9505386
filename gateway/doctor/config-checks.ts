// The config and the policy file, read as the service reads them (gateway/config.ts, gateway/policy-file.ts): what
// check-config refuses, said with what to do. A config the service would still run (an optional section left out)
// is a failure here, and the other checks go on with what the service would take.
import { unknownPolicyNames } from '../../policies/index.js';
import { ConfigError, checkReferencedFiles, doorLocks, httpExposureProblem, loadGatewayConfig, loadGatewayConfigForService, type GatewayConfig } from '../config.js';
import { readPolicyFile } from '../policy-file.js';
import { fail, ok, type Finding } from './findings.js';

export interface ConfigCheck {
  findings: Finding[];
  /** The config the service would run with; undefined when it would not start at all. */
  config: GatewayConfig | undefined;
}

export function checkConfig(path: string, env: NodeJS.ProcessEnv): ConfigCheck {
  try {
    const config = loadGatewayConfig(path);
    return { config, findings: [ok('config.valid', 'config', `${path} is valid (site ${config.site})`), ...configDetails(config, path, env)] };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const unread = error.errors.length === 1 ? /^\(file\): (cannot read: .*|is a folder, not a file)$/.exec(error.errors[0]!)?.[1] : undefined;
    if (unread !== undefined) {
      return { config: undefined, findings: [fail('config.valid', 'config', `the config ${path} ${unread.replace(/^cannot read: /, 'cannot be read: ')}`, 'name the gateway\'s config, readable by this user: oag doctor --config /etc/oag/gateway.yaml')] };
    }
    const fix = `correct ${error.errors.length === 1 ? 'it' : 'them'} in ${path}, then check with: oag check-config ${path}`;
    const invalid = fail('config.valid', 'config', `${path} is invalid: ${error.errors.join('; ')}`, fix);
    try {
      const service = loadGatewayConfigForService(path);
      const left = service.dropped.map(({ section }) => section).join(', ');
      invalid.found += ` (the gateway runs without ${left}: the config-invalid alarm)`;
      return { config: service.config, findings: [invalid, ...configDetails(service.config, path, env)] };
    } catch {
      invalid.found += ' (the gateway does not start with it)';
      return { config: undefined, findings: [invalid] };
    }
  }
}

/** The files the config names and a console it would keep off; central's keys have a finding of their own. */
function configDetails(config: GatewayConfig, path: string, env: NodeJS.ProcessEnv): Finding[] {
  const problems = checkReferencedFiles(config, env).filter((line) => !line.startsWith('mqtt.centralKeys'));
  const exposure = httpExposureProblem(config.http);
  const findings: Finding[] = [];
  if (problems.length > 0) {
    findings.push(fail('config.files', 'config', `files the config names cannot be used: ${problems.join('; ')}`, `put each file in place (readable by the service's user), or correct its path in ${path}`));
  } else {
    findings.push(ok('config.files', 'config', 'every file the config names can be read'));
  }
  if (exposure !== undefined) {
    findings.push(fail('config.http', 'config', `${exposure.split(': set ')[0]}, so the gateway keeps the console off`, 'set http.tls { cert, key } for https, or http.behindProxy: true when a TLS proxy is the only way in, or keep http.host on 127.0.0.1'));
  }
  return findings;
}

export function checkPolicy(config: GatewayConfig): Finding[] {
  const file = config.policyFile;
  const parsed = readPolicyFile(file);
  const fix = `correct ${file} (oag check-config ${file} lists every error); until then the gateway runs the last version it saved, or stays closed`;
  if (!parsed.ok) return [fail('policy.valid', 'policy', `the policy file ${file} is unusable: ${parsed.errors.join('; ')}`, fix)];
  const policy = parsed.policy;
  if (policy.site !== config.site) {
    return [fail('policy.valid', 'policy', `the policy file ${file} is for site "${policy.site}", and this gateway is "${config.site}"`, `put this branch's policy in ${file} (its site: ${config.site})`)];
  }
  const unknown = unknownPolicyNames(policy, { doors: doorLocks(config).map(({ id }) => id), outputs: config.hardware.switched.map(({ id }) => id) });
  if (unknown.length > 0) return [fail('policy.valid', 'policy', `the policy file ${file} names what this branch lacks: ${unknown.join('; ')}`, fix)];
  return [ok('policy.valid', 'policy', `the policy file ${file} is valid (version ${policy.version})`)];
}
