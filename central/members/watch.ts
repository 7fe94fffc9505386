// A folder the LMS drops its nightly member export into. Each CSV that has stopped changing is imported once, a
// `*.delta.csv` as a delta (lms-delta.ts: changed rows and deletions, one version) and any other as a full export. The
// files hold every member's card number in clear, so central keeps them no longer than it needs to: an imported
// file is deleted as soon as its import is committed (or kept in `imported/` for `keepImportedDays`), and a refused
// one waits in `refused/`, with a `.txt` beside it saying why, for `keepRefusedDays`, so that someone can look.
// A file that cannot be deleted is logged, never stops an import, and is not imported again.
import { mkdirSync, readdirSync, renameSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Logger } from 'pino';
import { LmsImportError, type LmsImportSummary } from './lms-import.js';

export interface WatchConfig {
  folder: string;
  intervalSeconds: number;
  settleSeconds: number;
  keepImportedDays: number;
  keepRefusedDays: number;
}

const DAY_MS = 86_400_000;

const isDelta = (name: string): boolean => name.toLowerCase().endsWith('.delta.csv');

const errorCode = (error: unknown): string => (error as NodeJS.ErrnoException).code ?? (error as Error).message;

export class ExportFolderWatch {
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  /** Files that could not be deleted (path and time), so each is logged once and an imported one is not read again. */
  private readonly undeletable = new Set<string>();

  constructor(
    private readonly deps: {
      config: WatchConfig;
      importFile: (file: string, source: string) => Promise<LmsImportSummary>;
      /** Imports a `*.delta.csv`; without it such files are left alone (never read as a full export: it would remove everyone else). */
      importDelta?: ((file: string, source: string) => Promise<LmsImportSummary>) | undefined;
      clock: { now(): Date };
      logger: Logger;
      /** Deletes a file (unlinkSync; a test hands one that fails). */
      removeFile?: (file: string) => void;
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

  /** Imports every settled CSV in the folder, oldest first, then deletes kept files past their days. Returns the files it imported or refused. */
  async scan(): Promise<string[]> {
    if (this.busy) return [];
    this.busy = true;
    const handled: string[] = [];
    try {
      const { folder, settleSeconds } = this.deps.config;
      const now = this.deps.clock.now().getTime();
      const files = readdirSync(folder)
        .filter((name) => name.toLowerCase().endsWith('.csv') && (this.deps.importDelta !== undefined || !isDelta(name)))
        .map((name) => {
          try {
            const stat = statSync(join(folder, name));
            return stat.isFile() ? { name, mtime: stat.mtimeMs } : null;
          } catch {
            return null;
          }
        })
        .filter((f): f is { name: string; mtime: number } => f !== null && now - f.mtime >= settleSeconds * 1000)
        .filter((f) => !this.undeletable.has(`${join(folder, f.name)}@${f.mtime}`))
        .sort((a, b) => a.mtime - b.mtime);
      for (const { name } of files) {
        await this.importOne(join(folder, name));
        handled.push(name);
      }
    } catch (err) {
      this.deps.logger.error({ err: (err as Error).message, folder: this.deps.config.folder }, 'cannot read the export folder');
    } finally {
      this.purge('imported', this.deps.config.keepImportedDays);
      this.purge('refused', this.deps.config.keepRefusedDays);
      this.busy = false;
    }
    return handled;
  }

  private async importOne(file: string): Promise<void> {
    const stamp = this.deps.clock.now().toISOString().replace(/[:.]/g, '-');
    const name = basename(file);
    let summary: LmsImportSummary;
    try {
      summary = await (isDelta(name) && this.deps.importDelta ? this.deps.importDelta : this.deps.importFile)(file, `folder:${name}`);
    } catch (error) {
      if (!(error instanceof LmsImportError)) {
        // Not the file's fault (disk, database): leave it for the next scan.
        this.deps.logger.error({ err: (error as Error).message, file: name }, 'export import failed; will try again');
        return;
      }
      const target = this.keep(file, 'refused', `${stamp}-${name}`);
      const lines = [error.message, ...error.rejected.slice(0, 1000).map((r) => `line ${r.line}: ${r.reason}`)];
      writeFileSync(`${target}.txt`, `${lines.join('\n')}\n`);
      this.dateNow(`${target}.txt`);
      this.deps.logger.warn({ file: name, error: error.message, keptDays: this.deps.config.keepRefusedDays }, 'export from the folder refused: nothing changed');
      return;
    }
    // The import is committed: from here on a failure to tidy the file up is logged, and the import stands.
    const kept = this.deps.config.keepImportedDays > 0;
    if (kept) {
      try {
        this.keep(file, 'imported', `${stamp}-${name}`);
      } catch (error) {
        this.deps.logger.error({ err: errorCode(error), file: name }, 'cannot move the imported export to imported/; deleting it instead');
        this.delete(file, 'imported export');
      }
    } else {
      this.delete(file, 'imported export');
    }
    this.deps.logger.info({ file: name, version: summary.version, created: summary.created, rejected: summary.rejectedCount, kept }, 'export from the folder imported');
  }

  /** Moves a file into `sub/`, dated now: its days there count from now, not from when the LMS wrote it. */
  private keep(file: string, sub: string, name: string): string {
    const dir = join(this.deps.config.folder, sub);
    mkdirSync(dir, { recursive: true });
    const target = join(dir, name);
    renameSync(file, target);
    this.dateNow(target);
    return target;
  }

  private dateNow(file: string): void {
    const now = this.deps.clock.now();
    utimesSync(file, now, now);
  }

  /** Deletes a file; a failure is logged once (the file holds clear card numbers: someone must see to it). */
  private delete(file: string, what: string, mtime?: number): boolean {
    try {
      (this.deps.removeFile ?? unlinkSync)(file);
      return true;
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return true;
      const key = `${file}@${mtime ?? this.mtimeOf(file)}`;
      if (!this.undeletable.has(key)) {
        this.undeletable.add(key);
        this.deps.logger.error({ err: errorCode(error), file }, `cannot delete the ${what}, which holds clear card numbers: delete it by hand`);
      }
      return false;
    }
  }

  private mtimeOf(file: string): number {
    try {
      return statSync(file).mtimeMs;
    } catch {
      return 0;
    }
  }

  /** Deletes the files in `sub/` kept longer than `days`. */
  private purge(sub: 'imported' | 'refused', days: number): void {
    const dir = join(this.deps.config.folder, sub);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') this.deps.logger.error({ err: errorCode(error), folder: dir }, 'cannot read the folder of kept exports');
      return;
    }
    const before = this.deps.clock.now().getTime() - days * DAY_MS;
    let deleted = 0;
    for (const name of names) {
      const file = join(dir, name);
      let mtime: number;
      try {
        const stat = statSync(file);
        if (!stat.isFile()) continue;
        mtime = stat.mtimeMs;
      } catch {
        continue;
      }
      if (mtime > before || this.undeletable.has(`${file}@${mtime}`)) continue;
      if (this.delete(file, `${sub} export`, mtime)) deleted++;
    }
    if (deleted > 0) this.deps.logger.info({ folder: dir, deleted, days }, 'kept exports past their days deleted');
  }
}
