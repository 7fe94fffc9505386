import { mkdirSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Command } from 'commander';
import { CliFailure, listenProblem, storePathProblem, storeProblem } from './failure.js';
import { fmt, printRejections, progressReporter } from './import-report.js';
import type { ProgressOutput } from './import-report.js';
import { registerCentralAuth } from './central-auth.js';
import { registerCentralMqttAcl } from './central-mqtt-acl.js';
import { registerCentralMqttPasswd } from './central-mqtt-passwd.js';
import { registerCentralRetire } from './central-retire.js';
import { registerCentralSigningKey } from './central-signing-key.js';
import { processIo, type CommandIo } from './schedule.js';

export interface CentralMembersImportOptions {
  config?: string | undefined;
  keyFile?: string | undefined;
  json?: boolean | undefined;
}

/**
 * `oag central members import FILE.csv`: the LMS export → a new version of central's member list, all or nothing.
 * It writes central's database directly; a running central notices the new version within `members.pollSeconds`
 * and announces it to the branches. Exit status: 0 imported (or unchanged), 1 file refused, 2 usage.
 */
export function runCentralMembersImport(
  file: string,
  options: CentralMembersImportOptions,
  io: CommandIo = processIo,
  progress: ProgressOutput = { tty: false },
  now: () => Date = () => new Date(),
): Promise<number> {
  return runImport('full', file, options, io, progress, now);
}

/**
 * `oag central members import-delta FILE.csv`: the members changed since the LMS's last export (whole rows, and a
 * `deleted` column) → one new version, all or nothing (central/members/lms-delta.ts). Same exits as the import.
 */
export function runCentralMembersImportDelta(
  file: string,
  options: CentralMembersImportOptions,
  io: CommandIo = processIo,
  progress: ProgressOutput = { tty: false },
  now: () => Date = () => new Date(),
): Promise<number> {
  return runImport('delta', file, options, io, progress, now);
}

async function runImport(
  kind: 'full' | 'delta',
  file: string,
  options: CentralMembersImportOptions,
  io: CommandIo,
  progress: ProgressOutput,
  now: () => Date,
): Promise<number> {
  const { CentralConfigError, loadCentralConfig, parseCentralConfig } = await import('../../central/config.js');
  const { DeploymentKeyError, loadCentralKey } = await import('../../central/members/key.js');
  const { LmsImportError, importLmsCsv } = await import('../../central/members/lms-import.js');
  const { importLmsDelta } = await import('../../central/members/lms-delta.js');
  const { SqliteMemberStore } = await import('../../central/members/sqlite-member-store.js');
  const { PgMemberStore } = await import('../../central/members/pg-member-store.js');
  const { readPostgresUrl } = await import('../../central/history/open-history.js');
  const { describePgUrl } = await import('../../central/pg/pool.js');
  const { pino } = await import('pino');
  const { CentralStore } = await import('../../central/store.js');
  const { createCardHasher, deploymentKeyId } = await import('../../policies/cards.js');

  let config;
  let key: Buffer | null;
  try {
    config = options.config ? loadCentralConfig(options.config) : parseCentralConfig({});
    // --key-file wins over the environment; otherwise OAG_DEPLOYMENT_KEY, then the config's deploymentKeyFile.
    key = options.keyFile !== undefined ? loadCentralKey({ deploymentKeyFile: options.keyFile }, {}) : loadCentralKey(config, process.env);
  } catch (error) {
    if (error instanceof CentralConfigError || error instanceof DeploymentKeyError) {
      io.err(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
  if (key === null) {
    io.err('no deployment key: set OAG_DEPLOYMENT_KEY, give --key-file, or deploymentKeyFile in the config (the gateways\' key)\n');
    return 2;
  }
  const badStore = storePathProblem(config.store.path, 'central store');
  if (badStore !== undefined) {
    io.err(`${badStore}\n`);
    return 2;
  }
  let store;
  try {
    if (config.store.path !== ':memory:') mkdirSync(dirname(config.store.path), { recursive: true });
    store = new CentralStore(config.store.path);
  } catch (error) {
    const problem = storeProblem(config.store.path, error, 'central store');
    if (problem === undefined) throw error;
    io.err(`${problem}\n`);
    return 1;
  }
  // With store.postgres the list is the one every central instance shares: the import goes there.
  let members;
  let where = config.store.path;
  try {
    if (config.store.postgres === undefined) members = new SqliteMemberStore(store.db);
    else {
      const url = readPostgresUrl(config.store.postgres.urlFile);
      where = describePgUrl(url);
      members = await PgMemberStore.open(url, { logger: pino({ level: 'warn' }, process.stderr), max: 2 });
    }
  } catch (error) {
    store.close();
    io.err(`store.postgres: ${(error as Error).message}\n`);
    return 1;
  }
  const reporter = progressReporter(io, progress, 'making the new version');
  const started = performance.now();
  try {
    // A delta's summary is the import's, with the rows marked deleted.
    const summary: Awaited<ReturnType<typeof importLmsCsv>> & { deleted?: number } = await (kind === 'delta' ? importLmsDelta : importLmsCsv)(members, file, {
      mapping: config.members.import,
      hasher: createCardHasher(key),
      keyId: deploymentKeyId(key),
      branchList: config.members.branchList,
      now: now(),
      keepVersions: config.members.keepVersions,
      onProgress: (p) => reporter.update(p),
    });
    reporter.stop();
    const seconds = (performance.now() - started) / 1000;
    if (options.json) {
      io.out(`${JSON.stringify({ file, store: where, ...summary, seconds: Number(seconds.toFixed(2)) }, null, 2)}\n`);
      return 0;
    }
    const width = fmt(Math.max(summary.total, summary.count, summary.removed)).length;
    const row = (label: string, n: number): string => `  ${label.padEnd(10)} ${fmt(n).padStart(width)}\n`;
    io.out(
      `${basename(file)} → ${where}: ${summary.created ? `new version ${summary.version}` : `no change, version ${summary.version} stays`}, ${fmt(summary.count)} members\n`,
    );
    io.out(row('added', summary.added));
    io.out(row('changed', summary.changed));
    io.out(row('removed', summary.removed));
    if (summary.deleted !== undefined) io.out(`${row('deletions', summary.deleted).trimEnd()} rows marked deleted\n`);
    io.out(row('unchanged', summary.unchanged));
    io.out(`${row('rejected', summary.rejectedCount).trimEnd()} of ${fmt(summary.total)} rows\n`);
    printRejections(io.out, summary.rejected, summary.rejectedCount);
    if (summary.notRegistered > 0) io.out(`  ${fmt(summary.notRegistered)} members not registered for open access were left off the branches' list, held at central until one registers (members.branchList: registered)\n`);
    io.out(`  took ${seconds.toFixed(1)} s${summary.created ? '; a running central announces it to the branches within seconds' : ''}\n`);
    return 0;
  } catch (error) {
    reporter.stop();
    if (!(error instanceof LmsImportError) && !(error instanceof Error && error.name === 'ConcurrentChangeError')) throw error;
    const rejected = error instanceof LmsImportError ? error.rejected : [];
    if (options.json) io.out(`${JSON.stringify({ file, error: error.message, rejected }, null, 2)}\n`);
    else {
      io.err(`${error.message}\n`);
      printRejections(io.err, rejected, rejected.length);
    }
    return 1;
  } finally {
    await members.close();
    store.close();
  }
}

export function register(program: Command): void {
  const central = program
    .command('central')
    .description('run the central service: MQTT ingest, history, dashboard and API (embedded broker unless one is configured)')
    .option('-c, --config <file>', 'central config file (YAML or JSON): the embedded broker needs embedded.passwordFile (oag central mqtt-passwd); dashboard on 127.0.0.1:8090 by default')
    .action(async (options: { config?: string }) => {
      const { CentralConfigError, loadCentralConfig, parseCentralConfig } = await import('../../central/config.js');
      const { DeploymentKeyError } = await import('../../central/members/key.js');
      const { startCentral } = await import('../../central/main.js');
      const { pino } = await import('pino');
      let config;
      try {
        config = options.config ? loadCentralConfig(options.config) : parseCentralConfig({});
      } catch (error) {
        if (error instanceof CentralConfigError) throw new CliFailure(error.message, 2);
        throw error;
      }
      const badStore = storePathProblem(config.store.path, 'central store');
      if (badStore !== undefined) throw new CliFailure(badStore, 2);
      const logger = pino({ level: config.log.level });
      let running;
      try {
        running = await startCentral(config, { clock: { now: () => new Date() }, logger });
      } catch (error) {
        if (error instanceof DeploymentKeyError || (error instanceof Error && ['SigningKeyError', 'EmbeddedBrokerError', 'CentralDatabaseError'].includes(error.name))) {
          throw new CliFailure(error.message, 2);
        }
        const listeners = [{ host: config.http.host, port: config.http.port, setting: 'http.port' }];
        if (!config.broker) {
          const embedded = config.embedded ?? { host: '127.0.0.1', port: 1883 };
          listeners.push({ host: embedded.host, port: embedded.port, setting: 'embedded.port' });
        }
        const problem = listenProblem(error, listeners, options.config) ?? storeProblem(config.store.path, error, 'central store');
        if (problem !== undefined) throw new CliFailure(problem);
        throw error;
      }
      const r = running;
      console.log(`dashboard  ${r.httpUrl}`);
      if ((await r.auth.accounts.list()).length === 0) {
        console.log(`sign-in    no accounts yet: oag central users add NAME --role administrator${options.config ? ` --config ${options.config}` : ''}`);
      }
      console.log(`API        ${r.httpUrl}/api/docs`);
      console.log(`MQTT       ${r.brokerUrl}${r.mqttProtocolVersion === 4 ? ' (embedded, MQTT 3.1.1: gateways set mqtt.protocolVersion: 4)' : ''}`);
      const current = await r.members?.store.current();
      console.log(
        `members    ${r.members === null ? 'off (no deployment key)' : current ? `version ${current.version}, ${fmt(current.count)} members` : 'no list yet (oag central members import FILE.csv)'}`,
      );
      const shutdown = (signal: string): void => {
        logger.info({ signal }, 'stopping');
        void r.close().then(() => process.exit(0));
      };
      process.once('SIGTERM', () => shutdown('SIGTERM'));
      process.once('SIGINT', () => shutdown('SIGINT'));
    });

  registerCentralAuth(central);
  registerCentralMqttPasswd(central);
  registerCentralMqttAcl(central);
  registerCentralSigningKey(central);
  registerCentralRetire(central);

  const members = central.command('members').description("central's member list, from the library system's export");
  members
    .command('import-delta')
    .description('apply the members changed since the last LMS export (whole rows, deletions marked in a deleted column) as one new version')
    .argument('<file>', 'CSV file with the export\'s header line and a deleted column (members.import.columns.deleted, default "deleted")')
    .option('-c, --config <file>', 'central config: store.path, members.import (columns, category rules), deploymentKeyFile')
    .option('--key-file <file>', 'deployment key file (hex or base64, at least 32 bytes); default: $OAG_DEPLOYMENT_KEY')
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      '\nRows are absolute (each member\'s whole new row), so the same file twice changes nothing. Bad rows are left out and\n' +
        'listed, as in a full import; the file is refused when too many are bad or it would remove too many members.\n' +
        'Exit status: 0 applied (or nothing to change), 1 file refused (nothing changed), 2 usage.',
    )
    .action(async (file: string, options: CentralMembersImportOptions, command: Command) => {
      const all = { ...(command.optsWithGlobals() as CentralMembersImportOptions), ...options };
      process.exitCode = await runCentralMembersImportDelta(file, all, processIo, { tty: process.stderr.isTTY === true, stream: process.stderr });
    });
  members
    .command('import')
    .description('make a new version of the member list from an LMS export (CSV, all or nothing); card numbers are hashed on reading')
    .argument('<file>', 'CSV file with a header line')
    .option('-c, --config <file>', 'central config: store.path, members.import (columns, category rules), deploymentKeyFile')
    .option('--key-file <file>', 'deployment key file (hex or base64, at least 32 bytes); default: $OAG_DEPLOYMENT_KEY')
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      '\nThe deployment key is the gateways\' key: --key-file, else OAG_DEPLOYMENT_KEY, else deploymentKeyFile in the config.\n' +
        'A running central announces the new version to every branch within seconds (members.pollSeconds).\n' +
        'Exit status: 0 imported (or the same as the current version), 1 file refused (nothing changed), 2 usage.',
    )
    .action(async (file: string, options: CentralMembersImportOptions, command: Command) => {
      // `--config` is also an option of `oag central` itself, which commander gives it first.
      const all = { ...(command.optsWithGlobals() as CentralMembersImportOptions), ...options };
      process.exitCode = await runCentralMembersImport(file, all, processIo, { tty: process.stderr.isTTY === true, stream: process.stderr });
    });
}
