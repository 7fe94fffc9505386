// The words `oag` uses for what went wrong: one line, the stack only with OAG_DEBUG=1.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CliFailure, debugEnabled, describeFailure, listenProblem, storePathProblem, storeProblem } from '../../../scripts/commands/failure.js';
import { STACK_LINE } from '../../helpers/hostile-input.js';

const dir = mkdtempSync(join(tmpdir(), 'oag-failure-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('describeFailure', () => {
  it('prints one line for an unexpected error, with a hint and no stack, and the stack under OAG_DEBUG', () => {
    const error = new TypeError("Cannot read properties of undefined (reading 'site')");
    const plain = describeFailure('members import', error, false);
    expect(plain).toEqual({ text: "oag members import: Cannot read properties of undefined (reading 'site') (OAG_DEBUG=1 shows where)\n", exitCode: 1 });
    const debug = describeFailure('members import', error, true);
    expect(debug.text).toMatch(STACK_LINE);
    expect(debugEnabled({ OAG_DEBUG: '1' })).toBe(true);
    expect(debugEnabled({ OAG_DEBUG: '0' })).toBe(false);
    expect(debugEnabled({})).toBe(false);
  });

  it('keeps the exit status and every line of a failure the command put into words', () => {
    expect(describeFailure('gateway', new CliFailure('gw.yaml: invalid configuration\n  site: required', 2), false)).toEqual({
      text: 'oag gateway: gw.yaml: invalid configuration\n  site: required\n',
      exitCode: 2,
    });
  });

  it('adds the system error code when the message does not have it', () => {
    const error = Object.assign(new Error('boom'), { code: 'EIO' });
    expect(describeFailure('tap', error, false).text).toBe('oag tap: boom (EIO) (OAG_DEBUG=1 shows where)\n');
  });
});

describe('listenProblem', () => {
  const busy = Object.assign(new Error('listen EADDRINUSE: address already in use 127.0.0.1:8080'), { code: 'EADDRINUSE', syscall: 'listen', address: '127.0.0.1', port: 8080 });
  it('names the port, the address, the setting and the file', () => {
    expect(listenProblem(busy, [{ host: '127.0.0.1', port: 8080, setting: 'http.port' }], '/etc/oag/gateway.yaml')).toBe('port 8080 on 127.0.0.1 is in use (http.port in /etc/oag/gateway.yaml)');
    expect(listenProblem(busy, [{ host: '127.0.0.1', port: 8080, setting: 'http.port' }], undefined)).toBe(
      'port 8080 on 127.0.0.1 is in use (http.port in the defaults: give --config FILE to change it)',
    );
  });

  it('explains a privileged port and an address that is not this machine, and leaves other errors alone', () => {
    const denied = Object.assign(new Error('listen EACCES'), { code: 'EACCES', syscall: 'listen', address: '0.0.0.0', port: 80 });
    expect(listenProblem(denied, [{ host: '0.0.0.0', port: 80, setting: 'http.port' }], 'c.yaml')).toBe(
      'port 80 on 0.0.0.0 needs privileges this user does not have (http.port in c.yaml); use a port above 1023',
    );
    const away = Object.assign(new Error('listen EADDRNOTAVAIL'), { code: 'EADDRNOTAVAIL', syscall: 'listen', address: '10.9.9.9', port: 8090 });
    expect(listenProblem(away, [{ host: '10.9.9.9', port: 8090, setting: 'http.port' }], 'c.yaml')).toBe('10.9.9.9 is not an address of this machine (http.port in c.yaml)');
    expect(listenProblem(new Error('other'), [], undefined)).toBeUndefined();
  });
});

describe('store paths', () => {
  it('names a folder, a file that is not SQLite, and a path through a file', () => {
    mkdirSync(join(dir, 'folder'));
    writeFileSync(join(dir, 'members.csv'), 'card_number\n');
    expect(storePathProblem(join(dir, 'folder'))).toBe(`${join(dir, 'folder')}: is a folder; give the store's file (for example ${join(dir, 'folder', 'gateway.sqlite')})`);
    expect(storePathProblem(join(dir, 'members.csv'))).toBe(`${join(dir, 'members.csv')}: not a gateway store (not an SQLite database)`);
    expect(storePathProblem(join(dir, 'members.csv', 'gw.sqlite'))).toBe(`${join(dir, 'members.csv', 'gw.sqlite')}: part of the path is a file, not a folder`);
    expect(storePathProblem(join(dir, 'new.sqlite'))).toBeUndefined();
  });

  it('translates what SQLite says when it gets there first', () => {
    const notADb = Object.assign(new Error('file is not a database'), { name: 'SqliteError', code: 'SQLITE_NOTADB' });
    expect(storeProblem('/var/lib/oag/gw.sqlite', notADb)).toBe('/var/lib/oag/gw.sqlite: not a gateway store (not an SQLite database)');
    const wrapped = Object.assign(new Error('x: cannot open the store: unable to open database file', { cause: Object.assign(new Error('unable to open database file'), { code: 'SQLITE_CANTOPEN' }) }), { name: 'StoreError' });
    expect(storeProblem(join(dir, 'folder'), wrapped)).toContain('is a folder');
    expect(storeProblem('/x', Object.assign(new Error('database is locked'), { name: 'SqliteError', code: 'SQLITE_BUSY' }))).toBe('/x: the store is busy (another process is writing to it); try again');
    expect(storeProblem('/x', new Error('unrelated'))).toBeUndefined();
  });
});
