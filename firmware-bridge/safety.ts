// Whatever ends the process, the outputs go to their safe level first: a relay left energised by a crash
// is a door left open (or a maglock left released). Before them only the readers are let go, so that a tap in the
// moment after cannot energise the relay again. Everything else (logging, shutdown) comes after. What no handler
// can cover (SIGKILL, the watchdog's SIGABRT) is the unit's ExecStopPost (`oag outputs-safe`).
import { errorField, type HardwareLogger } from './logger.js';
import type { Hardware } from './types.js';

type ProcessLike = Pick<NodeJS.Process, 'on' | 'off'>;

export interface SafeStateOptions {
  /**
   * Called after the outputs are safe on SIGTERM/SIGINT: the composition root stops the service and exits.
   * Without it the process closes the hardware (bounded by `closeTimeoutMs`) and exits with 0.
   */
  onSignal?: (signal: NodeJS.Signals) => void | Promise<void>;
  /** How the process ends; injectable for tests. */
  exit?: (code: number) => void;
  /** The process to listen on; injectable for tests. */
  process?: ProcessLike;
  closeTimeoutMs?: number;
}

const SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

/**
 * Install the handlers; returns a function that removes them. A second signal while shutting down
 * exits at once (outputs made safe again first). Uncaught errors and unhandled rejections are fatal:
 * outputs safe, log, exit 1, and systemd restarts the service.
 */
export function installSafeStateHandlers(
  hw: Pick<Hardware, 'allSafe' | 'detachReaders' | 'holdSafe' | 'close'>,
  logger: HardwareLogger,
  options: SafeStateOptions = {},
): () => void {
  const proc = options.process ?? process;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const closeTimeoutMs = options.closeTimeoutMs ?? 3000;
  let shuttingDown = false;

  const allSafe = (): void => {
    try {
      hw.allSafe();
    } catch {
      // allSafe never throws by contract; a broken one must not stop the exit path either.
    }
  };
  // The process is ending: readers first, then the outputs safe for good, in one synchronous step.
  const stopSafe = (): void => {
    try {
      hw.detachReaders();
    } catch {
      // never throws by contract; the outputs must go safe whatever happens here
    }
    try {
      hw.holdSafe();
    } catch {
      allSafe();
    }
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    stopSafe();
    if (shuttingDown) {
      logger.warn({ signal }, 'second signal while stopping: exiting now');
      exit(130);
      return;
    }
    shuttingDown = true;
    logger.info({ signal }, 'outputs safe; stopping');
    const stop = options.onSignal ? Promise.resolve().then(() => options.onSignal?.(signal)) : closeWithin(hw, closeTimeoutMs).then(() => exit(0));
    stop.catch((error: unknown) => {
      allSafe();
      logger.error({ err: errorField(error) }, 'error while stopping');
      exit(1);
    });
  };

  const onFatal = (kind: string) => (error: unknown) => {
    stopSafe();
    logger.error({ err: errorField(error), kind }, 'fatal error: outputs safe, exiting');
    exit(1);
  };
  const onUncaught = onFatal('uncaughtException');
  const onUnhandled = onFatal('unhandledRejection');
  const onExit = (): void => allSafe();

  for (const signal of SIGNALS) proc.on(signal, onSignal);
  proc.on('uncaughtException', onUncaught);
  proc.on('unhandledRejection', onUnhandled);
  proc.on('exit', onExit);

  return () => {
    for (const signal of SIGNALS) proc.off(signal, onSignal);
    proc.off('uncaughtException', onUncaught);
    proc.off('unhandledRejection', onUnhandled);
    proc.off('exit', onExit);
  };
}

async function closeWithin(hw: Pick<Hardware, 'close'>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  try {
    await Promise.race([hw.close(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
