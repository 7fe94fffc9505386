// The unit files as systemd itself reads them (systemd-analyze, Debian package `systemd`), the hardening a door
// controller needs, and sd_notify through the real systemd-notify to a real unix datagram socket.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startSystemdNotify, type SystemdNotifier } from '../../gateway/systemd-notify.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const UNITS = ['oag-gateway.service', 'oag-central.service'] as const;

/** Fails naming the Debian package when a command is missing. */
function requireCommand(command: string, debianPackage: string): void {
  const probe = spawnSync(command, ['--version'], { encoding: 'utf8' });
  if (probe.error) {
    throw new Error(`${command} not found: install the Debian package ${debianPackage} (bash scripts/install-test-deps.sh)`);
  }
}

type Unit = Map<string, Map<string, string[]>>;

/** Just enough of systemd's unit syntax: sections, `Key=value` (repeatable), comments. */
function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = new Map();
      unit.set(header[1] ?? '', section);
      continue;
    }
    const eq = line.indexOf('=');
    if (!section || eq < 0) throw new Error(`unparsed line: ${line}`);
    const key = line.slice(0, eq).trim();
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return unit;
}

function values(unit: Unit, section: string, key: string): string[] {
  return unit.get(section)?.get(key) ?? [];
}
function value(unit: Unit, section: string, key: string): string | undefined {
  return values(unit, section, key).at(-1);
}

function readUnit(name: string): { text: string; unit: Unit } {
  const text = readFileSync(join(root, 'systemd', name), 'utf8');
  return { text, unit: parseUnit(text) };
}

/** The units as installed, with this machine's node in ExecStart (verify checks that the binary exists). */
function verify(files: Record<string, string>): { status: number | null; messages: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'oag-units-'));
  try {
    const paths = Object.entries(files).map(([name, text]) => {
      const path = join(dir, name);
      writeFileSync(path, text.replace(/^(Exec\w+=)\/usr\/bin\/node /gm, `$1${process.execPath} `));
      return path;
    });
    const result = spawnSync('systemd-analyze', ['verify', '--man=no', ...paths], { encoding: 'utf8', timeout: 60_000 });
    const messages = `${result.stdout}\n${result.stderr}`
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '');
    return { status: result.status, messages };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the unit files, as systemd reads them', () => {
  beforeAll(() => requireCommand('systemd-analyze', 'systemd'));

  it('are all there is in systemd/, so that `systemd-analyze verify systemd/*` checks units and nothing else', () => {
    // The hardware-watchdog drop-in is a PID 1 setting, not a unit: it lives with the installer (scripts/pi/).
    const top = readdirSync(join(root, 'systemd'), { withFileTypes: true });
    expect(top.map((e) => e.name).sort()).toEqual([...UNITS].sort());
  });

  it('pass systemd-analyze verify with no message at all', () => {
    const files = Object.fromEntries(UNITS.map((name) => [name, readUnit(name).text]));
    const { status, messages } = verify(files);
    // Unknown keys and bad values are only warnings (exit 0), so every line of output counts as a failure.
    expect(messages).toEqual([]);
    expect(status).toBe(0);
  });

  it('would catch a mistyped directive (the check above can fail)', () => {
    const { text } = readUnit('oag-gateway.service');
    const broken = text.replace(/^ProtectSystem=strict$/m, 'ProtectSytem=strict').replace(/^NoNewPrivileges=yes$/m, 'NoNewPrivileges=maybe');
    const { messages } = verify({ 'oag-gateway.service': broken });
    expect(messages.join('\n')).toMatch(/Unknown key.*ProtectSytem/);
    expect(messages.join('\n')).toMatch(/NoNewPrivileges|boolean/);
  });

  it('score as well hardened in systemd-analyze security', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oag-units-'));
    try {
      for (const name of UNITS) {
        const path = join(dir, name);
        writeFileSync(path, readUnit(name).text.replace(/^(Exec\w+=)\/usr\/bin\/node /gm, `$1${process.execPath} `));
        // 10 is fully exposed; a plain unit scores 9.6. Anything above 5 means hardening was lost.
        const result = spawnSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', '--threshold=50', path], {
          encoding: 'utf8',
          timeout: 60_000,
        });
        const score = /Overall exposure level for \S+: ([\d.]+)/.exec(`${result.stdout}${result.stderr}`)?.[1];
        expect(score, `${name}: ${result.stderr}`).toBeDefined();
        expect(Number(score), name).toBeLessThanOrEqual(5);
        expect(result.status, name).toBe(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('what the units promise', () => {
  for (const name of UNITS) {
    describe(name, () => {
      const { unit } = readUnit(name);
      const role = name === 'oag-gateway.service' ? 'gateway' : 'central';

      it('is a notify service with a watchdog the Pi can back, restarted for ever', () => {
        expect(value(unit, 'Service', 'Type')).toBe('notify');
        // The notifications come from a systemd-notify child, not the main pid.
        expect(value(unit, 'Service', 'NotifyAccess')).toBe('all');
        const watchdog = /^(\d+)s$/.exec(value(unit, 'Service', 'WatchdogSec') ?? '');
        expect(watchdog).not.toBeNull();
        expect(Number(watchdog?.[1])).toBeGreaterThanOrEqual(4);
        expect(Number(watchdog?.[1])).toBeLessThanOrEqual(15);
        expect(value(unit, 'Service', 'Restart')).toBe('always');
        expect(value(unit, 'Service', 'RestartSec')).toBe('2');
        expect(value(unit, 'Unit', 'StartLimitIntervalSec')).toBe('0');
        expect(value(unit, 'Service', 'KillSignal')).toBe('SIGTERM');
        expect(value(unit, 'Service', 'TimeoutStopSec')).toBe('10');
      });

      it('runs the built CLI with the config and secrets from /etc/oag, logging to the journal', () => {
        expect(value(unit, 'Service', 'ExecStart')).toBe(
          `/usr/bin/node /opt/oag/dist/scripts/oag.js ${role} --config /etc/oag/${role}.yaml`,
        );
        expect(values(unit, 'Service', 'EnvironmentFile')).toEqual(['-/etc/oag/secrets.env']);
        expect(value(unit, 'Service', 'StandardOutput')).toBe('journal');
        expect(value(unit, 'Install', 'WantedBy')).toBe('multi-user.target');
      });

      it('runs as oag, writes only to /var/lib/oag, and is hardened', () => {
        expect(value(unit, 'Service', 'User')).toBe('oag');
        expect(value(unit, 'Service', 'Group')).toBe('oag');
        expect(value(unit, 'Service', 'StateDirectory')).toBe('oag');
        expect(value(unit, 'Service', 'ProtectSystem')).toBe('strict');
        for (const key of ['NoNewPrivileges', 'PrivateTmp', 'ProtectHome', 'ProtectKernelModules', 'ProtectControlGroups']) {
          expect(value(unit, 'Service', key), key).toBe('yes');
        }
        expect(value(unit, 'Service', 'CapabilityBoundingSet')).toBe('');
        expect(values(unit, 'Service', 'ReadWritePaths')).toEqual([]);
        // V8's JIT needs W+X memory.
        expect(value(unit, 'Service', 'MemoryDenyWriteExecute') ?? 'no').toBe('no');
      });
    });
  }

  describe('oag-gateway.service and the door hardware', () => {
    const { unit } = readUnit('oag-gateway.service');

    it('keeps the GPIO chip and the reader visible: no PrivateDevices, the devices allowed by name', () => {
      expect(value(unit, 'Service', 'PrivateDevices') ?? 'no').toBe('no');
      expect(values(unit, 'Service', 'DeviceAllow')).toEqual(expect.arrayContaining(['char-gpiochip rw', 'char-input r']));
      expect(value(unit, 'Service', 'SupplementaryGroups')?.split(/\s+/)).toEqual(expect.arrayContaining(['gpio']));
      // onoff drives pins through /sys/class/gpio: /sys must stay writable.
      expect(value(unit, 'Service', 'ProtectKernelTunables') ?? 'no').toBe('no');
      // The readers are pcscd's: its socket comes up with the gateway.
      expect(values(unit, 'Unit', 'Wants').join(' ')).toContain('pcscd.socket');
    });

    it('drives the outputs safe from a new process after every end, a watchdog kill included', () => {
      // SIGABRT (the watchdog) and SIGKILL run no handler: only a process started after can write the pins.
      expect(values(unit, 'Service', 'ExecStopPost')).toEqual(['/usr/bin/node /opt/oag/dist/scripts/oag.js outputs-safe --config /etc/oag/gateway.yaml']);
      expect(value(unit, 'Service', 'WatchdogSignal') ?? 'SIGABRT').toBe('SIGABRT');
    });
  });

  it('the hardware watchdog drop-in stays within the Pi watchdog limit of 15 s', () => {
    const dropIn = parseUnit(readFileSync(join(root, 'scripts', 'pi', 'system.conf.d', 'oag-hardware-watchdog.conf'), 'utf8'));
    const seconds = /^(\d+)s$/.exec(value(dropIn, 'Manager', 'RuntimeWatchdogSec') ?? '');
    expect(Number(seconds?.[1])).toBeGreaterThan(0);
    expect(Number(seconds?.[1])).toBeLessThanOrEqual(15);
  });
});

// A real unix datagram socket, bound by python3 (Node has none), as PID 1's notify socket would be.
const RECEIVER = `
import json, socket, sys
addr = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(('\\0' + addr[1:]) if addr.startswith('@') else addr)
print(json.dumps('bound'), flush=True)
s.settimeout(30)
for _ in range(500):
    print(json.dumps(s.recv(4096).decode()), flush=True)
`;

describe('sd_notify through the real systemd-notify', () => {
  let receiver: ChildProcessWithoutNullStreams | undefined;
  let dir: string;
  let received: string[] = [];

  beforeAll(() => {
    requireCommand('systemd-notify', 'systemd');
    requireCommand('python3', 'python3');
    dir = mkdtempSync(join(tmpdir(), 'oag-notify-'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  async function listen(address: string): Promise<void> {
    received = [];
    receiver = spawn('python3', ['-c', RECEIVER, address]);
    let buffer = '';
    receiver.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        received.push(JSON.parse(buffer.slice(0, nl)) as string);
        buffer = buffer.slice(nl + 1);
      }
    });
    await vi.waitFor(() => expect(received).toContain('bound'), { timeout: 10_000, interval: 20 });
  }

  function stopReceiver(): void {
    if (receiver?.pid !== undefined && receiver.exitCode === null) process.kill(receiver.pid, 'SIGTERM');
    receiver = undefined;
  }

  /** Messages as systemd would read them: one datagram may carry several lines; BARRIER=1 is the sender's own. */
  function assignments(): string[] {
    return received.filter((m) => m !== 'bound').flatMap((m) => m.split('\n')).filter((m) => m !== 'BARRIER=1');
  }

  for (const kind of ['a socket file', 'an abstract socket name'] as const) {
    it(`delivers READY, STATUS, watchdog pings and STOPPING to ${kind}`, async () => {
      const address = kind === 'a socket file' ? join(dir, 'notify') : `@oag-test-notify-${process.pid}`;
      await listen(address);
      let notifier: SystemdNotifier | undefined;
      try {
        // WatchdogSec=0.4s: a ping every 200 ms.
        notifier = startSystemdNotify({ env: { NOTIFY_SOCKET: address, WATCHDOG_USEC: '400000', PATH: process.env.PATH } });
        notifier.status('Doors locked, 2 readers');
        notifier.ready();
        await vi.waitFor(() => expect(assignments().filter((a) => a === 'WATCHDOG=1').length).toBeGreaterThanOrEqual(3), {
          timeout: 20_000,
          interval: 50,
        });
        notifier.stopping();
        await vi.waitFor(() => expect(assignments()).toContain('STOPPING=1'), { timeout: 10_000, interval: 50 });
        const got = assignments();
        expect(got.slice(0, 2)).toEqual(['STATUS=Doors locked, 2 readers', 'READY=1']);
        expect(got.indexOf('STOPPING=1')).toBeGreaterThan(got.indexOf('READY=1'));
      } finally {
        notifier?.stop();
        stopReceiver();
      }
    });
  }
});
