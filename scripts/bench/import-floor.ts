// A full member import at central and at a branch, side by side with the floor: the same file loaded by the
// `sqlite3` shell's `.import` into an equivalent table (the export's columns, a primary key on the card number).
//   npx tsx scripts/bench/import-floor.ts [rows]          (or: oag bench --import-floor-only)
// The file is generated once; each import runs in a child process of its own, so that each peak RSS is that
// import's and nothing else's. The goal (issue #18): each import within 3× the floor, under 10 s, RSS under 300 MB.
import { spawnSync, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { GENERATED_CSV_HEADER, generateMembersCsv } from './import.js';

export interface ImportRun {
  seconds: number;
  members: number;
  rejected: number;
  maxRssMb: number;
}

export interface ImportFloorResult {
  rows: number;
  csvMb: number;
  /** Seconds the sqlite3 shell took; null when it is not installed. */
  floorSeconds: number | null;
  branch: ImportRun;
  central: ImportRun;
}

const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

/** The export's columns as text, keyed on the card number as our tables are keyed on its hash. */
function floorTable(): string {
  const [card, ...rest] = GENERATED_CSV_HEADER.split(',');
  return `CREATE TABLE members (${card} TEXT PRIMARY KEY NOT NULL, ${rest.map((c) => `${c} TEXT`).join(', ')}) WITHOUT ROWID;`;
}

function floor(csv: string, dir: string): number | null {
  const db = join(dir, 'floor.sqlite');
  const started = performance.now();
  const run = spawnSync('sqlite3', [db, floorTable(), '.mode csv', `.import --skip 1 ${csv} members`], { encoding: 'utf8' });
  const seconds = (performance.now() - started) / 1000;
  if (run.error !== undefined) return null;
  if (run.status !== 0) throw new Error(`sqlite3 .import failed: ${run.stderr.trim().split('\n')[0] ?? run.status}`);
  return seconds;
}

/** One import in a child process (this script with `--run branch|central`). */
function inChild(side: 'branch' | 'central', csv: string, dir: string): Promise<ImportRun> {
  const script = fileURLToPath(import.meta.url);
  // Compiled (dist/, as on a Pi) the child is plain JavaScript; from the sources it runs under tsx.
  const compiled = import.meta.url.endsWith('.js');
  return new Promise((resolve, reject) => {
    const child = fork(script, ['--run', side, csv, dir], { execArgv: compiled ? [] : ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: ImportRun | undefined;
    child.on('message', (m) => {
      result = m as ImportRun;
    });
    child.on('error', reject);
    child.on('exit', (code) => (result === undefined ? reject(new Error(`the ${side} import exited with ${code}`)) : resolve(result)));
  });
}

async function runImport(side: 'branch' | 'central', csv: string, dir: string): Promise<ImportRun> {
  const key = randomBytes(32);
  const now = new Date();
  if (side === 'branch') {
    const { createCardHasher } = await import('../../gateway/core/cards.js');
    const { importMembersCsv } = await import('../../gateway/members/index.js');
    const { openStore } = await import('../../gateway/store/index.js');
    const store = openStore(join(dir, 'branch.sqlite'));
    const started = performance.now();
    const s = await importMembersCsv(store, csv, { hasher: createCardHasher(key), now });
    const seconds = (performance.now() - started) / 1000;
    store.close();
    return { seconds, members: s.count, rejected: s.rejectedCount, maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024) };
  }
  const { parseCentralConfig } = await import('../../central/config.js');
  const { importLmsCsv } = await import('../../central/members/lms-import.js');
  const { SqliteMemberStore } = await import('../../central/members/sqlite-member-store.js');
  const { CentralStore } = await import('../../central/store.js');
  const { createCardHasher, deploymentKeyId } = await import('../../policies/cards.js');
  const config = parseCentralConfig({ members: { branchList: 'everyone' } }).members;
  const store = new CentralStore(join(dir, 'central.sqlite'));
  const started = performance.now();
  const s = await importLmsCsv(new SqliteMemberStore(store.db), csv, {
    mapping: config.import,
    hasher: createCardHasher(key),
    keyId: deploymentKeyId(key),
    branchList: config.branchList,
    now,
    keepVersions: config.keepVersions,
  });
  const seconds = (performance.now() - started) / 1000;
  store.close();
  return { seconds, members: s.count, rejected: s.rejectedCount, maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024) };
}

export async function benchImportFloor(opts: { rows: number }): Promise<ImportFloorResult> {
  const dir = mkdtempSync(join(tmpdir(), 'oag-bench-floor-'));
  try {
    const csv = join(dir, 'members.csv');
    const { bytes } = await generateMembersCsv(csv, opts.rows, 1, { keepCards: 0 });
    const floorSeconds = floor(csv, dir);
    const branch = await inChild('branch', csv, dir);
    const central = await inChild('central', csv, dir);
    return { rows: opts.rows, csvMb: round(bytes / 2 ** 20, 1), floorSeconds: floorSeconds === null ? null : round(floorSeconds), branch, central };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function printImportFloor(r: ImportFloorResult): void {
  const n = (x: number): string => x.toLocaleString('en-GB');
  console.log(`full member import, ${n(r.rows)} rows (${r.csvMb} MB of CSV), beside the sqlite3 shell's .import of the same file`);
  if (r.floorSeconds === null) console.log('  sqlite3 .import     not run: no sqlite3 shell on this machine (apt-get install sqlite3)');
  else console.log(`  sqlite3 .import     ${r.floorSeconds} s (${n(Math.round(r.rows / r.floorSeconds))} rows/s): the floor`);
  for (const [label, run] of [['branch (oag members import)', r.branch], ['central (LMS import)', r.central]] as const) {
    const ratio = r.floorSeconds === null ? '' : `, ${(run.seconds / r.floorSeconds).toFixed(1)}× the floor`;
    console.log(
      `  ${label.padEnd(29)} ${round(run.seconds)} s (${n(Math.round(r.rows / run.seconds))} rows/s${ratio}); peak RSS ${run.maxRssMb} MB; ${n(run.members)} members, ${n(run.rejected)} rejected`,
    );
  }
  console.log('  goal: within 3× the floor, under 10 s, peak RSS under 300 MB');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv[2] === '--run') {
    const [side, csv, dir] = process.argv.slice(3) as ['branch' | 'central', string, string];
    const result = await runImport(side, csv, dir);
    process.send?.(result);
  } else {
    const rows = Number(process.argv[2] ?? 1_000_000);
    if (!Number.isInteger(rows) || rows < 1) {
      console.error('usage: npx tsx scripts/bench/import-floor.ts [rows]');
      process.exit(2);
    }
    printImportFloor(await benchImportFloor({ rows }));
  }
}
