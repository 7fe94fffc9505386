// `oag` on bad input, a busy port or a store path that is not a store: one line naming the problem, exit 1 (2 for
// usage), and never a stack trace. The CLI runs as a user runs it, through bin/oag.js.
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { aliasBomb, STACK_LINE } from '../../helpers/hostile-input.js';
import { testSigningKey } from '../../helpers/signing-keys.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const KEY_HEX = '0f1e2d3c4b5a69788796a5b4c3d2e1f000112233445566778899aabbccddeeff';
const dir = mkdtempSync(join(tmpdir(), 'oag-cli-failures-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/oag.js …` to its end. */
function oag(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/oag.js', ...args], { cwd: ROOT, env: { ...process.env, OAG_DEBUG: '', ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
    });
  });
}

function expectOneClearLine(outcome: Outcome, code: number, line: string | RegExp): void {
  expect(outcome.stderr, outcome.stderr).not.toMatch(STACK_LINE);
  expect(outcome.code, outcome.stderr).toBe(code);
  const lines = outcome.stderr.trimEnd().split('\n');
  expect(lines, outcome.stderr).toHaveLength(1);
  if (typeof line === 'string') expect(lines[0]).toBe(line);
  else expect(lines[0]).toMatch(line);
}

const town = readFileSync(join(ROOT, 'policies/examples/town.yaml'));

function listen(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port }));
  });
}

describe('oag on hostile files', () => {
  it('check-config and schedule refuse an alias bomb with one line and exit 1', async () => {
    const bomb = file('bomb.yaml', aliasBomb());
    const [check, schedule] = await Promise.all([oag(['check-config', bomb]), oag(['schedule', '--policy', bomb, '--at', '2026-10-25T01:30:00Z'])]);
    expectOneClearLine(check, 1, `${bomb}: too many YAML aliases (limit 100)`);
    expectOneClearLine(schedule, 1, `${bomb}: too many YAML aliases (limit 100)`);
  }, 60_000);

  it('check-config refuses a 10 MB policy and one that is not UTF-8, naming the size and the byte', async () => {
    const huge = file('huge.yaml', Buffer.concat([town, Buffer.from(`# ${'x'.repeat(10 * 1024 * 1024)}\n`)]));
    const bad = Buffer.from(town);
    const at = bad.indexOf('Town Central');
    bad[at] = 0xff;
    const latin = file('latin1.yaml', bad);
    const [big, notUtf8] = await Promise.all([oag(['check-config', huge]), oag(['check-config', latin])]);
    expectOneClearLine(big, 1, new RegExp(`^${huge}: too large \\(10,4\\d\\d,\\d{3} bytes; the limit is 256 KiB\\)$`));
    expectOneClearLine(notUtf8, 1, `${latin}: not valid UTF-8 at byte ${at} (line 6)`);
  }, 60_000);

  it('says what is wrong with a store path that is a folder or not a store, and touches neither', async () => {
    mkdirSync(join(dir, 'store-folder'), { recursive: true });
    const notStore = file('notes.txt', 'these are not members\n');
    const csv = file('members.csv', 'card_number,open_access\n21000000001234,yes\n');
    const env = { OAG_DEPLOYMENT_KEY: KEY_HEX };
    const [folder, text, users] = await Promise.all([
      oag(['members', 'import', csv, '--store', join(dir, 'store-folder')], env),
      oag(['members', 'import', csv, '--store', notStore], env),
      oag(['users', 'list', '--store', join(dir, 'store-folder')]),
    ]);
    expectOneClearLine(folder, 2, `${join(dir, 'store-folder')}: is a folder; give the store's file (for example ${join(dir, 'store-folder', 'gateway.sqlite')})`);
    expectOneClearLine(text, 2, `${notStore}: not a gateway store (not an SQLite database)`);
    expectOneClearLine(users, 2, `${join(dir, 'store-folder')}: is a folder; give the store's file (for example ${join(dir, 'store-folder', 'gateway.sqlite')})`);
    expect(readFileSync(notStore, 'utf8')).toBe('these are not members\n');
  }, 60_000);

  it('oag central retire reads the config it is given (an option oag central has too), and refuses an instance on the embedded broker', async () => {
    const embedded = file('central-retire-embedded.yaml', `http: { port: 0 }\nstore: { path: ':memory:' }\n`);
    const [given, none] = await Promise.all([oag(['central', 'retire', '--config', embedded]), oag(['central', 'retire'])]);
    expectOneClearLine(given, 1, /^broker: not set: an instance on the embedded broker has no session elsewhere to retire/);
    expectOneClearLine(none, 2, "--config: give the retired instance's config file (its broker client id is the session to end)");
  }, 60_000);

  it('exits 2 for usage, after commander has said what is missing', async () => {
    const outcome = await oag(['schedule']);
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toContain("required option '--policy <file>' not specified");
    expect(outcome.stderr).not.toMatch(STACK_LINE);
  }, 60_000);
});

describe('oag with a busy port', () => {
  it('oag gateway names the port, the address and the setting, and keeps the doors running', async () => {
    const { server, port } = await listen();
    try {
      file('policy.yaml', town);
      const config = file('gateway.yaml', ['site: town-central', 'policyFile: policy.yaml', 'store: { path: gw-busy.sqlite }', `http: { host: 127.0.0.1, port: ${port} }`, 'log: { level: silent }', 'hardware: { gpio: { driver: simulated }, readers: [{ id: entry, driver: simulated }] }', ''].join('\n'));
      const child = spawn(process.execPath, ['bin/oag.js', 'gateway', '--config', config], { cwd: ROOT, env: { ...process.env, OAG_DEBUG: '', OAG_DEPLOYMENT_KEY: KEY_HEX }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.stdout.resume();
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const deadline = Date.now() + 45_000;
      while (!stderr.includes('\n') && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const running = child.exitCode === null;
      child.kill('SIGTERM');
      await exited;
      expect(stderr).toContain(`oag gateway: port ${port} on 127.0.0.1 is in use (http.port in ${config})`);
      expect(stderr).not.toMatch(STACK_LINE);
      // The API is an extension the gateway tries again; the doors do not wait for it.
      expect(running).toBe(true);
    } finally {
      server.close();
    }
  }, 60_000);

  it('oag central without a password file for its embedded broker names the setting and the command that makes one, and exits 2', async () => {
    const none = file('central-no-passwords.yaml', `http: { port: 0 }\nstore: { path: ':memory:' }\nlog: { level: silent }\n`);
    const open = file('central-open.yaml', `http: { port: 0 }\nembedded: { host: 0.0.0.0, port: 0, passwordFile: mqtt-passwords }\nstore: { path: ':memory:' }\n`);
    const [a, b] = await Promise.all([oag(['central', '--config', none]), oag(['central', '--config', open])]);
    expectOneClearLine(a, 2, /^oag central: embedded\.passwordFile: required: .*oag central mqtt-passwd FILE SITE-ID --generate$/);
    expect(b.code, b.stderr).toBe(2);
    expect(b.stderr).toContain('embedded.tls: required when embedded.host is not a loopback address (0.0.0.0)');
  }, 60_000);

  it('oag central names the port and the setting, and exits 1', async () => {
    const { server, port } = await listen();
    try {
      file('mqtt-passwords', '');
      const signing = `signing: { keyFile: ${JSON.stringify(testSigningKey().privateFile)} }\n`;
      const http = file('central-http.yaml', `http: { host: 127.0.0.1, port: ${port} }\nembedded: { port: 0, passwordFile: mqtt-passwords }\nstore: { path: ':memory:' }\nlog: { level: silent }\n${signing}`);
      const mqtt = file('central-mqtt.yaml', `http: { port: 0 }\nembedded: { host: 127.0.0.1, port: ${port}, passwordFile: mqtt-passwords }\nstore: { path: ':memory:' }\nlog: { level: silent }\n${signing}`);
      const [a, b] = await Promise.all([oag(['central', '--config', http]), oag(['central', '--config', mqtt])]);
      expectOneClearLine(a, 1, `oag central: port ${port} on 127.0.0.1 is in use (http.port in ${http})`);
      expectOneClearLine(b, 1, `oag central: port ${port} on 127.0.0.1 is in use (embedded.port in ${mqtt})`);
    } finally {
      server.close();
    }
  }, 60_000);
});
