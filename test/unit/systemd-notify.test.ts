import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  readNotifyEnvironment,
  startSystemdNotify,
  systemdNotifyCommand,
  type NotifySender,
  type SystemdNotifier,
  type SystemdNotifyLogger,
} from '../../gateway/systemd-notify.js';

interface Sent {
  socket: string;
  message: string;
}

function recordingSender(): { send: NotifySender; sent: Sent[] } {
  const sent: Sent[] = [];
  const send: NotifySender = async (socket, assignments) => {
    sent.push({ socket, message: assignments.join('\n') });
  };
  return { send, sent };
}

function recordingLogger(): SystemdNotifyLogger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, debug() {}, info() {}, warn: (msg: string) => void warnings.push(msg) };
}

const TEN_SECONDS_USEC = '10000000';
const systemdEnv = { NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: TEN_SECONDS_USEC, WATCHDOG_PID: '4242' };

describe('reading the environment systemd gives a Type=notify service', () => {
  it('turns notification off without NOTIFY_SOCKET', () => {
    expect(readNotifyEnvironment({}, 1)).toEqual({ socket: undefined, watchdogIntervalMs: undefined, problems: [] });
    expect(readNotifyEnvironment({ NOTIFY_SOCKET: '' }, 1).socket).toBeUndefined();
  });

  it('accepts a path, an abstract name and a vsock address as given', () => {
    for (const socket of ['/run/systemd/notify', '@/org/freedesktop/systemd1/notify/42', 'vsock:2:1234']) {
      expect(readNotifyEnvironment({ NOTIFY_SOCKET: socket }, 1)).toEqual({ socket, watchdogIntervalMs: undefined, problems: [] });
    }
  });

  it('refuses a socket name that is neither, and says why', () => {
    for (const bad of ['relative/notify', '@', 'notify']) {
      const env = readNotifyEnvironment({ NOTIFY_SOCKET: bad }, 1);
      expect(env.socket).toBeUndefined();
      expect(env.problems[0]).toContain('NOTIFY_SOCKET');
    }
  });

  it('pings at half of WATCHDOG_USEC', () => {
    expect(readNotifyEnvironment({ ...systemdEnv }, 4242).watchdogIntervalMs).toBe(5_000);
    expect(readNotifyEnvironment({ NOTIFY_SOCKET: '/n', WATCHDOG_USEC: '15000000' }, 7).watchdogIntervalMs).toBe(7_500);
  });

  it('leaves a watchdog that belongs to another process alone', () => {
    const env = readNotifyEnvironment({ ...systemdEnv, WATCHDOG_PID: '999' }, 4242);
    expect(env.socket).toBe('/run/systemd/notify');
    expect(env.watchdogIntervalMs).toBeUndefined();
    expect(env.problems[0]).toContain('WATCHDOG_PID=999');
  });

  it('ignores a WATCHDOG_USEC that is not a positive number, and says so', () => {
    for (const bad of ['0', '-5', '10s', '1e6']) {
      const env = readNotifyEnvironment({ NOTIFY_SOCKET: '/n', WATCHDOG_USEC: bad }, 1);
      expect(env.watchdogIntervalMs).toBeUndefined();
      expect(env.problems[0]).toContain('WATCHDOG_USEC');
    }
  });
});

describe('startSystemdNotify', () => {
  let notifier: SystemdNotifier | undefined;
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    notifier?.stop();
    notifier = undefined;
    vi.useRealTimers();
  });

  it('does nothing at all outside systemd', async () => {
    const { send, sent } = recordingSender();
    notifier = startSystemdNotify({ env: {}, send });
    notifier.ready();
    notifier.status('Doors locked');
    notifier.stopping();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(notifier.enabled).toBe(false);
    expect(sent).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('says READY=1 once, pings WATCHDOG=1 every half timeout, says STOPPING=1 on the way out', async () => {
    const { send, sent } = recordingSender();
    notifier = startSystemdNotify({ env: systemdEnv, pid: 4242, send });
    expect(notifier.watchdogIntervalMs).toBe(5_000);

    notifier.ready();
    notifier.ready();
    await vi.advanceTimersByTimeAsync(4_999);
    expect(sent.map((s) => s.message)).toEqual(['READY=1']);

    await vi.advanceTimersByTimeAsync(1);
    expect(sent.map((s) => s.message)).toEqual(['READY=1', 'WATCHDOG=1']);

    await vi.advanceTimersByTimeAsync(20_000);
    expect(sent.filter((s) => s.message === 'WATCHDOG=1')).toHaveLength(5);

    notifier.stopping();
    notifier.stopping();
    await vi.advanceTimersByTimeAsync(0);
    expect(sent.at(-1)?.message).toBe('STOPPING=1');
    expect(sent.filter((s) => s.message === 'STOPPING=1')).toHaveLength(1);
    expect(new Set(sent.map((s) => s.socket))).toEqual(new Set(['/run/systemd/notify']));
  });

  it('passes an abstract socket name through unchanged', async () => {
    const { send, sent } = recordingSender();
    notifier = startSystemdNotify({ env: { NOTIFY_SOCKET: '@/org/freedesktop/systemd1/notify/7' }, send });
    notifier.ready();
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toEqual([{ socket: '@/org/freedesktop/systemd1/notify/7', message: 'READY=1' }]);
  });

  it('notifies without pinging when the unit has no watchdog', async () => {
    const { send, sent } = recordingSender();
    notifier = startSystemdNotify({ env: { NOTIFY_SOCKET: '/run/systemd/notify' }, send });
    notifier.ready();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(sent.map((s) => s.message)).toEqual(['READY=1']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stops pinging on stop(), and is silent afterwards', async () => {
    const { send, sent } = recordingSender();
    notifier = startSystemdNotify({ env: systemdEnv, pid: 4242, send });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(sent).toHaveLength(2);
    notifier.stop();
    notifier.ready();
    notifier.status('late');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sent).toHaveLength(2);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('keeps messages in order while the sender is slow', async () => {
    const sent: string[] = [];
    let calls = 0;
    // Each later message is quicker to send: only a queue keeps them in order.
    const send: NotifySender = (_socket, assignments) =>
      new Promise((resolve) => {
        const delay = 300 - calls * 100;
        calls += 1;
        setTimeout(() => {
          sent.push(assignments.join('\n'));
          resolve();
        }, delay);
      });
    notifier = startSystemdNotify({ env: { NOTIFY_SOCKET: '/n' }, send });
    notifier.status('Starting');
    notifier.ready();
    notifier.stopping();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(sent).toEqual(['STATUS=Starting', 'READY=1', 'STOPPING=1']);
  });

  it('keeps one ping in flight at most when the sender hangs', async () => {
    let calls = 0;
    const send: NotifySender = () => {
      calls += 1;
      return new Promise<void>(() => {});
    };
    notifier = startSystemdNotify({ env: systemdEnv, pid: 4242, send });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toBe(1);
  });

  it('keeps a status text on one line, so it cannot smuggle in READY=1', async () => {
    const { send, sent } = recordingSender();
    notifier = startSystemdNotify({ env: { NOTIFY_SOCKET: '/n' }, send });
    notifier.status('Door open\nREADY=1\r\nMAINPID=1');
    await vi.advanceTimersByTimeAsync(0);
    expect(sent.map((s) => s.message)).toEqual(['STATUS=Door open READY=1 MAINPID=1']);
  });

  it('logs a failing sender once per cause, keeps pinging, and never throws', async () => {
    const logger = recordingLogger();
    let fail = true;
    let delivered = 0;
    const send: NotifySender = async () => {
      if (fail) throw new Error('systemd-notify not found: install the Debian package systemd');
      delivered += 1;
    };
    notifier = startSystemdNotify({ env: systemdEnv, pid: 4242, send, logger });
    notifier.ready();
    await vi.advanceTimersByTimeAsync(30_000);
    expect(logger.warnings).toEqual(['systemd notify: systemd-notify not found: install the Debian package systemd']);
    fail = false;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(delivered).toBe(1);
  });

  it('warns about an environment it cannot use, then stays quiet', async () => {
    const logger = recordingLogger();
    const { send, sent } = recordingSender();
    notifier = startSystemdNotify({ env: { NOTIFY_SOCKET: 'notify' }, send, logger });
    notifier.ready();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(notifier.enabled).toBe(false);
    expect(sent).toEqual([]);
    expect(logger.warnings).toHaveLength(1);
  });

  it('takes a pino logger', () => {
    const logger: SystemdNotifyLogger = pino({ enabled: false });
    notifier = startSystemdNotify({ env: {}, logger });
    expect(notifier.enabled).toBe(false);
  });
});

describe('a hung event loop', () => {
  it('leaves a silence longer than the watchdog timeout, so systemd restarts the service', async () => {
    const pings: number[] = [];
    const send: NotifySender = async (_s, assignments) => {
      if (assignments[0] === 'WATCHDOG=1') pings.push(performance.now());
    };
    // WatchdogSec=100ms: a ping every 50 ms while the loop turns.
    const notifier = startSystemdNotify({ env: { NOTIFY_SOCKET: '/n', WATCHDOG_USEC: '100000' }, send });
    try {
      const until = (count: number) =>
        vi.waitFor(() => expect(pings.length).toBeGreaterThanOrEqual(count), { timeout: 5_000, interval: 10 });
      await until(2);
      const hangStart = performance.now();
      while (performance.now() - hangStart < 300) {
        // a handler stuck in a loop
      }
      const before = pings.length;
      await until(before + 1);
      const last = pings[before - 1] ?? 0;
      const next = pings[before] ?? 0;
      expect(last).toBeLessThanOrEqual(hangStart);
      expect(next - last).toBeGreaterThan(100);
    } finally {
      notifier.stop();
    }
  });
});

describe('systemdNotifyCommand', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'oag-sd-notify-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the command with the socket in NOTIFY_SOCKET and one argument per assignment', async () => {
    const out = join(dir, 'out');
    const fake = join(dir, 'systemd-notify');
    writeFileSync(fake, `#!/bin/sh\nprintf '%s\\n' "$NOTIFY_SOCKET" "$WATCHDOG_PID" "$@" > '${out}'\n`);
    chmodSync(fake, 0o755);
    const savedPid = process.env.WATCHDOG_PID;
    process.env.WATCHDOG_PID = '1';
    try {
      await systemdNotifyCommand({ command: fake })('@/org/freedesktop/systemd1/notify/9', ['READY=1', 'STATUS=Doors locked']);
    } finally {
      if (savedPid === undefined) delete process.env.WATCHDOG_PID;
      else process.env.WATCHDOG_PID = savedPid;
    }
    expect(readFileSync(out, 'utf8')).toBe('@/org/freedesktop/systemd1/notify/9\n\nREADY=1\nSTATUS=Doors locked\n');
  });

  it('names the Debian package when systemd-notify is missing', async () => {
    await expect(systemdNotifyCommand({ command: join(dir, 'nowhere', 'systemd-notify') })('/n', ['READY=1'])).rejects.toThrow(
      /install the Debian package systemd/,
    );
  });

  it('reports what systemd-notify said when it fails', async () => {
    const fake = join(dir, 'systemd-notify');
    writeFileSync(fake, `#!/bin/sh\necho 'Failed to notify init system: Connection refused' >&2\nexit 1\n`);
    chmodSync(fake, 0o755);
    await expect(systemdNotifyCommand({ command: fake })('/n', ['WATCHDOG=1'])).rejects.toThrow(/Connection refused/);
  });

  it('kills a sender that hangs', async () => {
    const fake = join(dir, 'systemd-notify');
    writeFileSync(fake, `#!/bin/sh\nexec sleep 30\n`);
    chmodSync(fake, 0o755);
    await expect(systemdNotifyCommand({ command: fake, timeoutMs: 200 })('/n', ['WATCHDOG=1'])).rejects.toThrow();
  });
});
