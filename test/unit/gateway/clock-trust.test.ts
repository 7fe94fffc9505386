// Each clock-trust source on faked files and command output (the daemons' real wording), auto's order, and the
// cached answer the door reads without waiting.
import { describe, expect, it } from 'vitest';
import {
  autoProbe,
  chronyProbe,
  CLOCK_TRUST_DEFAULTS,
  createClockTrust,
  ntpProbe,
  rtcProbe,
  systemProbeIo,
  timesyncdProbe,
} from '../../../gateway/core/clock-trust.js';
import type { ClockProbeIo } from '../../../gateway/core/clock-trust.js';
import { parseGatewayConfig } from '../../../gateway/config.js';

const MARKER = CLOCK_TRUST_DEFAULTS.syncMarker;
const RTC = CLOCK_TRUST_DEFAULTS.rtcDevice;
const CHRONY_SOCKET = CLOCK_TRUST_DEFAULTS.chronySocket;

interface FakeIo extends ClockProbeIo {
  files: Record<string, string>;
  commands: Record<string, string | undefined>;
  ran: string[];
}

/** `files`: path → content (a directory or socket is an empty string); `commands`: "file arg…" → stdout. */
function fakeIo(files: Record<string, string> = {}, commands: Record<string, string | undefined> = {}): FakeIo {
  const io: FakeIo = {
    files,
    commands,
    ran: [],
    readFile: async (path) => io.files[path],
    exists: async (path) => path in io.files,
    run: async (file, args) => {
      const line = [file, ...args].join(' ');
      io.ran.push(line);
      return io.commands[line];
    },
  };
  return io;
}

const CHRONYC = 'chronyc -n tracking';
const TIMEDATECTL = 'timedatectl show -p NTPSynchronized --value';
const NTPQ = 'ntpq -c rv';

const chronySynced = `Reference ID    : C0A80101 (192.168.1.1)
Stratum         : 3
Ref time (UTC)  : Mon Nov 23 10:00:00 2026
System time     : 0.000001312 seconds fast of NTP time
Last offset     : +0.000002135 seconds
Update interval : 64.2 seconds
Leap status     : Normal
`;
const chronyUnsynced = `Reference ID    : 00000000 ()
Stratum         : 0
Ref time (UTC)  : Thu Jan 01 00:00:00 1970
System time     : 0.000000000 seconds fast of NTP time
Leap status     : Not synchronised
`;
const ntpqSynced = `associd=0 status=0615 leap_none, sync_ntp, 1 event, clock_sync,
version="ntpd 4.2.8p15@1.3728-o (1)", processor="armv7l",
system="Linux/6.1.21-v7l+", leap=00, stratum=2, precision=-20,
rootdelay=12.345, rootdisp=25.678, refid=192.168.1.1,
`;
const ntpqUnsynced = `associd=0 status=c016 leap_alarm, sync_unspec, 1 event, restart,
version="ntpsec-1.2.2", processor="aarch64",
system="Linux/6.6.31+rpt-rpi-v8", leap=11, stratum=16, precision=-23,
`;

describe('clock-trust sources on faked inputs', () => {
  it('timesyncd: trusted once its sync marker exists', async () => {
    expect(await timesyncdProbe(MARKER).check(fakeIo({ [MARKER]: '' }))).toMatchObject({ synced: true });
    expect(await timesyncdProbe(MARKER).check(fakeIo())).toEqual({ synced: false, detail: `no systemd-timesyncd sync marker (${MARKER})` });
  });

  it('chrony: trusted on leap status Normal (or a leap second pending), not before it has a source', async () => {
    expect(await chronyProbe().check(fakeIo({}, { [CHRONYC]: chronySynced }))).toEqual({ synced: true, detail: 'chrony is synchronised (leap status Normal)' });
    expect(await chronyProbe().check(fakeIo({}, { [CHRONYC]: chronySynced.replace('Normal', 'Insert second') }))).toMatchObject({ synced: true });
    expect(await chronyProbe().check(fakeIo({}, { [CHRONYC]: chronyUnsynced }))).toEqual({ synced: false, detail: 'chrony is not synchronised yet' });
    expect(await chronyProbe().check(fakeIo({}, { [CHRONYC]: 'Reference ID : 00000000 ()\n' }))).toMatchObject({ synced: false });
    expect(await chronyProbe().check(fakeIo())).toMatchObject({ synced: false, detail: expect.stringMatching(/chronyc tracking did not answer/) });
  });

  it('ntp: trusted when the kernel says NTP-synchronised, else by ntpq when it answers', async () => {
    const kernelYes = fakeIo({}, { [TIMEDATECTL]: 'yes\n', [NTPQ]: ntpqUnsynced });
    expect(await ntpProbe().check(kernelYes)).toMatchObject({ synced: true, detail: expect.stringMatching(/NTPSynchronized=yes/) });
    expect(kernelYes.ran).toEqual([TIMEDATECTL]);

    expect(await ntpProbe().check(fakeIo({}, { [TIMEDATECTL]: 'no\n' }))).toEqual({
      synced: false,
      detail: 'the kernel clock is not NTP-synchronised (timedatectl NTPSynchronized=no)',
    });
    // No systemd: ntpd or ntpsec answers for itself.
    expect(await ntpProbe().check(fakeIo({}, { [NTPQ]: ntpqSynced }))).toEqual({ synced: true, detail: 'ntpd is synchronised (leap=00, stratum 2)' });
    expect(await ntpProbe().check(fakeIo({}, { [NTPQ]: ntpqUnsynced }))).toEqual({ synced: false, detail: 'ntpd is not synchronised (leap=11, stratum 16)' });
    expect(await ntpProbe().check(fakeIo({}, { [NTPQ]: ntpqSynced.replace('stratum=2', 'stratum=16') }))).toMatchObject({ synced: false });
    expect(await ntpProbe().check(fakeIo())).toEqual({ synced: false, detail: 'neither timedatectl nor ntpq answered' });
  });

  it('rtc: trusted when the kernel set the clock from rtc0 at boot (hctosys 1)', async () => {
    expect(await rtcProbe(RTC).check(fakeIo({ [RTC]: '', [`${RTC}/hctosys`]: '1\n' }))).toEqual({
      synced: true,
      detail: `the clock was set from the RTC at boot (${RTC})`,
    });
    expect(await rtcProbe(RTC).check(fakeIo({ [RTC]: '', [`${RTC}/hctosys`]: '0\n' }))).toMatchObject({ synced: false, detail: expect.stringMatching(/hctosys is 0/) });
    expect(await rtcProbe(RTC).check(fakeIo({ [RTC]: '' }))).toMatchObject({ synced: false, detail: expect.stringMatching(/hctosys is unreadable/) });
    expect(await rtcProbe(RTC).check(fakeIo())).toEqual({ synced: false, detail: `no RTC (${RTC})` });
  });

  describe('auto', () => {
    const auto = autoProbe(CLOCK_TRUST_DEFAULTS);

    it('is trusted by any one source, files first: no command runs when timesyncd or the RTC vouches', async () => {
      const timesyncd = fakeIo({ [MARKER]: '' });
      expect(await auto.check(timesyncd)).toMatchObject({ synced: true, detail: expect.stringMatching(/timesyncd/) });
      const rtc = fakeIo({ [RTC]: '', [`${RTC}/hctosys`]: '1' });
      expect(await auto.check(rtc)).toMatchObject({ synced: true, detail: expect.stringMatching(/RTC/) });
      expect([...timesyncd.ran, ...rtc.ran]).toEqual([]);
    });

    it('asks chronyc only while chronyd runs (its socket exists)', async () => {
      const noChrony = fakeIo({}, { [CHRONYC]: chronySynced });
      expect(await auto.check(noChrony)).toMatchObject({ synced: false });
      expect(noChrony.ran).not.toContain(CHRONYC);
      const chrony = fakeIo({ [CHRONY_SOCKET]: '' }, { [CHRONYC]: chronySynced });
      expect(await auto.check(chrony)).toEqual({ synced: true, detail: 'chrony is synchronised (leap status Normal)' });
    });

    it('is trusted by the kernel NTP state (ntpd, ntpsec) when nothing else vouches', async () => {
      expect(await auto.check(fakeIo({}, { [TIMEDATECTL]: 'yes' }))).toMatchObject({ synced: true, detail: expect.stringMatching(/kernel/) });
    });

    it('says what every source said when none vouches', async () => {
      const answer = await auto.check(fakeIo({ [RTC]: '', [`${RTC}/hctosys`]: '0' }, { [TIMEDATECTL]: 'no' }));
      expect(answer.synced).toBe(false);
      expect(answer.detail).toBe(
        `no source vouches for the clock: no systemd-timesyncd sync marker (${MARKER}); the RTC did not set the clock at boot (${RTC}/hctosys is 0); ` +
          `chrony not running (${CHRONY_SOCKET}); the kernel clock is not NTP-synchronised (timedatectl NTPSynchronized=no)`,
      );
    });
  });
});

describe('the clock trust the gateway reads', () => {
  const options = { ...CLOCK_TRUST_DEFAULTS, trust: 'timesyncd' as const };

  it('is not trusted until a source has answered, then keeps the last answer for readers that cannot wait', async () => {
    const io = fakeIo({ [MARKER]: '' });
    const trust = createClockTrust(options, io);
    expect(trust.current()).toEqual({ trusted: false, detail: 'not yet checked (clock.trust: timesyncd)' });
    expect(await trust.refresh()).toMatchObject({ trusted: true });
    delete io.files[MARKER];
    expect(trust.current().trusted).toBe(true);
    await trust.refresh();
    expect(trust.current()).toMatchObject({ trusted: false });
  });

  it('runs one check at a time: a refresh while one is under way joins it', async () => {
    let checks = 0;
    let release: (value: boolean) => void = () => {};
    const io: ClockProbeIo = {
      ...fakeIo(),
      exists: () => {
        checks++;
        return new Promise((resolve) => (release = resolve));
      },
    };
    const trust = createClockTrust(options, io);
    const first = trust.refresh();
    const second = trust.refresh();
    expect(second).toBe(first);
    release(true);
    expect(await second).toMatchObject({ trusted: true });
    expect(checks).toBe(1);
    const third = trust.refresh();
    release(false);
    expect(await third).toMatchObject({ trusted: false });
    expect(checks).toBe(2);
  });

  it('takes a probe that throws as not trusted, without rejecting', async () => {
    const io: ClockProbeIo = { ...fakeIo(), exists: () => Promise.reject(new Error('EIO')) };
    expect(await createClockTrust(options, io).refresh()).toEqual({ trusted: false, detail: 'clock check failed: EIO' });
  });

  it('trusted and untrusted are fixed and probe nothing', async () => {
    const io = fakeIo();
    const trusted = createClockTrust({ ...options, trust: 'trusted' }, io);
    const untrusted = createClockTrust({ ...options, trust: 'untrusted' }, io);
    expect(trusted.current().trusted).toBe(true);
    expect((await trusted.refresh()).trusted).toBe(true);
    expect(untrusted.current().trusted).toBe(false);
    expect((await untrusted.refresh()).trusted).toBe(false);
    expect(io.ran).toEqual([]);
  });

  it('is chosen in the config by name, with auto the default', () => {
    const base = { site: 'town', policyFile: 'policy.yaml', hardware: { gpio: { driver: 'simulated' as const }, readers: [{ id: 'entry', driver: 'simulated' as const }] } };
    expect(parseGatewayConfig(base).clock).toEqual({ trust: 'auto', ...CLOCK_TRUST_DEFAULTS });
    for (const trust of ['auto', 'timesyncd', 'chrony', 'ntp', 'rtc', 'trusted', 'untrusted'] as const) {
      expect(parseGatewayConfig({ ...base, clock: { trust } }).clock.trust).toBe(trust);
    }
    expect(() => parseGatewayConfig({ ...base, clock: { trust: 'gps' } })).toThrow(/clock\.trust/);
  });
});

describe('the real probe I/O', () => {
  const io = systemProbeIo();

  it('reads files and answers undefined or false for what is not there, never throwing', async () => {
    expect(await io.readFile(new URL(import.meta.url).pathname)).toContain('the real probe I/O');
    expect(await io.readFile('/nonexistent/oag/hctosys')).toBeUndefined();
    expect(await io.exists(new URL(import.meta.url).pathname)).toBe(true);
    expect(await io.exists('/nonexistent/oag/synchronized')).toBe(false);
  });

  it('runs a command without blocking and gives its output; undefined when it fails or is not installed', async () => {
    expect(await io.run(process.execPath, ['-e', 'console.log("Leap status     : Normal")'])).toBe('Leap status     : Normal\n');
    expect(await io.run(process.execPath, ['-e', 'process.exit(3)'])).toBeUndefined();
    expect(await io.run('oag-no-such-command-anywhere', [])).toBeUndefined();
  });
});
