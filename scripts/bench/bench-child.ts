// The benches' (and the cluster tests') child processes: `oag central` and the MQTT publisher each in a process of its
// own, spoken to over the IPC channel. One place for how they are forked, awaited and ended.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A child of scripts/bench: compiled (dist/, npm run bench) it is plain JavaScript; from the sources it runs under tsx. */
export function forkBenchChild(name: 'ingest-central' | 'ingest-publisher', flag: string): ChildProcess {
  const compiled = import.meta.url.endsWith('.js');
  const script = fileURLToPath(new URL(`./${name}.${compiled ? 'js' : 'ts'}`, import.meta.url));
  return fork(script, [flag], { execArgv: compiled ? [] : ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

/** Whether it has exited (or was killed). */
export const childGone = (child: ChildProcess): boolean => child.exitCode !== null || child.signalCode !== null;

/** Resolves once it has exited (at once if it has). */
export const childExited = (child: ChildProcess): Promise<unknown> => (childGone(child) ? Promise.resolve() : new Promise((r) => child.once('exit', r)));

/** The child's next message; its exit before one, as an error naming `what`. */
export function nextMessage<T>(child: ChildProcess, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null, signal: string | null): void => reject(new Error(`${what} exited (${signal ?? code}) before answering`));
    child.once('exit', onExit);
    child.once('message', (m: T) => {
      child.off('exit', onExit);
      resolve(m);
    });
  });
}

/** Ends a child: "close" first, so that central closes its stores; a kill if it has not gone `graceMs` later. */
export async function endChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (childGone(child)) return;
  const exited = childExited(child);
  if (child.connected) child.send('close');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
