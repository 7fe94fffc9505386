// Whether the wall clock can be believed. The schedule, expiry dates, retention and command freshness all read it,
// and a Pi has no clock of its own unless an RTC is fitted: it boots at the time it last saved, until something
// sets it. Each source that can vouch for the clock is a probe; what a probe reads (files, commands) is injected,
// so every source is tested on faked answers, without the daemons.
import { execFile } from 'node:child_process';
import { access, readFile } from 'node:fs/promises';

export const CLOCK_TRUST_SOURCES = ['auto', 'timesyncd', 'chrony', 'ntp', 'rtc', 'trusted', 'untrusted'] as const;
export type ClockTrustSource = (typeof CLOCK_TRUST_SOURCES)[number];

/** What the probes may read. Never throws: a file that cannot be read or a command that fails is `undefined`. */
export interface ClockProbeIo {
  readFile(path: string): Promise<string | undefined>;
  exists(path: string): Promise<boolean>;
  /** A command's standard output; `undefined` when it is not installed, exits non-zero or times out. */
  run(file: string, args: readonly string[]): Promise<string | undefined>;
}

export interface ProbeAnswer {
  synced: boolean;
  /** Why, for the log and the `clock-untrusted` alarm. */
  detail: string;
}

export interface ClockProbe {
  readonly name: Exclude<ClockTrustSource, 'trusted' | 'untrusted'>;
  check(io: ClockProbeIo): Promise<ProbeAnswer>;
}

export interface ClockTrustOptions {
  trust: ClockTrustSource;
  /** systemd-timesyncd touches this file once it has synchronised the clock since boot. */
  syncMarker: string;
  /** The RTC the kernel sets the clock from at boot (CONFIG_RTC_HCTOSYS_DEVICE, rtc0 on a Pi). */
  rtcDevice: string;
  /** chronyd's command socket: with `auto`, chronyc is only asked when chronyd is running. */
  chronySocket: string;
}

export const CLOCK_TRUST_DEFAULTS = {
  syncMarker: '/run/systemd/timesync/synchronized',
  rtcDevice: '/sys/class/rtc/rtc0',
  chronySocket: '/run/chrony/chronyd.sock',
} as const;

export function timesyncdProbe(marker: string): ClockProbe {
  return {
    name: 'timesyncd',
    async check(io) {
      return (await io.exists(marker))
        ? { synced: true, detail: 'systemd-timesyncd has synchronised the clock' }
        : { synced: false, detail: `no systemd-timesyncd sync marker (${marker})` };
    },
  };
}

/**
 * chronyd's own view: `Leap status : Normal` (or a leap second pending) once it has a source, `Not synchronised`
 * until then. chronyc reaches chronyd over its socket, or over UDP on localhost for an unprivileged user.
 */
export function chronyProbe(): ClockProbe {
  return {
    name: 'chrony',
    async check(io) {
      const out = await io.run('chronyc', ['-n', 'tracking']);
      if (out === undefined) return { synced: false, detail: 'chronyc tracking did not answer (chrony not installed or not running)' };
      const leap = /^Leap status\s*:\s*(.+?)\s*$/m.exec(out)?.[1];
      if (leap === undefined) return { synced: false, detail: 'chronyc tracking gave no leap status' };
      return leap === 'Not synchronised'
        ? { synced: false, detail: 'chrony is not synchronised yet' }
        : { synced: true, detail: `chrony is synchronised (leap status ${leap})` };
    },
  };
}

/**
 * The kernel's NTP state (adjtimex's STA_UNSYNC), which ntpd, ntpsec and systemd-timesyncd keep: read through
 * timedated, because the service's ProtectClock= forbids adjtimex itself. Without systemd, ntpq asks ntpd or
 * ntpsec: leap 11 (alarm) or stratum 16 means not synchronised.
 */
export function ntpProbe(): ClockProbe {
  return {
    name: 'ntp',
    async check(io) {
      const kernel = (await io.run('timedatectl', ['show', '-p', 'NTPSynchronized', '--value']))?.trim();
      if (kernel === 'yes') return { synced: true, detail: 'the kernel clock is NTP-synchronised (timedatectl NTPSynchronized=yes)' };
      const rv = await io.run('ntpq', ['-c', 'rv']);
      if (rv !== undefined) {
        const leap = /\bleap=(\d\d)\b/.exec(rv)?.[1];
        const stratum = Number(/\bstratum=(\d+)\b/.exec(rv)?.[1] ?? Number.NaN);
        if (leap !== undefined && leap !== '11' && stratum < 16) {
          return { synced: true, detail: `ntpd is synchronised (leap=${leap}, stratum ${stratum})` };
        }
        return { synced: false, detail: `ntpd is not synchronised (leap=${leap ?? '?'}, stratum ${Number.isNaN(stratum) ? '?' : stratum})` };
      }
      return kernel === 'no'
        ? { synced: false, detail: 'the kernel clock is not NTP-synchronised (timedatectl NTPSynchronized=no)' }
        : { synced: false, detail: 'neither timedatectl nor ntpq answered' };
    },
  };
}

/**
 * A battery-backed RTC: `hctosys` is 1 when the kernel set the system clock from it at boot, which it does only
 * when the RTC's time reads as valid (an RTC whose battery ran out, or that was never set, reads as invalid).
 */
export function rtcProbe(device: string): ClockProbe {
  return {
    name: 'rtc',
    async check(io) {
      if (!(await io.exists(device))) return { synced: false, detail: `no RTC (${device})` };
      const hctosys = (await io.readFile(`${device}/hctosys`))?.trim();
      return hctosys === '1'
        ? { synced: true, detail: `the clock was set from the RTC at boot (${device})` }
        : { synced: false, detail: `the RTC did not set the clock at boot (${device}/hctosys is ${hctosys ?? 'unreadable'})` };
    },
  };
}

/** The first source that vouches for the clock, cheapest first: file reads before any command is run. */
export function autoProbe(options: Pick<ClockTrustOptions, 'syncMarker' | 'rtcDevice' | 'chronySocket'>): ClockProbe {
  const timesyncd = timesyncdProbe(options.syncMarker);
  const rtc = rtcProbe(options.rtcDevice);
  const chrony = chronyProbe();
  const ntp = ntpProbe();
  return {
    name: 'auto',
    async check(io) {
      const said: string[] = [];
      for (const probe of [timesyncd, rtc, chrony, ntp]) {
        if (probe === chrony && !(await io.exists(options.chronySocket))) {
          said.push(`chrony not running (${options.chronySocket})`);
          continue;
        }
        const answer = await probe.check(io);
        if (answer.synced) return answer;
        said.push(answer.detail);
      }
      return { synced: false, detail: `no source vouches for the clock: ${said.join('; ')}` };
    },
  };
}

export interface ClockReading {
  trusted: boolean;
  detail: string;
}

export interface ClockTrust {
  readonly source: ClockTrustSource;
  /** The last answer, at once: the door's code reads this and never waits on a probe. */
  current(): ClockReading;
  /** Asks the source again; a check already under way is joined rather than started twice. Never rejects. */
  refresh(): Promise<ClockReading>;
}

export function createClockTrust(options: ClockTrustOptions, io: ClockProbeIo = systemProbeIo()): ClockTrust {
  const { trust } = options;
  if (trust === 'trusted' || trust === 'untrusted') {
    const fixed: ClockReading =
      trust === 'trusted' ? { trusted: true, detail: 'trusted by configuration (clock.trust: trusted)' } : { trusted: false, detail: 'untrusted by configuration (clock.trust: untrusted)' };
    return { source: trust, current: () => fixed, refresh: async () => fixed };
  }
  const probe = probeFor(options);
  // Until a source has answered the clock is not believed: a wrong clock costs unstaffed entry, a believed wrong
  // clock can hold the door free all night.
  let last: ClockReading = { trusted: false, detail: `not yet checked (clock.trust: ${trust})` };
  let running: Promise<ClockReading> | undefined;
  return {
    source: trust,
    current: () => last,
    refresh() {
      running ??= probe
        .check(io)
        .then(
          (answer) => ({ trusted: answer.synced, detail: answer.detail }),
          (error: unknown) => ({ trusted: false, detail: `clock check failed: ${(error as Error)?.message ?? String(error)}` }),
        )
        .then((reading) => {
          last = reading;
          running = undefined;
          return reading;
        });
      return running;
    },
  };
}

function probeFor(options: ClockTrustOptions): ClockProbe {
  switch (options.trust) {
    case 'timesyncd':
      return timesyncdProbe(options.syncMarker);
    case 'chrony':
      return chronyProbe();
    case 'ntp':
      return ntpProbe();
    case 'rtc':
      return rtcProbe(options.rtcDevice);
    default:
      return autoProbe(options);
  }
}

/** A command that hangs (a D-Bus call with timedated stuck, say) is killed rather than waited on. */
const RUN_TIMEOUT_MS = 3000;

export function systemProbeIo(): ClockProbeIo {
  return {
    readFile: (path) => readFile(path, 'utf8').then(
      (text) => text,
      () => undefined,
    ),
    exists: (path) => access(path).then(
      () => true,
      () => false,
    ),
    run: (file, args) =>
      new Promise((resolve) => {
        execFile(
          file,
          [...args],
          // C locale: the probes parse English output.
          { timeout: RUN_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 64 * 1024, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } },
          (error, stdout) => resolve(error ? undefined : stdout),
        );
      }),
  };
}
