// `oag doctor`: every check of a branch from the inside, in the order a technician would walk it. Read-only
// throughout, so that it runs beside the service (the lines, the store's write lock and the readers stay the
// gateway's) as well as with it stopped. What each check reads from the machine is injectable for the tests.
import { execFile } from 'node:child_process';
import { userInfo } from 'node:os';
import { pcscdSocketPath, probePcscd } from '../../firmware-bridge/readers/pcscd-probe.js';
import { withDoorSafeHardware } from '../config.js';
import type { ClockProbeIo } from '../core/clock-trust.js';
import { checkBroker, checkCentralKeys } from './broker-checks.js';
import { checkClock } from './clock-check.js';
import { checkConfig, checkPolicy } from './config-checks.js';
import { checkConsole } from './console-check.js';
import type { Finding } from './findings.js';
import { checkGpio } from './gpio-checks.js';
import { checkKeypad, checkReaders, listPcscReaders, type ReaderCheckDeps } from './reader-checks.js';
import { checkSound, type RunCommand } from './sound-check.js';
import { checkStore } from './store-checks.js';

export interface DoctorDeps {
  env: NodeJS.ProcessEnv;
  now: () => Date;
  /** How long the broker and the console each have to answer. */
  timeoutMs: number;
  clockProbeIo?: ClockProbeIo | undefined;
  readers: ReaderCheckDeps;
  run: RunCommand;
  freeBytes?: ((path: string) => number) | undefined;
}

export interface DoctorReport {
  site: string | undefined;
  findings: Finding[];
}

export function systemDoctorDeps(env: NodeJS.ProcessEnv = process.env): DoctorDeps {
  return {
    env,
    now: () => new Date(),
    timeoutMs: 5000,
    readers: { pcscdUp: () => probePcscd(pcscdSocketPath(env)), listPcscReaders: () => listPcscReaders(), procDevices: '/proc/bus/input/devices' },
    run: runCommand,
  };
}

export async function runDoctor(configPath: string, deps: DoctorDeps): Promise<DoctorReport> {
  const { config, findings } = checkConfig(configPath, deps.env);
  if (config === undefined) return { site: undefined, findings };
  // First, though listed last: whether the gateway runs tells an output it drives from one left off its safe level.
  const consoleCheck = await checkConsole(config, deps.timeoutMs);
  const hardware = withDoorSafeHardware(config.hardware, config.lock.type);
  const user = safeUser();
  findings.push(
    ...checkPolicy(config),
    ...checkStore(config, { user, now: deps.now(), freeBytes: deps.freeBytes }),
    ...(await checkClock(config, deps.clockProbeIo)),
    ...(await checkGpio({ hardware, gateway: consoleCheck.gateway, configPath })),
    ...(await checkReaders(hardware, deps.readers)),
    ...checkKeypad(hardware, deps.readers),
    ...(await checkSound(config, deps.run, configPath)),
    ...(await checkBroker(config, deps.timeoutMs)),
    ...checkCentralKeys(config),
    ...consoleCheck.findings,
  );
  return { site: config.site, findings };
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}

const runCommand: RunCommand = (file, args) =>
  new Promise((resolve) => {
    execFile(file, [...args], { timeout: 5000, killSignal: 'SIGKILL', maxBuffer: 256 * 1024, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } }, (error, stdout, stderr) => {
      if (error === null) resolve({ stdout });
      else resolve({ error: stderr.split('\n')[0]?.trim() || error.message, missing: (error as NodeJS.ErrnoException).code === 'ENOENT' });
    });
  });
