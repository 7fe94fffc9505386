// scripts/install-pi.sh --dry-run: the plan a Pi would get, printed and touching nothing.
// Never run without --dry-run here: a real run installs packages, users and services on this machine.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const script = join(root, 'scripts', 'install-pi.sh');

function installPi(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('bash', [script, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Every file and folder under dir with its mode, size and content: what "nothing changed" compares. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      const st = statSync(path);
      const rel = relative(dir, path);
      if (st.isDirectory()) {
        out.push(`${rel}/ ${st.mode.toString(8)}`);
        walk(path);
      } else {
        out.push(`${rel} ${st.mode.toString(8)} ${readFileSync(path, 'utf8')}`);
      }
    }
  };
  walk(dir);
  return out;
}

/** The commands the dry run would run, without the `+ `. */
function actions(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('+ '))
    .map((l) => l.slice(2));
}

describe('install-pi.sh --dry-run', () => {
  let tmp: string;
  let prefix: string;
  let etc: string;
  let example: string;
  const realPaths = ['/opt/oag', '/etc/oag', '/etc/systemd/system/oag-gateway.service', '/etc/modprobe.d/oag-blacklist-pn533.conf'];
  let realBefore: boolean[];

  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'oag-install-'));
    prefix = join(tmp, 'opt');
    etc = join(tmp, 'etc');
    mkdirSync(prefix);
    mkdirSync(etc);
    example = join(tmp, 'gateway.example.yaml');
    writeFileSync(example, 'site: test-branch\n');
    realBefore = realPaths.map((p) => existsSync(p));
  });

  afterEach(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  it('lists every step of an install and changes nothing on disk', () => {
    const before = snapshot(tmp);
    const { status, stdout, stderr } = installPi(['--dry-run', '--prefix', prefix, '--etc', etc, '--gateway-config', example]);
    expect(stderr).toBe('');
    expect(status).toBe(0);
    const run = actions(stdout);
    const all = run.join('\n');

    // System packages: installed if missing, or reported present.
    expect(stdout).toMatch(/System packages: .*pcscd.*libpcsclite-dev/);
    const aptInstall = run.find((a) => a.includes('apt-get install'));
    if (aptInstall) expect(run).toContain('apt-get update');

    // The kernel's NFC driver kept off the reader.
    expect(all).toContain(`${etc}/modprobe.d/oag-blacklist-pn533.conf`);

    // The service user, in gpio.
    const hasUser = spawnSync('getent', ['passwd', 'oag']).status === 0;
    if (hasUser) expect(stdout).toContain('user oag exists');
    else expect(run.find((a) => a.startsWith('useradd'))).toMatch(/--groups gpio\\?,input .*oag$/);

    // The app built in a staging folder and swapped in.
    expect(run).toContain(`npm --prefix ${prefix}/oag.new ci --no-audit --no-fund`);
    expect(run).toContain(`npm --prefix ${prefix}/oag.new run build`);
    expect(run).toContain(`npm --prefix ${prefix}/oag.new prune --omit=dev --no-audit --no-fund`);
    expect(run).toContain(`mv ${prefix}/oag.new ${prefix}/oag`);
    expect(run.findIndex((a) => a.includes(' ci '))).toBeLessThan(run.findIndex((a) => a.includes('run build')));
    expect(run.find((a) => a.startsWith('rsync'))).toMatch(/--exclude=\/node_modules .*--exclude=\/\.git /);

    // Config from the example, and a deployment key nobody can read but root.
    expect(run).toContain(`install -m 0640 -o root -g oag ${example} ${etc}/oag/gateway.yaml`);
    expect(run).toContain(`install -D -m 0600 -o root -g root /dev/stdin ${etc}/oag/secrets.env`);
    // The policy the example config names, beside it: the starter, closed until it has a schedule.
    expect(run).toContain(`install -m 0640 -o root -g oag ${root}/policies/examples/starter.yaml ${etc}/oag/policy.yaml`);

    // Units, then reload, enable, start: in that order.
    const unitAt = run.findIndex((a) => a.endsWith(`${etc}/systemd/system/oag-gateway.service`));
    const reloadAt = run.indexOf('systemctl daemon-reload');
    const enableAt = run.indexOf('systemctl enable oag-gateway.service');
    const startAt = run.indexOf('systemctl restart oag-gateway.service');
    expect(unitAt).toBeGreaterThanOrEqual(0);
    expect(reloadAt).toBeGreaterThan(unitAt);
    expect(enableAt).toBeGreaterThan(reloadAt);
    expect(startAt).toBeGreaterThan(enableAt);
    expect(all).toContain(`${etc}/systemd/system.conf.d/oag-hardware-watchdog.conf`);
    // The drop-in's own content, read from scripts/pi/system.conf.d/ in the checkout.
    expect(stdout).toContain('    | RuntimeWatchdogSec=14s');
    expect(all).not.toContain('oag-central');

    // No sound: section in the config: no announcements to prepare, and it says so.
    expect(stdout).toContain("no sound: section in the gateway's config");
    expect(all).not.toContain('sounds prepare');

    // Nothing written: not in the temp roots, not in the real ones.
    expect(snapshot(tmp)).toEqual(before);
    expect(realPaths.map((p) => existsSync(p))).toEqual(realBefore);
  });

  it("makes the announcements' sound files at install when the config speaks, with the tools to make them", () => {
    writeFileSync(example, 'site: test-branch\nsound:\n  driver: aplay\n  cacheDir: /var/lib/oag/sounds\n');
    const { status, stdout } = installPi(['--dry-run', '--prefix', prefix, '--etc', etc, '--gateway-config', example]);
    expect(status).toBe(0);
    expect(stdout).toMatch(/System packages: .*alsa-utils espeak-ng sox/);
    const run = actions(stdout);
    const prepareAt = run.findIndex((a) => a.endsWith(`oag.js sounds prepare --config ${etc}/oag/gateway.yaml`));
    expect(run[prepareAt]).toMatch(/^runuser -u oag -- /);
    // After the config is in place, before the service starts and would prepare them itself.
    expect(prepareAt).toBeGreaterThan(run.findIndex((a) => a.endsWith(`${etc}/oag/gateway.yaml`)));
    expect(prepareAt).toBeLessThan(run.indexOf('systemctl enable oag-gateway.service'));
  });

  it('prepares the sound files as the service user it was given, so that the service can read and replace them', () => {
    writeFileSync(example, 'site: test-branch\nsound:\n  driver: aplay\n  cacheDir: /var/lib/oag/sounds\n');
    const { status, stdout } = installPi(['--dry-run', '--prefix', prefix, '--etc', etc, '--gateway-config', example, '--service-user', 'doors']);
    expect(status).toBe(0);
    const prepare = actions(stdout).find((a) => a.endsWith(`oag.js sounds prepare --config ${etc}/oag/gateway.yaml`));
    expect(prepare).toMatch(/^runuser -u doors -- /);
  });

  it('prints the same plan twice', () => {
    const args = ['--dry-run', '--prefix', prefix, '--etc', etc, '--gateway-config', example, '--central'];
    const first = installPi(args);
    const second = installPi(args);
    expect(first.status).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    // Central's Mosquitto with them, so that its new ACL and listener are read.
    expect(first.stdout).toContain('systemctl enable mosquitto.service oag-gateway.service oag-central.service');
    expect(first.stdout).toContain(`${etc}/systemd/system/oag-central.service`);
  });

  it('keeps a config and a deployment key that are already there, and leaves unchanged files alone', () => {
    mkdirSync(join(etc, 'oag'));
    writeFileSync(join(etc, 'oag', 'gateway.yaml'), 'site: mine\n');
    writeFileSync(join(etc, 'oag', 'secrets.env'), 'OAG_DEPLOYMENT_KEY=keep-me\n');
    mkdirSync(join(etc, 'modprobe.d'));
    // The blacklist exactly as the script writes it: found unchanged, not rewritten.
    const blacklist = /update_file 0644 root:root "\$ETC\/modprobe.d\/oag-blacklist-pn533.conf" <<'EOF'\n([\s\S]*?)\nEOF\n/.exec(
      readFileSync(script, 'utf8'),
    )?.[1];
    expect(blacklist).toBeDefined();
    writeFileSync(join(etc, 'modprobe.d', 'oag-blacklist-pn533.conf'), `${blacklist}`);
    const before = snapshot(tmp);

    const { status, stdout } = installPi(['--dry-run', '--prefix', prefix, '--etc', etc, '--gateway-config', example]);
    expect(status).toBe(0);
    // Checked before enabling, but not written.
    const all = actions(stdout)
      .filter((a) => !a.includes(' check-config '))
      .join('\n');
    expect(stdout).toContain(`keeping ${etc}/oag/gateway.yaml`);
    expect(stdout).toContain(`keeping ${etc}/oag/secrets.env`);
    expect(stdout).toContain(`unchanged: ${etc}/modprobe.d/oag-blacklist-pn533.conf`);
    expect(all).not.toContain(`${etc}/oag/gateway.yaml`);
    expect(all).not.toContain(`${etc}/oag/secrets.env`);
    expect(all).not.toContain(`${etc}/modprobe.d/oag-blacklist-pn533.conf`);
    expect(snapshot(tmp)).toEqual(before);
  });

  it('writes the units with the paths of this install, and shows what each file would hold', () => {
    const { stdout } = installPi(['--dry-run', '--prefix', prefix, '--etc', etc, '--gateway-config', example]);
    const node = spawnSync('bash', ['-c', 'command -v node'], { encoding: 'utf8' }).stdout.trim();
    expect(stdout).toContain(`    | ExecStart=${node} ${prefix}/oag/dist/scripts/oag.js gateway --config ${etc}/oag/gateway.yaml`);
    expect(stdout).toContain(`    | ExecStopPost=${node} ${prefix}/oag/dist/scripts/oag.js outputs-safe --config ${etc}/oag/gateway.yaml`);
    expect(stdout).toContain(`    | EnvironmentFile=-${etc}/oag/secrets.env`);
    expect(stdout).toContain('    | blacklist pn533_usb');
    expect(stdout).toContain('    | RuntimeWatchdogSec=14s');
    // The deployment key is neither generated nor shown by a dry run.
    expect(stdout).toContain('    | (secret: not shown)');
    expect(stdout).not.toContain('OAG_DEPLOYMENT_KEY=');
  });

  it("appends the pin map's boot levels and pull-ups to config.txt once, after a backup, and keeps a block already there", () => {
    const bootConfig = join(tmp, 'config.txt');
    writeFileSync(bootConfig, 'dtparam=audio=on\n[cm4]\notg_mode=1\n');
    const before = snapshot(tmp);
    const first = installPi(['--dry-run', '--prefix', prefix, '--etc', etc, '--gateway-config', example, '--boot-config', bootConfig]);
    expect(first.status).toBe(0);
    const run = actions(first.stdout);
    expect(run).toContain(`cp -p ${bootConfig} ${bootConfig}.oag-backup`);
    expect(run.some((a) => a.startsWith('sh -c') && a.endsWith(` append ${bootConfig}`))).toBe(true);
    expect(run.indexOf(`cp -p ${bootConfig} ${bootConfig}.oag-backup`)).toBeLessThan(run.findIndex((a) => a.endsWith(` append ${bootConfig}`)));
    // Under [all], whatever model filter the file ends with; the outputs at their safe level, the inputs pulled up.
    expect(first.stdout).toContain('    | [all]\n');
    expect(first.stdout).toContain('    | gpio=17,22,27=op,dh\n');
    expect(first.stdout).toContain('    | gpio=4,7,8,12,16,20,21,23,24,25,26=ip,pu\n');
    expect(snapshot(tmp)).toEqual(before);

    writeFileSync(bootConfig, `dtparam=audio=on\n# BEGIN Open Access gateway (scripts/install-pi.sh)\ngpio=4=op,dh\n# END Open Access gateway\n`);
    const again = installPi(['--dry-run', '--prefix', prefix, '--etc', etc, '--gateway-config', example, '--boot-config', bootConfig]);
    expect(again.status).toBe(0);
    expect(again.stdout).toContain(`keeping the gateway's lines in ${bootConfig}`);
    expect(actions(again.stdout).join('\n')).not.toContain(bootConfig);

    const skipped = installPi(['--dry-run', '--prefix', prefix, '--etc', etc, '--gateway-config', example, '--no-boot-config']);
    expect(skipped.stdout).toContain('skipped (--no-boot-config)');
    expect(actions(skipped.stdout).join('\n')).not.toContain('config.txt');
  });

  it('explains itself with --help, and refuses what it does not know', () => {
    const help = installPi(['--help']);
    expect(help.status).toBe(0);
    for (const option of ['--dry-run', '--central', '--prefix', '--etc']) expect(help.stdout).toContain(option);

    const bad = installPi(['--frobnicate']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('unknown option: --frobnicate');

    // A real run anywhere but /etc would install units systemd never reads.
    const before = snapshot(tmp);
    const elsewhere = installPi(['--etc', etc]);
    expect(elsewhere.status).toBe(1);
    expect(elsewhere.stderr).toContain('--dry-run');
    expect(snapshot(tmp)).toEqual(before);
  });
});
