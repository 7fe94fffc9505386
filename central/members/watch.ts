// A folder the LMS drops its nightly member export into. Each CSV that has stopped changing is imported, then
// moved to `imported/` (or to `refused/`, with a `.txt` beside it saying why), so a file is read once and an
// operator can see what happened to each night's export.
import { mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Logger } from 'pino';
import { LmsImportError, type LmsImportSummary } from './lms-import.js';

export interface WatchConfig {
  folder: string;
  intervalSeconds: number;
  settleSeconds: number;
}

export class ExportFolderWatch {
  private timer: NodeJS.Timeout | null = null;
  private busy = false;

  constructor(
    private readonly deps: {
      config: WatchConfig;
      importFile: (file: string, source: string) => Promise<LmsImportSummary>;
      clock: { now(): Date };
      logger: Logger;
    },
  ) {}

  start(): void {
    mkdirSync(this.deps.config.folder, { recursive: true });
    this.timer = setInterval(() => void this.scan(), this.deps.config.intervalSeconds * 1000);
    this.timer.unref();
    void this.scan();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Imports every settled CSV in the folder, oldest first. Returns the files it handled. */
  async scan(): Promise<string[]> {
    if (this.busy) return [];
    this.busy = true;
    const handled: string[] = [];
    try {
      const { folder, settleSeconds } = this.deps.config;
      const now = this.deps.clock.now().getTime();
      const files = readdirSync(folder)
        .filter((name) => name.toLowerCase().endsWith('.csv'))
        .map((name) => {
          try {
            const stat = statSync(join(folder, name));
            return stat.isFile() ? { name, mtime: stat.mtimeMs } : null;
          } catch {
            return null;
          }
        })
        .filter((f): f is { name: string; mtime: number } => f !== null && now - f.mtime >= settleSeconds * 1000)
        .sort((a, b) => a.mtime - b.mtime);
      for (const { name } of files) {
        await this.importOne(join(folder, name));
        handled.push(name);
      }
    } catch (err) {
      this.deps.logger.error({ err: (err as Error).message, folder: this.deps.config.folder }, 'cannot read the export folder');
    } finally {
      this.busy = false;
    }
    return handled;
  }

  private async importOne(file: string): Promise<void> {
    const stamp = this.deps.clock.now().toISOString().replace(/[:.]/g, '-');
    const name = basename(file);
    try {
      const summary = await this.deps.importFile(file, `folder:${name}`);
      this.move(file, 'imported', `${stamp}-${name}`);
      this.deps.logger.info({ file: name, version: summary.version, created: summary.created, rejected: summary.rejectedCount }, 'export from the folder imported');
    } catch (error) {
      if (!(error instanceof LmsImportError)) {
        // Not the file's fault (disk, database): leave it for the next scan.
        this.deps.logger.error({ err: (error as Error).message, file: name }, 'export import failed; will try again');
        return;
      }
      const target = this.move(file, 'refused', `${stamp}-${name}`);
      const lines = [error.message, ...error.rejected.slice(0, 1000).map((r) => `line ${r.line}: ${r.reason}`)];
      writeFileSync(`${target}.txt`, `${lines.join('\n')}\n`);
      this.deps.logger.warn({ file: name, error: error.message }, 'export from the folder refused: nothing changed');
    }
  }

  private move(file: string, sub: string, name: string): string {
    const dir = join(this.deps.config.folder, sub);
    mkdirSync(dir, { recursive: true });
    const target = join(dir, name);
    renameSync(file, target);
    return target;
  }
}
