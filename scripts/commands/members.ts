// `oag members import FILE.csv` and `oag members stats`: the member list of one branch's store, for now from a
// library system's CSV export (central distribution comes with the uplink). The import is all or nothing: a file
// that cannot be used leaves the list in force as it was.
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { createCardHasher, deploymentKeyId } from '../../gateway/core/cards.js';
import { loadDeploymentKey, loadGatewayConfig } from '../../gateway/config.js';
import type { GatewayConfig } from '../../gateway/config.js';
import { DEFAULT_MAX_REMOVED_FRACTION } from '../../gateway/members/import-csv.js';
import { DEFAULT_MEMBER_MAPPING, ImportError, MemberImportMappingSchema, importMembersCsv } from '../../gateway/members/index.js';
import type { ImportSummary, MemberImportMapping } from '../../gateway/members/index.js';
import { readTextFile } from '../../kit/read-bounded.js';
import { StoreError, openStore } from '../../gateway/store/index.js';
import { formatIssues } from '../../policies/errors.js';
import { MAX_CONFIG_BYTES, parseYamlDocument } from '../../policies/input-text.js';
import { storePathProblem, storeProblem } from './failure.js';
import { fmt, printRejections, progressReporter } from './import-report.js';
import type { ProgressOutput } from './import-report.js';
import { processIo, type CommandIo } from './schedule.js';
import { UsageError } from './cli-errors.js';

export interface MembersImportOptions {
  store?: string | undefined;
  config?: string | undefined;
  keyFile?: string | undefined;
  mapping?: string | undefined;
  json?: boolean | undefined;
  /** Refuse a file that would remove more than this share of the list (default: the config's, else 0.5). */
  maxRemovedFraction?: string | number | undefined;
  /** The deployment key was changed: replace a list made with the old one. */
  newKey?: boolean | undefined;
}

export interface MembersStatsOptions {
  store?: string | undefined;
  config?: string | undefined;
  json?: boolean | undefined;
}




function describeError(error: unknown): string | undefined {
  if (error instanceof ImportError || error instanceof StoreError || error instanceof UsageError) return error.message;
  // The gateway config's ConfigError: a file and one line per problem, already in its message.
  if (error instanceof Error && error.name === 'ConfigError') return error.message;
  return undefined;
}

function readMapping(path: string): MemberImportMapping {
  const read = readTextFile(path, { what: path, maxBytes: MAX_CONFIG_BYTES });
  if (!read.ok) throw new UsageError(`${read.error.replace(/: cannot read: /, ': cannot read the mapping: ')}`);
  const doc = parseYamlDocument(read.text, path);
  if (!doc.ok) throw new UsageError(doc.errors.join('\n'));
  // The file may be the mapping itself, or a gateway config fragment with members.mapping.
  const members = (doc.value as { members?: { mapping?: unknown } } | null)?.members;
  const result = MemberImportMappingSchema.safeParse(members?.mapping ?? doc.value);
  if (!result.success) throw new UsageError(`${path}: invalid mapping\n${formatIssues(result.error).map((l) => `  ${l}`).join('\n')}`);
  return result.data;
}

interface ImportSetup {
  storePath: string;
  mapping: MemberImportMapping;
  mappingFrom: string;
  key: Buffer;
  maxRemovedFraction: number;
}

function removedFraction(options: MembersImportOptions, config: GatewayConfig | undefined): number {
  if (options.maxRemovedFraction === undefined) return config?.members.maxRemovedFraction ?? DEFAULT_MAX_REMOVED_FRACTION;
  const value = Number(options.maxRemovedFraction);
  if (String(options.maxRemovedFraction).trim() === '' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new UsageError(`--max-removed-fraction: must be a number from 0 to 1 (got ${JSON.stringify(String(options.maxRemovedFraction))})`);
  }
  return value;
}

/**
 * The key the import hashes with. --key-file wins over the environment; otherwise OAG_DEPLOYMENT_KEY, then the
 * config's deploymentKeyFile. When the config names a key file and the key comes from elsewhere, the two must be
 * the same key: a list hashed with another key than the gateway's would match no card at the door.
 */
function importKey(options: MembersImportOptions, config: GatewayConfig | undefined): Buffer {
  const fromEnv = process.env.OAG_DEPLOYMENT_KEY;
  const configFile = config?.deploymentKeyFile;
  const unseal = config?.deploymentKeyUnseal;
  const key =
    options.keyFile !== undefined ? loadDeploymentKey({ deploymentKeyFile: options.keyFile }, {}) : loadDeploymentKey({ deploymentKeyFile: configFile, deploymentKeyUnseal: unseal }, process.env);
  const source = options.keyFile !== undefined ? `--key-file ${options.keyFile}` : fromEnv !== undefined && fromEnv !== '' ? 'OAG_DEPLOYMENT_KEY' : undefined;
  if (source === undefined || configFile === undefined) return key;
  let configKey: Buffer;
  try {
    configKey = loadDeploymentKey({ deploymentKeyFile: configFile, deploymentKeyUnseal: unseal }, {});
  } catch {
    return key; // the config's file is not readable here: the key given is all there is to go on
  }
  if (!configKey.equals(key)) {
    throw new UsageError(
      `${source} is deployment key ${deploymentKeyId(key)}, but ${options.config} has deploymentKeyFile ${configFile}, key ${deploymentKeyId(configKey)}: ` +
        'the gateway would find none of these members; use one key',
    );
  }
  return key;
}

function setUp(options: MembersImportOptions): ImportSetup {
  const config: GatewayConfig | undefined = options.config === undefined ? undefined : loadGatewayConfig(options.config);
  const storePath = options.store ?? config?.store.path;
  if (storePath === undefined) throw new UsageError('give the store: --store PATH, or --config FILE');
  const badStore = storePathProblem(storePath);
  if (badStore !== undefined) throw new UsageError(badStore);
  let mapping = DEFAULT_MEMBER_MAPPING;
  let mappingFrom = 'the default columns (docs/store.md)';
  if (options.mapping !== undefined) {
    mapping = readMapping(options.mapping);
    mappingFrom = options.mapping;
  } else if (config?.members.mapping !== undefined) {
    mapping = config.members.mapping;
    mappingFrom = `${options.config} (members.mapping)`;
  }
  return { storePath, mapping, mappingFrom, key: importKey(options, config), maxRemovedFraction: removedFraction(options, config) };
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
      keyId: deploymentKeyId(setup.key),
      newKey: options.newKey === true,
      maxRemovedFraction: setup.maxRemovedFraction,
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
    const message = storeProblem(setup.storePath, error) ?? describeError(error);
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
    const badStore = storePathProblem(storePath);
    if (badStore !== undefined) throw new UsageError(badStore);
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
    const message = storeProblem(storePath, error) ?? describeError(error);
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
    .option(
      '--max-removed-fraction <share>',
      `refuse a file that would remove more than this share of the list in force (0 to 1; default members.maxRemovedFraction, else ${DEFAULT_MAX_REMOVED_FRACTION})`,
    )
    .option('--new-key', 'the deployment key was changed: replace a list made with the old key')
    .addHelpText(
      'after',
      '\nThe deployment key comes from --key-file, else OAG_DEPLOYMENT_KEY, else the config\'s deploymentKeyFile; a list\n' +
        'in force made with another key is not replaced without --new-key. A file that ends in the middle of a row,\n' +
        'that would remove more than half the list, that is not UTF-8 or is over 1 GiB is refused.\n' +
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
