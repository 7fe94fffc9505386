// sd_notify for a Type=notify unit: READY=1 when the service is up, WATCHDOG=1 at half of WATCHDOG_USEC from the
// event loop (a hung loop stops the pings, systemd kills and restarts the service, and the outputs go back to their
// safe level on the next start), STATUS= for `systemctl status`, STOPPING=1 on shutdown. Without NOTIFY_SOCKET
// (a terminal, a test, the demo) every call is a no-op. Modelled on Zigbee2MQTT's lib/util/sd-notify.ts.
//
// How a message reaches systemd, and why: the protocol is one AF_UNIX SOCK_DGRAM datagram to NOTIFY_SOCKET, and
// Node's dgram has no unix datagram sockets. Zigbee2MQTT loads `unix-dgram` (a node-gyp addon) as an optional
// dependency; `sd-notify` needs libsystemd-dev and a compiler too. A native addon that fails to build turns into a
// service with no watchdog at all, or into a failed `npm ci` on a Pi. Instead each message is one run of
// `systemd-notify` (Debian package `systemd`, on every Pi), which is libsystemd's own sd_notify: it speaks every
// address form systemd uses (a path, an abstract `@name`, `vsock:` on newer systemd) and, since systemd 246, waits
// on a barrier until PID 1 has read the message, so the message is still attributed to our unit after the short-lived
// sender exits (socat has no such barrier). The price is that the sender is a child, not the main PID: the unit needs
// `NotifyAccess=all` (systemd/oag-gateway.service says so), and a fork every few seconds, a few milliseconds on a Pi.
import { execFile } from 'node:child_process';

/** Fits a pino logger as well as `console`. */
export interface SystemdNotifyLogger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
}

/**
 * Delivers one notification datagram (the assignments joined by newlines) to the socket named in NOTIFY_SOCKET.
 * Resolves once delivered, rejects on failure; it must settle in bounded time.
 */
export type NotifySender = (notifySocket: string, assignments: readonly string[]) => Promise<void>;

export interface SystemdNotifyOptions {
  logger?: SystemdNotifyLogger;
  env?: Readonly<Record<string, string | undefined>>;
  /** The pid WATCHDOG_PID must name for the watchdog to be ours; defaults to this process. */
  pid?: number;
  /** Defaults to `systemdNotifyCommand()`; tests inject their own. */
  send?: NotifySender;
}

export interface SystemdNotifier {
  /** False when not started by systemd as a Type=notify service: every method is then a no-op. */
  readonly enabled: boolean;
  /** Milliseconds between WATCHDOG=1 pings, or undefined when the unit has no watchdog for this process. */
  readonly watchdogIntervalMs: number | undefined;
  /** READY=1: start-up is complete. Sent once. */
  ready(): void;
  /** STATUS=: one line shown by `systemctl status`. */
  status(text: string): void;
  /** STOPPING=1: shutdown has begun (outputs going to their safe state). Sent once. */
  stopping(): void;
  /** Stops the watchdog pings; later calls are no-ops. Call it last on shutdown. */
  stop(): void;
}

export interface NotifyEnvironment {
  /** NOTIFY_SOCKET as given: `/path`, `@abstract` or `vsock:...`; undefined when notification is off. */
  socket: string | undefined;
  watchdogIntervalMs: number | undefined;
  /** Why something in the environment was ignored, for the log. */
  problems: string[];
}

/** Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID the way sd_notify(3) and sd_watchdog_enabled(3) do. */
export function readNotifyEnvironment(env: Readonly<Record<string, string | undefined>>, pid: number): NotifyEnvironment {
  const problems: string[] = [];
  const raw = env.NOTIFY_SOCKET;
  if (raw === undefined || raw === '') return { socket: undefined, watchdogIntervalMs: undefined, problems };

  const addressable = (raw.startsWith('/') || raw.startsWith('@') || raw.startsWith('vsock:')) && raw.length >= 2;
  if (!addressable) {
    problems.push(`NOTIFY_SOCKET=${JSON.stringify(raw)} is neither a path, an abstract name (@...) nor vsock:; not notifying systemd`);
    return { socket: undefined, watchdogIntervalMs: undefined, problems };
  }

  const usecText = env.WATCHDOG_USEC;
  if (usecText === undefined || usecText === '') return { socket: raw, watchdogIntervalMs: undefined, problems };

  const pidText = env.WATCHDOG_PID;
  if (pidText !== undefined && pidText !== '' && pidText !== String(pid)) {
    // Inherited from a parent that owns the watchdog: pinging it from here would keep a hung parent alive.
    problems.push(`WATCHDOG_PID=${pidText} is not this process (${pid}); not pinging the watchdog`);
    return { socket: raw, watchdogIntervalMs: undefined, problems };
  }

  if (!/^\d+$/.test(usecText) || Number(usecText) === 0) {
    problems.push(`WATCHDOG_USEC=${JSON.stringify(usecText)} is not a positive number of microseconds; not pinging the watchdog`);
    return { socket: raw, watchdogIntervalMs: undefined, problems };
  }
  // Half the timeout, as sd_watchdog_enabled(3) advises: one late ping must not cost a restart.
  const watchdogIntervalMs = Math.max(1, Math.floor(Number(usecText) / 2000));
  return { socket: raw, watchdogIntervalMs, problems };
}

/** One line of STATUS=: a newline would start a new assignment (a status text could otherwise say READY=1). */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}

export interface SystemdNotifyCommandOptions {
  /** The systemd-notify binary; found on PATH by default. */
  command?: string;
  /** Kill a sender that has not finished by then, so a stuck barrier cannot hold the queue. */
  timeoutMs?: number;
}

/** The default sender: one `systemd-notify VAR=VALUE...` run per message (see the head of this file for why). */
export function systemdNotifyCommand(options: SystemdNotifyCommandOptions = {}): NotifySender {
  const command = options.command ?? 'systemd-notify';
  const timeout = options.timeoutMs ?? 5_000;
  return (notifySocket, assignments) =>
    new Promise<void>((resolve, reject) => {
      execFile(
        command,
        [...assignments],
        // Only what systemd-notify needs: it must not see a WATCHDOG_PID or anything else of ours.
        { env: { NOTIFY_SOCKET: notifySocket, PATH: process.env.PATH ?? '/usr/bin:/bin' }, timeout, killSignal: 'SIGKILL' },
        (error, _stdout, stderr) => {
          if (!error) return resolve();
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') {
            return reject(new Error(`${command} not found: install the Debian package systemd`));
          }
          const detail = stderr.trim() || error.message;
          reject(new Error(`${command} ${assignments.join(' ')} failed: ${detail}`));
        },
      );
    });
}

const silent: SystemdNotifyLogger = { debug() {}, info() {}, warn() {} };

const disabled: SystemdNotifier = {
  enabled: false,
  watchdogIntervalMs: undefined,
  ready() {},
  status() {},
  stopping() {},
  stop() {},
};

/**
 * Call early in the composition root, before the slow parts of start-up (the watchdog only counts once READY=1 is
 * sent, and pinging before then is harmless); `ready()` once the doors are driven and the readers are listening;
 * on SIGTERM `stopping()`, then the safe-state shutdown, then `stop()`.
 */
export function startSystemdNotify(options: SystemdNotifyOptions = {}): SystemdNotifier {
  const logger = options.logger ?? silent;
  const { socket, watchdogIntervalMs, problems } = readNotifyEnvironment(options.env ?? process.env, options.pid ?? process.pid);
  for (const problem of problems) logger.warn(`systemd notify: ${problem}`);
  if (socket === undefined) return disabled;

  const send = options.send ?? systemdNotifyCommand();
  let stopped = false;
  let readySent = false;
  let stoppingSent = false;
  let pingInFlight = false;
  let lastFailure: string | undefined;
  // One message at a time, in order: READY=1 must not overtake an earlier STATUS=, nor STOPPING=1 overtake READY=1.
  let queue: Promise<void> = Promise.resolve();

  const enqueue = (assignments: string[], settled?: () => void): void => {
    queue = queue
      .then(() => send(socket, assignments))
      .then(
        () => {
          if (lastFailure !== undefined) logger.info('systemd notify: delivering again');
          lastFailure = undefined;
        },
        (error: unknown) => {
          const message = error instanceof Error ? error.message : String(error);
          // Once per distinct failure, not every few seconds: the journal of a Pi on an SD card is precious.
          if (message !== lastFailure) logger.warn(`systemd notify: ${message}`);
          lastFailure = message;
        },
      )
      .finally(settled);
  };

  let timer: NodeJS.Timeout | undefined;
  if (watchdogIntervalMs !== undefined) {
    // setInterval on the main thread, not a worker: the pings must stop when this event loop stops turning.
    timer = setInterval(() => {
      // A ping still waiting means the sender is slow, not that we are hung: don't pile up children behind it.
      if (pingInFlight) return;
      pingInFlight = true;
      enqueue(['WATCHDOG=1'], () => {
        pingInFlight = false;
      });
    }, watchdogIntervalMs);
    // The watchdog must never be the thing that keeps a finished process alive.
    timer.unref();
    logger.debug(`systemd notify: watchdog ping every ${watchdogIntervalMs} ms`);
  }

  return {
    enabled: true,
    watchdogIntervalMs,
    ready() {
      if (stopped || readySent) return;
      readySent = true;
      enqueue(['READY=1']);
    },
    status(text: string) {
      if (stopped) return;
      enqueue([`STATUS=${oneLine(text)}`]);
    },
    stopping() {
      if (stopped || stoppingSent) return;
      stoppingSent = true;
      enqueue(['STOPPING=1']);
    },
    stop() {
      stopped = true;
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
    },
  };
}
