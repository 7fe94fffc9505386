import type { Command } from 'commander';
import type { TapBenchResult } from '../bench/tap.js';

export function register(program: Command): void {
  program
    .command('bench')
    .description('print performance figures: tap-to-relay latency by member count, 1M import, memory, central ingest, event-loop stalls, taps during sign-in floods, alarm → e-mail')
    .option('--sizes <list>', 'member counts for the tap benchmark', '10000,100000,1000000')
    .option('--taps <n>', 'taps measured per size (one in ten an unknown card: half below a burst, half in one)', '20000')
    .option('--tap-only', 'run only the tap benchmark')
    .option('--import-rows <n>', 'rows for the import benchmark (0 to skip)', '1000000')
    .option('--no-import-floor', "skip the full imports at central and at a branch beside the sqlite3 shell's .import (as many rows as --import-rows)")
    .option('--import-floor-only', 'run only that')
    .option('--no-central', 'skip the central ingest and dashboard latency benchmark')
    .option('--members <n>', 'members for the member-list distribution benchmark, LMS export → central → branch (0 to skip)', '1000000')
    .option('--member-changes <n>', 'members changed for the delta in that benchmark', '1000')
    .option('--member-registered <share>', 'that benchmark with central sending only registered members (branchList: registered), this share of the export registered, e.g. 0.1; default: everyone')
    .option('--no-brute-force', 'skip the cost of reversing a stolen branch list (card hashes per second)')
    .option('--brute-force-only', 'run only that')
    .option('--no-stalls', 'skip the event-loop stall benchmark (snapshot apply, CSV export, purge while taps arrive)')
    .option('--stalls-only', 'run only the event-loop stall benchmark')
    .option('--stall-members <n>', 'members in the snapshot applied in the stall benchmark', '1000000')
    .option('--stall-export-rows <n>', 'events in the CSV export of the stall benchmark (the export stops at 100,000)', '100000')
    .option('--stall-purge-events <n>', 'events purged in the stall benchmark', '100000')
    .option('--stall-tap-every <ms>', 'a tap this often while each job runs', '20')
    .option('--stall-jobs <list>', 'which jobs: snapshot-new, snapshot-replace, export, purge', 'snapshot-new,snapshot-replace,export,purge')
    .option('--no-signin-flood', "skip tap latency while the console's sign-in is flooded")
    .option('--signin-flood-only', 'run only the sign-in flood benchmark')
    .option('--no-alerts', 'skip alarm raised → SMTP accepted for a burst of 100 incidents at 1,000 sites')
    .option('--alerts-only', 'run only the alerts benchmark')
    .option('--no-lms-block', 'skip a block in Koha (a fake of its REST API) → refused at an online branch')
    .option('--lms-block-only', 'run only that')
    .option('--no-phone-token', 'skip the phone token check at the door (goal p99 < 1 ms) beside one Ed25519 verify')
    .option('--phone-token-only', 'run only that')
    .option('--no-building', 'skip taps with the building running (outputs, intruder alarm, announcements) beside the door alone')
    .option('--building-only', 'run only that')
    .option('--no-pin', 'skip card + PIN at a large list (PIN entered → relay, scrypt verify included; goal p99 < 50 ms)')
    .option('--pin-only', 'run only that')
    .option('--no-dashboard', "skip the dashboard in chromium with 1,000 branches (first render, state change → tile; goal < 1 s each)")
    .option('--dashboard-only', 'run only that')
    .option('--pin-members <n>', 'members in the card + PIN benchmark', '1000000')
    .option('--lms-blocks <n>', 'blocks measured in that benchmark', '20')
    .option('--lms-poll-seconds <s>', "central's Koha poll interval in that benchmark", '2')
    .option('--flood-clients <n>', 'parallel sign-in floods', '8')
    .option('--flood-seconds <s>', 'seconds of taps without the flood, then with it', '10')
    .option('--flood-tap-every <ms>', 'a tap this often in the sign-in flood benchmark', '20')
    .option('--no-ingest', 'skip events/s into central beside a plain mosquitto_sub -q 1 receiving the same load through Mosquitto')
    .option('--ingest-only', 'run only that')
    .option('--no-cluster', 'skip leader take-over after a kill -9 and the dashboard latency through LISTEN/NOTIFY (three and two central instances on PostgreSQL)')
    .option('--cluster-only', 'run only that')
    .action(async (options: BenchOptions & { ingest: boolean; ingestOnly?: boolean; cluster: boolean; clusterOnly?: boolean }) => {
      const ingest = async (): Promise<void> => (await import('../bench/ingest-floor.js')).runIngestFloorBench();
      const cluster = async (): Promise<void> => (await import('../bench/cluster.js')).runClusterBench();
      if (options.ingestOnly) return ingest();
      if (options.clusterOnly) return cluster();
      if (options.signinFloodOnly) return signinFlood(options);
      if (options.alertsOnly) return alerts();
      if (options.stallsOnly) return stalls(options);
      if (options.bruteForceOnly) return bruteForce();
      if (options.importFloorOnly) return importFloor(options);
      if (options.lmsBlockOnly) return lmsBlock(options);
      if (options.phoneTokenOnly) return phoneToken();
      if (options.buildingOnly) return building();
      if (options.pinOnly) return pinBench(options);
      if (options.dashboardOnly) return dashboard();
      const sizes = options.sizes.split(',').map((s) => Number(s.trim()));
      if (sizes.some((n) => !Number.isInteger(n) || n < 1) || !(Number.isInteger(Number(options.taps)) && Number(options.taps) >= 1)) {
        console.error('oag bench: --sizes must be a comma-separated list of positive whole numbers, and --taps one');
        process.exit(2);
      }
      await tapBench(sizes, Number(options.taps));
      if (options.tapOnly) return;
      const rows = Number(options.importRows);
      if (rows > 0) {
        const { benchImport } = await import('../bench/import.js');
        console.log(`\nmember CSV import at the gateway (${rows} rows)`);
        console.log(JSON.stringify(await benchImport({ rows }), null, 2));
      }
      if (options.importFloor && rows > 0) {
        console.log('');
        await importFloor(options);
      }
      if (options.central) {
        const { benchCentral, printCentralBench } = await import('../bench/central.js');
        console.log('');
        printCentralBench(await benchCentral());
      }
      const members = Number(options.members);
      if (members > 0) {
        const { benchMembers, printMembersBench } = await import('../bench/members.js');
        console.log('');
        const registered = options.memberRegistered === undefined ? undefined : Number(options.memberRegistered);
        if (registered !== undefined && !(registered > 0 && registered <= 1)) {
          console.error('oag bench: --member-registered must be a share above 0 and at most 1 (0.1 is 10%)');
          process.exit(2);
        }
        printMembersBench(await benchMembers({ members, changes: Math.max(1, Number(options.memberChanges)), registeredShare: registered }));
      }
      // The rest in this order, each after a blank line, unless its --no-… flag was given.
      const rest: [boolean, () => Promise<void>][] = [
        [options.bruteForce, bruteForce],
        [options.stalls, () => stalls(options)],
        [options.signinFlood, () => signinFlood(options)],
        [options.alerts, alerts],
        [options.lmsBlock, () => lmsBlock(options)],
        [options.phoneToken, phoneToken],
        [options.building, building],
        [options.pin, () => pinBench(options)],
        [options.dashboard, dashboard],
        [options.ingest, ingest],
        [options.cluster, cluster],
      ];
      for (const [on, run] of rest) {
        if (!on) continue;
        console.log('');
        await run();
      }
    });
}

interface BenchOptions {
  sizes: string;
  taps: string;
  tapOnly?: boolean;
  importRows: string;
  importFloor: boolean;
  importFloorOnly?: boolean;
  central: boolean;
  members: string;
  memberChanges: string;
  memberRegistered?: string;
  bruteForce: boolean;
  bruteForceOnly?: boolean;
  stalls: boolean;
  stallsOnly?: boolean;
  stallMembers: string;
  stallExportRows: string;
  stallPurgeEvents: string;
  stallTapEvery: string;
  stallJobs: string;
  signinFlood: boolean;
  signinFloodOnly?: boolean;
  alerts: boolean;
  alertsOnly?: boolean;
  lmsBlock: boolean;
  lmsBlockOnly?: boolean;
  lmsBlocks: string;
  lmsPollSeconds: string;
  phoneToken: boolean;
  building: boolean;
  buildingOnly?: boolean;
  phoneTokenOnly?: boolean;
  pin: boolean;
  pinOnly?: boolean;
  dashboard: boolean;
  dashboardOnly?: boolean;
  pinMembers: string;
  floodClients: string;
  floodSeconds: string;
  floodTapEvery: string;
}

/** The dashboard in chromium with 1,000 branches: first render, and a state change → its tile (scripts/bench/dashboard.ts). */
async function dashboard(): Promise<void> {
  const { benchDashboard, printDashboardBench } = await import('../bench/dashboard.js');
  printDashboardBench(await benchDashboard());
}

/** Card + PIN at a large member list, scrypt verify included (scripts/bench/pin.ts). */
async function pinBench(options: BenchOptions): Promise<void> {
  const members = Number(options.pinMembers);
  if (!Number.isInteger(members) || members < 2) {
    console.error('oag bench: --pin-members must be a whole number, at least 2');
    process.exit(2);
  }
  const { benchPin, printPinBench } = await import('../bench/pin.js');
  printPinBench(await benchPin(members));
}

/** Taps with the building's extensions running beside the same gateway with the door alone (scripts/bench/building.ts). */
async function building(): Promise<void> {
  const { benchBuilding, printBuildingBench } = await import('../bench/building.js');
  printBuildingBench(await benchBuilding());
}

/** The phone token check at the door beside one Ed25519 verify of the same bytes (scripts/bench/phone-token.ts). */
async function phoneToken(): Promise<void> {
  const { benchPhoneToken, printPhoneTokenBench } = await import('../bench/phone-token.js');
  printPhoneTokenBench(benchPhoneToken());
}

/** Central's and a branch's full import beside the sqlite3 shell's `.import` of the same file (issue #18's floor). */
async function importFloor(options: BenchOptions): Promise<void> {
  const rows = Number(options.importRows);
  if (!Number.isInteger(rows) || rows < 1) {
    console.error('oag bench: --import-rows must be a positive whole number for the import floor benchmark');
    process.exit(2);
  }
  const { benchImportFloor, printImportFloor } = await import('../bench/import-floor.js');
  printImportFloor(await benchImportFloor({ rows }));
}

/** A block in Koha → refused at an online branch: p95 against the 5 s goal, at the poll interval stated. */
async function lmsBlock(options: BenchOptions): Promise<void> {
  const [blocks, pollSeconds] = [options.lmsBlocks, options.lmsPollSeconds].map(Number) as [number, number];
  if (![blocks, pollSeconds].every((n) => Number.isInteger(n) && n >= 1)) {
    console.error('oag bench: --lms-blocks and --lms-poll-seconds must be positive whole numbers');
    process.exit(2);
  }
  const { benchLmsBlock, printLmsBlock } = await import('../bench/lms-block.js');
  printLmsBlock(await benchLmsBlock({ blocks, pollSeconds }));
}

/** HMAC-SHA256 card hashes per second, and what that makes of each card-number space (docs/privacy.md). */
async function bruteForce(): Promise<void> {
  const { benchBruteForce, printBruteForce } = await import('../bench/brute-force.js');
  printBruteForce(benchBruteForce());
}

/** Alarm raised → message accepted by a real SMTP server: p95 against the 2 s goal, the nodemailer floor and the ratio. */
async function alerts(): Promise<void> {
  const { benchAlerts, printAlertsBench } = await import('../bench/alerts.js');
  printAlertsBench(await benchAlerts());
}

async function signinFlood(options: BenchOptions): Promise<void> {
  const { DEFAULT_SIGNIN_FLOOD, benchSigninFlood, printSigninFlood, printSigninFloodHeader } = await import('../bench/signin-flood.js');
  const [clients, seconds, tapEveryMs] = [options.floodClients, options.floodSeconds, options.floodTapEvery].map(Number) as [number, number, number];
  if (![clients, seconds, tapEveryMs].every((n) => Number.isInteger(n) && n >= 1)) {
    console.error('oag bench: --flood-clients, --flood-seconds and --flood-tap-every must be positive whole numbers');
    process.exit(2);
  }
  const o = { ...DEFAULT_SIGNIN_FLOOD, clients, seconds, tapEveryMs };
  printSigninFloodHeader(o);
  printSigninFlood(await benchSigninFlood(o));
}

async function stalls(options: BenchOptions): Promise<void> {
  const { STALL_JOBS, benchStalls, printStallHeader } = await import('../bench/stalls.js');
  const counts = [options.stallMembers, options.stallExportRows, options.stallPurgeEvents, options.stallTapEvery].map(Number);
  const jobs = options.stallJobs.split(',').map((j) => j.trim());
  const unknown = jobs.filter((j) => !(STALL_JOBS as readonly string[]).includes(j));
  if (counts.some((n) => !Number.isInteger(n) || n < 1) || unknown.length > 0) {
    console.error(`oag bench: the --stall-* counts must be positive whole numbers and --stall-jobs a list of ${STALL_JOBS.join(', ')}`);
    process.exit(2);
  }
  const [members, exportRows, purgeEvents, tapEveryMs] = counts as [number, number, number, number];
  const o = { members, exportRows, purgeEvents, tapEveryMs, jobs: jobs as typeof STALL_JOBS };
  printStallHeader(o);
  await benchStalls(o);
}

/** Members' taps per size as they come, then the unknown cards of every size side by side. */
async function tapBench(sizes: readonly number[], taps: number): Promise<void> {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { prepareBenchStore, printTapHeader, printTapRow, printUnknownTable } = await import('../bench/tap.js');
  printTapHeader();
  const results: TapBenchResult[] = [];
  for (const size of sizes) {
    const dir = mkdtempSync(join(tmpdir(), 'oag-bench-'));
    const loadSeconds = prepareBenchStore(dir, size);
    const r = await tapBenchInChild(size, taps, dir).finally(() => rmSync(dir, { recursive: true, force: true }));
    printTapRow(r, loadSeconds);
    results.push(r);
  }
  printUnknownTable(results);
}

/** One size per child process, so that each RSS figure is that of a gateway holding that list and nothing else. */
async function tapBenchInChild(members: number, taps: number, dir: string): Promise<TapBenchResult> {
  const { fork } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  // From dist/ (npm run bench) the child is plain compiled JavaScript, as on a Pi; from the sources it runs under tsx.
  const compiled = import.meta.url.endsWith('.js');
  const script = fileURLToPath(new URL(compiled ? '../bench/tap.js' : '../bench/tap.ts', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = fork(script, [String(members), String(taps), dir], { execArgv: compiled ? [] : ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: TapBenchResult | undefined;
    child.on('message', (message) => {
      result = message as TapBenchResult;
    });
    child.on('error', reject);
    child.on('exit', (code) => (result === undefined ? reject(new Error(`tap benchmark for ${members} members exited with ${code}`)) : resolve(result)));
  });
}
