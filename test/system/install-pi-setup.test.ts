// scripts/install-pi.sh taking a fresh machine to a valid branch or central without a question: the site, the uplink,
// the keys, the first accounts and the member list from options and files, and every config checked with
// `oag check-config` before anything is enabled. The plans are dry runs; the "real" runs are --config-only, rooted in
// a temp folder (--etc, --state-dir, --service-user root): the script refuses another root for anything that would
// touch packages, users or systemd, so nothing here reaches this machine's /etc, /opt or /var/lib.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';
import { requireBinary } from '../helpers/mosquitto.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const script = join(root, 'scripts', 'install-pi.sh');
const oag = join(root, 'bin', 'oag.js');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function installPi(args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const result = spawnSync('bash', [script, ...args], { encoding: 'utf8', timeout: 180_000, env: { ...process.env, ...env } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** `oag …` from the checkout, with the service's environment (the key from secrets.env). */
function oagCli(args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const result = spawnSync(process.execPath, [oag, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function actions(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('+ '))
    .map((l) => l.slice(2));
}

function mode(path: string): string {
  return (statSync(path).mode & 0o777).toString(8).padStart(4, '0');
}

function secretsEnv(conf: string): NodeJS.ProcessEnv {
  const key = /^OAG_DEPLOYMENT_KEY=(.*)$/m.exec(readFileSync(join(conf, 'secrets.env'), 'utf8'))?.[1];
  return { OAG_DEPLOYMENT_KEY: key };
}

/** Whether Mosquitto takes this login: CONNACK, or a refusal. */
function logsIn(port: number, username: string, password: string): Promise<boolean> {
  return new Promise((resolve) => {
    const client = connect(`mqtt://127.0.0.1:${port}`, { username, password, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000 });
    client.once('connect', () => client.end(true, () => resolve(true)));
    client.once('error', () => client.end(true, () => resolve(false)));
  });
}

/** Waits until something listens on the port (Mosquitto started), or fails after a few seconds. */
async function listening(port: number, alive: () => boolean): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (!alive()) throw new Error('mosquitto exited at start');
    const up = await new Promise<boolean>((resolve) => {
      const client = connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 1000 });
      client.once('connect', () => client.end(true, () => resolve(true)));
      // A refused anonymous login is a broker that is up.
      client.once('error', (error) => client.end(true, () => resolve(!/ECONNREFUSED/.test(String(error)))));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`mosquitto did not listen on ${port}`);
}

const KEY = 'a1'.repeat(32);
const realPaths = ['/etc/oag', '/opt/oag', '/var/lib/oag', '/etc/mosquitto/oag.passwd', '/etc/mosquitto/conf.d/oag.conf', '/etc/systemd/system/oag-gateway.service'];

describe('install-pi.sh: a branch and central set up from options', () => {
  let tmp: string;
  let etc: string;
  let prefix: string;
  let state: string;
  let realBefore: boolean[];

  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'oag-setup-'));
    etc = join(tmp, 'etc');
    prefix = join(tmp, 'opt');
    state = join(tmp, 'var');
    for (const d of [etc, prefix, state]) mkdirSync(d);
    realBefore = realPaths.map((p) => existsSync(p));
  });

  afterEach(() => {
    expect(realPaths.map((p) => existsSync(p))).toEqual(realBefore);
    rmSync(tmp, { recursive: true, force: true });
  });

  /** The examples with their stores in the temp state folder. */
  function examples(): { gateway: string; central: string } {
    const gateway = join(tmp, 'gateway.example.yaml');
    const central = join(tmp, 'central.example.yaml');
    writeFileSync(gateway, readFileSync(join(root, 'gateway', 'gateway.example.yaml'), 'utf8').replace('/var/lib/oag/', `${state}/`));
    writeFileSync(central, readFileSync(join(root, 'central', 'central.example.yaml'), 'utf8').replace('/var/lib/oag/', `${state}/`));
    return { gateway, central };
  }

  function secretFile(name: string, text: string): string {
    const path = join(tmp, name);
    writeFileSync(path, `${text}\n`, { mode: 0o600 });
    return path;
  }

  it('plans a branch: packages before npm ci, its site, uplink, key, manager and member list, checked before it is enabled, and no secret shown', () => {
    const brokerPassword = 'broker-pw-4c1d7e0f9a';
    const managerPassword = 'manager-pw-83b2c6d1e5';
    const publicKey = secretFile('central-public.pem', '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAtest\n-----END PUBLIC KEY-----');
    const args = [
      '--dry-run', '--prefix', prefix, '--etc', etc,
      '--site', 'riverside',
      '--central-url', 'mqtts://central.example.org:8883',
      '--broker-password-file', secretFile('broker.pw', brokerPassword),
      '--central-public-key', publicKey,
      '--deployment-key', secretFile('deployment.key', KEY),
      '--manager', 'anna', '--manager-password-file', secretFile('manager.pw', managerPassword),
      '--members-source', 'central',
    ];
    const { status, stdout, stderr } = installPi(args);
    expect(stderr).toBe('');
    expect(status).toBe(0);
    const run = actions(stdout);

    // Node is checked first; the packages that npm ci builds against come before it (gpiod kept).
    expect(stdout.indexOf('Node.js')).toBeLessThan(stdout.indexOf('System packages'));
    expect(stdout).toMatch(/System packages: .*pcscd .*libpcsclite-dev .*g\+\+ make python3 .*gpiod alsa-utils espeak-ng sox/);
    const ci = run.findIndex((a) => a.includes(' ci --no-audit'));
    const apt = run.findIndex((a) => a.includes('apt-get install'));
    if (apt >= 0) expect(apt).toBeLessThan(ci);

    // The site in both files, the uplink with the files beside it.
    expect(stdout).toContain('    | site: riverside\n');
    expect(stdout).not.toContain('    | site: town-central');
    expect(stdout).toContain('    | mqtt:\n    |   url: mqtts://central.example.org:8883\n    |   username: riverside\n');
    expect(stdout).toContain(`    |   passwordFile: ${etc}/oag/mqtt.password\n`);
    expect(stdout).toContain(`    |   centralKeys: [${etc}/oag/central-public.pem]\n`);
    expect(run).toContain(`install -m 0640 -o root -g oag ${join(tmp, 'broker.pw')} ${etc}/oag/mqtt.password`);
    expect(run).toContain(`install -D -m 0640 -o root -g oag /dev/stdin ${etc}/oag/central-public.pem`);
    expect(run).toContain(`install -D -m 0600 -o root -g root /dev/stdin ${etc}/oag/secrets.env`);

    // Checked as the service, with its key, before the manager is made and before anything is enabled.
    const check = run.indexOf(`runuser -u oag -- ${process.execPath} ${prefix}/oag/dist/scripts/oag.js check-config --require-key ${etc}/oag/gateway.yaml`);
    const manager = run.findIndex((a) => a.includes(' users add ') && a.endsWith('--username anna --role manager --password-stdin'));
    const enable = run.indexOf('systemctl enable oag-gateway.service');
    expect(check).toBeGreaterThan(run.findIndex((a) => a.endsWith(`${etc}/oag/gateway.yaml`)));
    expect(manager).toBeGreaterThan(check);
    expect(enable).toBeGreaterThan(manager);
    expect(stdout).toContain('Member list: from central');

    // No secret in the plan: not the key, not a password, not even on a command line.
    for (const secret of [KEY, brokerPassword, managerPassword]) expect(stdout).not.toContain(secret);
    expect(stdout).not.toContain('OAG_DEPLOYMENT_KEY=');
  });

  it('plans central: Mosquitto, the signing key, the ACL, the broker logins and the first administrator, checked before enabling', () => {
    const { status, stdout, stderr } = installPi(['--dry-run', '--prefix', prefix, '--etc', etc, '--central', '--no-gateway', '--admin', 'boss']);
    expect(stderr).toBe('');
    expect(status).toBe(0);
    const run = actions(stdout);
    const cli = `${process.execPath} ${prefix}/oag/dist/scripts/oag.js`;
    expect(stdout).toMatch(/System packages: .* mosquitto\n/);
    expect(run).toContain(`install -m 0640 -o root -g oag ${root}/central/central.example.yaml ${etc}/oag/central.yaml`);
    expect(run).toContain(`${cli} central signing-key ${etc}/oag/central-signing.key`);
    expect(run).toContain(`chmod 0640 ${etc}/oag/central-signing.key`);
    expect(run).toContain(`${cli} central mqtt-acl`);
    expect(run).toContain(`install -D -m 0644 -o root -g root /dev/stdin ${etc}/mosquitto/oag.acl`);
    expect(run).toContain(`${cli} central mqtt-passwd ${etc}/mosquitto/oag.passwd central --generate`);
    expect(stdout).toContain(`    | password_file ${etc}/mosquitto/oag.passwd\n`);
    expect(stdout).toContain('    | allow_anonymous false\n');
    // No branch here, so no branch login.
    expect(run.filter((a) => a.includes('mqtt-passwd'))).toHaveLength(1);
    const check = run.indexOf(`runuser -u oag -- ${cli} check-config --central --require-key ${etc}/oag/central.yaml`);
    const admin = run.indexOf(`runuser -u oag -- ${cli} central users add boss --role administrator --config ${etc}/oag/central.yaml`);
    const enable = run.indexOf('systemctl enable mosquitto.service oag-central.service');
    expect(check).toBeGreaterThan(run.findIndex((a) => a.endsWith('central-mqtt.password')));
    expect(admin).toBeGreaterThan(check);
    expect(enable).toBeGreaterThan(admin);
    // Central's broker password is a secret: its file's content is not shown.
    const at = stdout.indexOf(`${etc}/oag/central-mqtt.password\n`);
    expect(stdout.slice(at).split('\n')[1]).toBe('    | (secret: not shown)');
  });

  it('refuses, before changing anything, options that cannot make a working install', () => {
    const cases: Array<[string[], string]> = [
      [['--central-url', 'mqtts://c.example.org:8883'], '--central-url needs --central-public-key FILE'],
      [['--central-url', 'mqtts://c.example.org:8883', '--central-public-key', secretFile('pub.pem', 'x')], '--central-url needs --broker-password-file FILE'],
      [['--central-url', 'http://c.example.org'], '--central-url: must be an mqtt://'],
      [['--site', 'Town Library'], '--site: must be lower case letters'],
      [['--deployment-key', join(tmp, 'missing.key')], `no such file: ${join(tmp, 'missing.key')}`],
      [['--members-source', 'central'], '--members-source central needs --central-url'],
      [['--admin', 'boss'], '--admin makes central'],
      [['--central', '--no-gateway', '--manager', 'anna'], "are a branch's: not with --no-gateway"],
    ];
    for (const [args, message] of cases) {
      const { status, stderr, stdout } = installPi(['--config-only', '--etc', etc, '--prefix', prefix, '--state-dir', state, '--service-user', 'root', ...args]);
      expect(status, args.join(' ')).toBe(1);
      expect(stderr, args.join(' ')).toContain(message);
      expect(stdout).toBe('');
    }
    // Nothing written for any of them.
    expect(existsSync(join(etc, 'oag'))).toBe(false);
    // A real install (not --config-only) in another root than /etc is refused too.
    const elsewhere = installPi(['--etc', etc, '--state-dir', state]);
    expect(elsewhere.status).toBe(1);
    expect(elsewhere.stderr).toContain('--dry-run or --config-only');
  });

  it('writes a branch and central on one box that pass check-config, with the accounts, and keeps all of it on a second run', async () => {
    const ex = examples();
    const csv = join(tmp, 'members.csv');
    writeFileSync(csv, 'card_number,date_of_birth,expiry_date,blocked,blocked_until,open_access,staff,groups\n04A1B2C3D4,1980-01-01,2099-12-31,false,,true,false,\n04A1B2C3D5,1975-06-30,2099-12-31,false,,true,true,\n');
    const adminPassword = 'admin-pw-5e7c1a9b3d';
    const args = [
      '--config-only', '--etc', etc, '--prefix', prefix, '--state-dir', state, '--service-user', 'root',
      '--central', '--site', 'riverside', '--gateway-config', ex.gateway, '--central-config', ex.central,
      '--deployment-key', secretFile('deployment.key', KEY),
      '--manager', 'anna', '--members-source', csv,
      '--admin', 'boss', '--admin-password-file', secretFile('admin.pw', adminPassword),
    ];
    const first = installPi(args);
    expect(first.stderr).not.toMatch(/not enabling|error/i);
    expect(first.status).toBe(0);
    expect(first.stdout).toContain('ok: gateway riverside, policy riverside v1');
    expect(first.stdout).toMatch(/ok: central, broker mqtt:\/\/127\.0\.0\.1:1883, signing key [0-9a-f]{16}, store /);
    expect(first.stdout).toContain('nothing enabled (--config-only)');
    // The manager's password was made here and is printed once; the administrator's came from a file and is not.
    const managerPassword = /password of the console manager anna \(shown once, change it in the console\): (\S+)/.exec(first.stdout)?.[1];
    expect(managerPassword).toMatch(/^[0-9a-f]{24}$/);
    expect(first.stdout).not.toContain(adminPassword);
    expect(first.stdout + first.stderr).not.toContain(KEY);
    // The import's summary, and no card number in it.
    expect(first.stdout).toMatch(/2 members/);
    expect(first.stdout).not.toContain('04A1B2C3D4');

    const conf = join(etc, 'oag');
    // Readable by the service's group, written by root; the key and the signing key for root and the service only.
    for (const file of ['gateway.yaml', 'policy.yaml', 'central.yaml', 'mqtt.password', 'central-mqtt.password', 'central-public.pem', 'central-signing.key']) {
      expect(mode(join(conf, file)), file).toBe('0640');
    }
    expect(mode(join(conf, 'secrets.env'))).toBe('0600');
    expect(readFileSync(join(conf, 'secrets.env'), 'utf8')).toContain(`OAG_DEPLOYMENT_KEY=${KEY}\n`);
    expect(mode(conf)).toBe('0750');

    // What it wrote passes check-config again, as the services will read it.
    const env = secretsEnv(conf);
    const gateway = oagCli(['check-config', '--require-key', join(conf, 'gateway.yaml')], env);
    expect(gateway.stderr).toBe('');
    expect(gateway.stdout).toBe('ok: gateway riverside, policy riverside v1\n');
    const central = oagCli(['check-config', '--central', '--require-key', join(conf, 'central.yaml')], env);
    expect(central.stderr).toBe('');
    expect(central.status).toBe(0);
    // The branch's login is in Mosquitto's file, its password beside the gateway's config; central's too.
    const passwd = readFileSync(join(etc, 'mosquitto', 'oag.passwd'), 'utf8');
    expect(passwd).toMatch(/^central:\$7\$/m);
    expect(passwd).toMatch(/^riverside:\$7\$/m);
    expect(readFileSync(join(etc, 'mosquitto', 'oag.acl'), 'utf8')).toContain('pattern write oa/v1/sites/%u/events');
    // The public key the branch trusts is central's own.
    const pub = oagCli(['central', 'signing-key', '--public', join(conf, 'central-signing.key')]);
    expect(readFileSync(join(conf, 'central-public.pem'), 'utf8')).toBe(pub.stdout);

    // The accounts are there.
    const managers = oagCli(['users', 'list', '--config', join(conf, 'gateway.yaml'), '--json']);
    expect(JSON.parse(managers.stdout)).toEqual([expect.objectContaining({ username: 'anna', role: 'manager' })]);
    const admins = oagCli(['central', 'users', 'list', '--config', join(conf, 'central.yaml'), '--json']);
    expect(JSON.parse(admins.stdout)).toEqual([expect.objectContaining({ username: 'boss', role: 'administrator' })]);

    // Debian's Mosquitto takes the files as written (as its own user: the password file's group), central's and the
    // branch's logins with the passwords beside the configs, and no other.
    chmodSync(tmp, 0o755);
    const port = await freePort();
    const brokerConf = join(tmp, 'mosquitto.conf');
    writeFileSync(brokerConf, readFileSync(join(etc, 'mosquitto', 'conf.d', 'oag.conf'), 'utf8').replace('listener 1883 127.0.0.1', `listener ${port} 127.0.0.1`));
    const broker = spawn(requireBinary('mosquitto', 'mosquitto'), ['-c', brokerConf], { stdio: 'ignore' });
    try {
      await listening(port, () => broker.exitCode === null);
      expect(await logsIn(port, 'central', readFileSync(join(etc, 'oag', 'central-mqtt.password'), 'utf8').trim())).toBe(true);
      expect(await logsIn(port, 'riverside', readFileSync(join(etc, 'oag', 'mqtt.password'), 'utf8').trim())).toBe(true);
      expect(await logsIn(port, 'riverside', 'not-the-password')).toBe(false);
    } finally {
      broker.kill();
    }

    // Again: every file and account kept, no new password.
    const before = ['gateway.yaml', 'secrets.env', 'central-signing.key', 'mqtt.password', 'central-mqtt.password'].map((f) => readFileSync(join(conf, f), 'utf8'));
    const second = installPi(args.filter((a) => a !== '--members-source' && a !== csv));
    expect(second.status).toBe(0);
    expect(second.stdout).toContain('keeping the account anna');
    expect(second.stdout).toContain('keeping the account boss');
    expect(second.stdout).not.toContain('shown once');
    expect(['gateway.yaml', 'secrets.env', 'central-signing.key', 'mqtt.password', 'central-mqtt.password'].map((f) => readFileSync(join(conf, f), 'utf8'))).toEqual(before);
  }, 240_000);

  it('refuses to enable a branch whose config does not validate, naming the file and the problem', () => {
    const ex = examples();
    writeFileSync(ex.gateway, readFileSync(ex.gateway, 'utf8').replace('type: fail-secure', 'type: fail-open'));
    const { status, stdout, stderr } = installPi([
      '--config-only', '--etc', etc, '--prefix', prefix, '--state-dir', state, '--service-user', 'root',
      '--gateway-config', ex.gateway, '--manager', 'anna',
    ]);
    expect(status).toBe(1);
    expect(stderr).toContain('lock.type');
    expect(stderr).toContain(`not enabling oag-gateway.service: ${etc}/oag/gateway.yaml does not pass oag check-config`);
    // It stopped there: no account made on a config that does not run.
    expect(stdout).not.toContain('console manager');
    expect(existsSync(join(state, 'gateway.sqlite'))).toBe(false);
  }, 120_000);

  it('refuses a deployment key that the gateway could not use, with the reason', () => {
    const ex = examples();
    const { status, stderr } = installPi([
      '--config-only', '--etc', etc, '--prefix', prefix, '--state-dir', state, '--service-user', 'root',
      '--gateway-config', ex.gateway, '--deployment-key', secretFile('short.key', 'abcd'),
    ]);
    expect(status).toBe(1);
    expect(stderr).toContain('OAG_DEPLOYMENT_KEY: must be at least 32 bytes');
    expect(stderr).toContain('not enabling oag-gateway.service');
    expect(stderr).not.toContain('abcd');
  }, 120_000);

  it('compares a given deployment key with the kept one without putting it on a command line', () => {
    const ex = examples();
    mkdirSync(join(etc, 'oag'));
    writeFileSync(join(etc, 'oag', 'secrets.env'), `OAG_DEPLOYMENT_KEY=${'b2'.repeat(32)}\n`, { mode: 0o600 });
    // grep as the script finds it on PATH, noting every command line it is given (as `ps` would show it).
    const bin = join(tmp, 'bin');
    const seen = join(tmp, 'grep-args');
    mkdirSync(bin);
    writeFileSync(join(bin, 'grep'), `#!/bin/sh\nprintf '%s\\n' "$*" >>'${seen}'\nexec /usr/bin/grep "$@"\n`, { mode: 0o755 });
    const { status, stderr } = installPi(
      ['--config-only', '--etc', etc, '--prefix', prefix, '--state-dir', state, '--service-user', 'root', '--gateway-config', ex.gateway, '--deployment-key', secretFile('deployment.key', KEY)],
      { PATH: `${bin}:${process.env.PATH ?? ''}` },
    );
    expect(status).toBe(1);
    expect(stderr).toContain('is not the key in');
    expect(readFileSync(seen, 'utf8')).toContain(join(etc, 'oag', 'secrets.env'));
    expect(readFileSync(seen, 'utf8')).not.toContain(KEY);
  }, 120_000);
});
