// `oag members import FILE.csv` and `oag members stats`: the member list of one branch's store, for now from a
// library system's CSV export (central distribution comes with the uplink). The import is all or nothing: a file
// that cannot be used leaves the list in force as it was.
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { createCardHasher } from '../../gateway/core/cards.js';
import { loadDeploymentKey, loadGatewayConfig } from '../../gateway/config.js';
import type { GatewayConfig } from '../../gateway/config.js';
import { DEFAULT_MEMBER_MAPPING, ImportError, MemberImportMappingSchema, importMembersCsv } from '../../gateway/members/index.js';
import type { ImportSummary, MemberImportMapping } from '../../gateway/members/index.js';
import { StoreError, openStore } from '../../gateway/store/index.js';
import { formatIssues } from '../../policies/errors.js';
import { fmt, printRejections, progressReporter } from './import-report.js';
import type { ProgressOutput } from './import-report.js';
import { processIo, type CommandIo } from './schedule.js';

export interface MembersImportOptions {
  store?: string | undefined;
  config?: string | undefined;
  keyFile?: string | undefined;
  mapping?: string | undefined;
  json?: boolean | undefined;
}

export interface MembersStatsOptions {
  store?: string | undefined;
  config?: string | undefined;
  json?: boolean | undefined;
}



class UsageError extends Error {}


function describeError(error: unknown): string | undefined {
  if (error instanceof ImportError || error instanceof StoreError || error instanceof UsageError) return error.message;
  // The gateway config's ConfigError: a file and one line per problem, already in its message.
  if (error instanceof Error && error.name === 'ConfigError') return error.message;
  return undefined;
}

function readMapping(path: string): MemberImportMapping {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`${path}: cannot read the mapping: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message.split('\n')[0]}`);
  }
  // The file may be the mapping itself, or a gateway config fragment with members.mapping.
  const members = (doc as { members?: { mapping?: unknown } } | null)?.members;
  const result = MemberImportMappingSchema.safeParse(members?.mapping ?? doc);
  if (!result.success) throw new UsageError(`${path}: invalid mapping\n${formatIssues(result.error).map((l) => `  ${l}`).join('\n')}`);
  return result.data;
}

interface ImportSetup {
  storePath: string;
  mapping: MemberImportMapping;
  mappingFrom: string;
  key: Buffer;
}

function setUp(options: MembersImportOptions): ImportSetup {
  const config: GatewayConfig | undefined = options.config === undefined ? undefined : loadGatewayConfig(options.config);
  const storePath = options.store ?? config?.store.path;
  if (storePath === undefined) throw new UsageError('give the store: --store PATH, or --config FILE');
  let mapping = DEFAULT_MEMBER_MAPPING;
  let mappingFrom = 'the default columns (docs/store.md)';
  if (options.mapping !== undefined) {
    mapping = readMapping(options.mapping);
    mappingFrom = options.mapping;
  } else if (config?.members.mapping !== undefined) {
    mapping = config.members.mapping;
    mappingFrom = `${options.config} (members.mapping)`;
  }
  // --key-file wins over the environment; otherwise OAG_DEPLOYMENT_KEY, then the config's deploymentKeyFile.
  const key =
    options.keyFile !== undefined
      ? loadDeploymentKey({ deploymentKeyFile: options.keyFile }, {})
      : loadDeploymentKey({ deploymentKeyFile: config?.deploymentKeyFile }, process.env);
  return { storePath, mapping, mappingFrom, key };
}


function printSummary(io: CommandIo, file: string, storePath: string, summary: ImportSummary, seconds: number): void {
  const width = fmt(Math.max(summary.total, summary.count, summary.removed)).length;
  const row = (label: string, n: number): string => `  ${label.padEnd(10)} ${fmt(n).padStart(width)}\n`;
  io.out(`${basename(file)} → ${storePath}: list version ${summary.version}, ${fmt(summary.count)} members\n`);
  io.out(row('added', summary.added));
  io.out(row('changed', summary.changed));
  io.out(row('removed', summary.removed));
  io.out(row('unchanged', summary.unchanged));
  io.out(`${row('rejected', summary.rejectedCount).trimEnd()} of ${fmt(summary.total)} rows\n`);
  printRejections(io.out, summary.rejected, summary.rejectedCount);
  io.out(`  took ${seconds.toFixed(1)} s\n`);
}


export async function runMembersImport(
  file: string,
  options: MembersImportOptions,
  io: CommandIo = processIo,
  progress: ProgressOutput = { tty: false },
  now: () => Date = () => new Date(),
): Promise<number> {
  let setup: ImportSetup;
  try {
    setup = setUp(options);
  } catch (error) {
    const message = describeError(error);
    if (message === undefined) throw error;
    io.err(`${message}\n`);
    return 2;
  }
  if (!options.json && options.mapping === undefined && setup.mapping === DEFAULT_MEMBER_MAPPING) {
    io.err(`columns: ${setup.mappingFrom}\n`);
  }
  const reporter = progressReporter(io, progress, 'applying');
  const started = performance.now();
  let store;
  try {
    store = openStore(setup.storePath);
    const summary = await importMembersCsv(store, file, {
      mapping: setup.mapping,
      hasher: createCardHasher(setup.key),
      now: now(),
      onProgress: (p) => reporter.update(p),
    });
    reporter.stop();
    const seconds = (performance.now() - started) / 1000;
    if (options.json) io.out(`${JSON.stringify({ file, store: setup.storePath, ...summary, seconds: Number(seconds.toFixed(2)) }, null, 2)}\n`);
    else printSummary(io, file, setup.storePath, summary, seconds);
    return 0;
  } catch (error) {
    reporter.stop();
    const message = describeError(error);
    if (message === undefined) throw error;
    if (options.json) {
      io.out(`${JSON.stringify({ file, error: message, rejected: error instanceof ImportError ? error.rejected : [] }, null, 2)}\n`);
    } else {
      io.err(`${message}\n`);
      if (error instanceof ImportError && error.rejected.length > 0) printRejections(io.err, error.rejected, error.rejected.length);
    }
    return 1;
  } finally {
    store?.close();
  }
}

export function runMembersStats(options: MembersStatsOptions, io: CommandIo = processIo): number {
  let storePath: string | undefined;
  try {
    storePath = options.store ?? (options.config === undefined ? undefined : loadGatewayConfig(options.config).store.path);
    if (storePath === undefined) throw new UsageError('give the store: --store PATH, or --config FILE');
    if (storePath !== ':memory:' && !existsSync(storePath)) throw new UsageError(`${storePath}: no store there`);
  } catch (error) {
    const message = describeError(error);
    if (message === undefined) throw error;
    io.err(`${message}\n`);
    return 2;
  }
  let store;
  try {
    store = openStore(storePath);
    const stats = store.members.stats();
    if (options.json) {
      io.out(`${JSON.stringify({ store: storePath, ...stats }, null, 2)}\n`);
    } else if (stats.version === null) {
      io.out(`${storePath}: no member list yet (oag members import FILE.csv)\n`);
    } else {
      io.out(`${storePath}: list version ${stats.version}, ${fmt(stats.count)} members\n`);
      io.out(`  from      ${stats.source}\n  applied   ${stats.updatedAt}\n  hash      ${stats.hash}\n`);
    }
    return 0;
  } catch (error) {
    const message = describeError(error);
    if (message === undefined) throw error;
    io.err(`${message}\n`);
    return 1;
  } finally {
    store?.close();
  }
}

export function register(program: Command): void {
  const members = program.command('members').description('the member list in a branch store');
  members
    .command('import')
    .description('replace the member list with a CSV export (all or nothing); card numbers are hashed on reading')
    .argument('<file>', 'CSV file with a header line')
    .option('--store <path>', 'the gateway store (SQLite file); default: store.path of --config')
    .option('--config <file>', 'gateway config: store path, members.mapping and deploymentKeyFile')
    .option('--key-file <file>', 'deployment key file (hex or base64, at least 32 bytes); default: $OAG_DEPLOYMENT_KEY')
    .option('--mapping <file>', 'column mapping (YAML or JSON), instead of members.mapping of the config')
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      '\nThe deployment key comes from --key-file, else OAG_DEPLOYMENT_KEY, else the config\'s deploymentKeyFile.\n' +
        'Without a mapping the columns are card_number, date_of_birth, expiry_date, blocked, blocked_until,\n' +
        'open_access, staff, groups. Exit status: 0 imported, 1 file refused (nothing changed), 2 usage.',
    )
    .action(async (file: string, options: MembersImportOptions) => {
      process.exitCode = await runMembersImport(file, options, processIo, { tty: process.stderr.isTTY === true, stream: process.stderr });
    });
  members
    .command('stats')
    .description('count, version, source and hash of the member list in force')
    .option('--store <path>', 'the gateway store (SQLite file)')
    .option('--config <file>', 'gateway config (for store.path)')
    .option('--json', 'print as JSON')
    .action((options: MembersStatsOptions) => {
      process.exitCode = runMembersStats(options);
    });
}
