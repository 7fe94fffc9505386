import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { runCheckConfig } from '../../../scripts/commands/check-config.js';
import { runSchedule, type CommandIo } from '../../../scripts/commands/schedule.js';
import { EXAMPLES_DIR } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const run = promisify(execFile);

function capture(): CommandIo & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    out: (t: string) => {
      io.stdout += t;
    },
    err: (t: string) => {
      io.stderr += t;
    },
  };
  return io;
}

const neverNow = (): Date => {
  throw new Error('the clock must not be read when --at or --week is given');
};

const tmp = mkdtempSync(join(tmpdir(), 'oag-policies-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const BAD = join(tmp, 'bad.yaml');
writeFileSync(
  BAD,
  ['version: 1', 'site: town', 'timezone: Mars/Olympus', 'schedule:', '  weekly:', '    mon:', '      - { from: "10:00", to: "09:00", mode: staffed }', ''].join('\n'),
);

describe('oag schedule (in process)', () => {
  it('--at prints the mode and its bounds, as UTC and local times', async () => {
    const io = capture();
    expect(await runSchedule({ policy: `${EXAMPLES_DIR}town.yaml`, at: '2026-10-25T01:30:00Z' }, io, neverNow)).toBe(0);
    expect(JSON.parse(io.stdout)).toEqual({
      site: 'town-central',
      version: 1,
      timezone: 'Europe/London',
      at: '2026-10-25T01:30:00.000Z',
      atLocal: '2026-10-25T01:30:00+00:00',
      mode: 'closed',
      since: '2026-10-24T19:00:00.000Z',
      sinceLocal: '2026-10-24T20:00:00+01:00',
      until: '2026-10-25T10:00:00.000Z',
      untilLocal: '2026-10-25T10:00:00+00:00',
      bookings: [],
    });
  });

  it('--at also takes a local time in the policy zone', async () => {
    const io = capture();
    expect(await runSchedule({ policy: `${EXAMPLES_DIR}town.yaml`, at: '2026-06-15T13:05' }, io, neverNow)).toBe(0);
    expect(JSON.parse(io.stdout)).toMatchObject({ at: '2026-06-15T12:05:00.000Z', mode: 'changeover', untilLocal: '2026-06-15T13:15:00+01:00' });
  });

  it('--week prints seven days with their spans, and the transitions, across the March change', async () => {
    const io = capture();
    expect(await runSchedule({ policy: `${EXAMPLES_DIR}town.yaml`, week: '2026-03-23' }, io, neverNow)).toBe(0);
    const week = JSON.parse(io.stdout) as { days: { date: string; hours: number; spans: { mode: string; from: string; to: string }[] }[]; transitions: unknown[] };
    expect(week.days.map((d) => d.date)).toEqual(['2026-03-23', '2026-03-24', '2026-03-25', '2026-03-26', '2026-03-27', '2026-03-28', '2026-03-29']);
    expect(week.days[6]?.hours).toBe(23);
    expect(week.days[0]?.spans.map((s) => `${s.from}-${s.to} ${s.mode}`)).toEqual([
      '00:00-08:00 closed',
      '08:00-10:00 open-access',
      '10:00-13:00 staffed',
      '13:00-13:15 changeover',
      '13:15-20:00 open-access',
      '20:00-24:00 closed',
    ]);
    expect(week.days[6]?.spans.map((s) => `${s.from}-${s.to} ${s.mode}`)).toEqual(['00:00-10:00 closed', '10:00-16:00 open-access', '16:00-24:00 closed']);
    expect(week.transitions).toHaveLength(6 * 5 + 2);
  });

  it('lists the week’s bookings', async () => {
    const io = capture();
    expect(await runSchedule({ policy: `${EXAMPLES_DIR}hub.yaml`, week: '2026-11-09' }, io, neverNow)).toBe(0);
    expect(JSON.parse(io.stdout).bookings).toEqual([
      {
        group: '1st-riverside-scouts',
        label: '1st Riverside Scouts',
        from: '2026-11-10T18:30:00.000Z',
        fromLocal: '2026-11-10T18:30:00+00:00',
        to: '2026-11-10T20:30:00.000Z',
        toLocal: '2026-11-10T20:30:00+00:00',
      },
    ]);
  });

  it('refuses bad options with exit code 2, and a bad policy with 1', async () => {
    let io = capture();
    expect(await runSchedule({ policy: `${EXAMPLES_DIR}town.yaml`, at: 'tomorrow' }, io, neverNow)).toBe(2);
    expect(io.stderr).toMatch(/^--at: /);
    io = capture();
    expect(await runSchedule({ policy: `${EXAMPLES_DIR}town.yaml`, week: '2026-02-30' }, io, neverNow)).toBe(2);
    io = capture();
    expect(await runSchedule({ policy: BAD, at: '2026-01-01T00:00:00Z' }, io, neverNow)).toBe(1);
    expect(io.stdout).toBe('');
  });
});

describe('oag check-config (in process)', () => {
  it('accepts a good policy', async () => {
    const io = capture();
    expect(await runCheckConfig(`${EXAMPLES_DIR}hub.yaml`, io)).toBe(0);
    expect(io.stdout).toBe('ok: policy riverside-hub v3\n');
  });

  it('lists every error of a bad policy, one per line', async () => {
    const io = capture();
    expect(await runCheckConfig(BAD, io)).toBe(1);
    expect(io.stderr).toBe('timezone: must be an IANA time zone such as "Europe/London"\nschedule.weekly.mon[0].to: must be after from\n');
  });

  it('hands a file without `schedule` to the gateway config checker', async () => {
    const file = join(tmp, 'gateway.yaml');
    writeFileSync(file, 'site: town-central\npolicyFile: town.yaml\nbogus: 1\n');
    const io = capture();
    expect(await runCheckConfig(file, io)).toBe(1);
    expect(io.stderr).toContain('bogus: unknown key');
  });

  it('refuses a gateway config whose MQTT password file or key file cannot be read, naming each', async () => {
    const file = join(tmp, 'gateway-files.yaml');
    writeFileSync(join(tmp, 'town.yaml'), readFileSync(join(ROOT, 'policies/examples/town.yaml')));
    writeFileSync(
      file,
      'site: town-central\npolicyFile: town.yaml\nhardware: { gpio: { driver: simulated }, readers: [{ id: entry, driver: simulated }] }\ndeploymentKeyFile: nokey.hex\nmqtt: { url: "mqtts://broker.example:8883", username: town-central, passwordFile: /nonexistent/mqtt.pw, centralKeys: [/nonexistent/central.pub] }\n',
    );
    const io = capture();
    const saved = process.env.OAG_DEPLOYMENT_KEY;
    delete process.env.OAG_DEPLOYMENT_KEY;
    try {
      expect(await runCheckConfig(file, io)).toBe(1);
    } finally {
      if (saved !== undefined) process.env.OAG_DEPLOYMENT_KEY = saved;
    }
    expect(io.stderr).toContain('mqtt.passwordFile (/nonexistent/mqtt.pw): cannot read: ENOENT');
    expect(io.stderr).toContain('/nonexistent/central.pub');
    expect(io.stderr).toMatch(/deploymentKeyFile \(.*nokey\.hex\): cannot read: ENOENT/);
    expect(io.stdout).toBe('');
  });

  it('reports a missing file', async () => {
    const io = capture();
    expect(await runCheckConfig(join(tmp, 'missing.yaml'), io)).toBe(1);
    expect(io.stderr).toMatch(/missing\.yaml: cannot read: ENOENT/);
  });
});

describe('oag via bin/oag.js', () => {
  it('schedule prints JSON; check-config exits 1 on a bad file with the errors on stderr', async () => {
    const { stdout } = await run(process.execPath, ['bin/oag.js', 'schedule', '--policy', 'policies/examples/town.yaml', '--at', '2026-10-25T01:30:00Z'], { cwd: ROOT });
    expect(JSON.parse(stdout)).toMatchObject({ mode: 'closed', until: '2026-10-25T10:00:00.000Z' });

    const failure = await run(process.execPath, ['bin/oag.js', 'check-config', BAD], { cwd: ROOT }).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toContain('schedule.weekly.mon[0].to: must be after from');

    const ok = await run(process.execPath, ['bin/oag.js', 'check-config', 'policies/examples/village.yaml'], { cwd: ROOT });
    expect(ok.stdout).toBe('ok: policy little-wickham v1\n');
  }, 60_000);

  it('--version prints the version in package.json', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const { stdout } = await run(process.execPath, ['bin/oag.js', '--version'], { cwd: ROOT });
    expect(stdout).toBe(`${version}\n`);
  }, 60_000);
});
