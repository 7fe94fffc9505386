// What `oag members import` and `oag central members import` share: the progress bar (a line every 10% when
// stderr is not a terminal) and the list of rejected rows.
import { SingleBar } from 'cli-progress';
import type { CommandIo } from './schedule.js';

/** How an import reports progress: a bar on a terminal, else a line every 10%. */
export interface ProgressOutput {
  tty: boolean;
  stream?: NodeJS.WritableStream | undefined;
}

/** The progress both importers report. */
export interface ImportProgressLike {
  phase: 'reading' | 'applying' | 'done';
  rows: number;
  bytesRead: number;
  totalBytes: number;
}

const SHOWN_REJECTIONS = 20;

export function fmt(n: number): string {
  return n.toLocaleString('en-GB');
}

export function progressReporter(io: CommandIo, output: ProgressOutput, applying: string): { update(p: ImportProgressLike): void; stop(): void } {
  if (output.tty) {
    const bar = new SingleBar({
      stream: output.stream ?? process.stderr,
      format: 'members |{bar}| {percentage}% | {rows} rows | {phase}',
      hideCursor: true,
      clearOnComplete: true,
    });
    let started = false;
    return {
      update(p) {
        if (!started) {
          bar.start(p.totalBytes, 0, { rows: 0, phase: 'reading' });
          started = true;
        }
        bar.update(p.phase === 'reading' ? p.bytesRead : p.totalBytes, { rows: fmt(p.rows), phase: p.phase === 'reading' ? 'reading' : 'applying' });
      },
      stop: () => {
        if (started) bar.stop();
      },
    };
  }
  let nextTenth = 1;
  return {
    update(p) {
      if (p.phase === 'applying') {
        io.err(`read ${fmt(p.rows)} rows; ${applying}\n`);
        return;
      }
      if (p.phase !== 'reading' || p.totalBytes === 0) return;
      const tenth = Math.floor((p.bytesRead / p.totalBytes) * 10);
      if (tenth >= nextTenth && tenth < 10) {
        io.err(`${tenth * 10}% (${fmt(p.rows)} rows)\n`);
        nextTenth = tenth + 1;
      }
    },
    stop: () => undefined,
  };
}

export function printRejections(write: (text: string) => void, rejected: readonly { line: number; reason: string }[], count: number): void {
  for (const r of rejected.slice(0, SHOWN_REJECTIONS)) write(`    line ${r.line}: ${r.reason}\n`);
  if (count > SHOWN_REJECTIONS) write(`    … and ${fmt(count - SHOWN_REJECTIONS)} more (--json lists up to 10,000)\n`);
}
