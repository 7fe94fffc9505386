import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createCardHasher } from '../../../gateway/core/cards.js';
import { ConfigError } from '../../../gateway/config.js';
import { PatronCache } from '../../../gateway/sip2/cache.js';
import type { LookupResult } from '../../../gateway/sip2/client.js';
import { Sip2ConfigSchema } from '../../../gateway/sip2/config.js';
import { OnlineCheck, createOnlineCheck, loadSip2Password } from '../../../gateway/sip2/online-check.js';
import type { PatronLookup } from '../../../gateway/sip2/online-check.js';
import { createPseudonymizer } from '../../../policies/pseudonym.js';
import type { Member } from '../../../policies/types.js';
import { TEST_KEY_HEX, adult } from '../../helpers/gateway-harness.js';

const hash = createCardHasher(Buffer.from(TEST_KEY_HEX, 'hex'));
const pseudonym = createPseudonymizer(Buffer.alloc(32, 9));

class FakeLookup implements PatronLookup {
  readonly asked: string[] = [];
  readonly answers = new Map<string, LookupResult>();
  private readonly waiting: Array<() => void> = [];
  held = false;
  started = false;
  stopped = false;

  async lookupPatron(card: string): Promise<LookupResult> {
    this.asked.push(card);
    if (this.held) await new Promise<void>((resolve) => this.waiting.push(resolve));
    const answer = this.answers.get(card);
    if (answer instanceof Error) throw answer;
    return answer;
  }

  async checkPatronPassword(): Promise<'unavailable'> {
    return 'unavailable';
  }

  release(): void {
    this.held = false;
    for (const resolve of this.waiting.splice(0)) resolve();
  }

  start(): void {
    this.started = true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
  }
}

function setup(found = 60 * 60_000, notFound = 60_000): { check: OnlineCheck; lookup: FakeLookup; clock: { at: number; now(): Date }; logs: string[] } {
  const clock = { at: Date.UTC(2026, 10, 23, 14), now: () => new Date(clock.at) };
  const lookup = new FakeLookup();
  const logs: string[] = [];
  const logger = {
    info: (o: object, m: string) => logs.push(JSON.stringify({ ...o, msg: m })),
    warn: (o: object, m: string) => logs.push(JSON.stringify({ ...o, msg: m })),
    debug: (o: object, m: string) => logs.push(JSON.stringify({ ...o, msg: m })),
  };
  const check = new OnlineCheck({ lookup, cache: new PatronCache(clock, found, notFound), logger, pseudonym });
  return { check, lookup, clock, logs };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('OnlineCheck', () => {
  it('asks the LMS once, then answers from memory until the answer is old', async () => {
    const { check, lookup, clock } = setup(10 * 60_000);
    lookup.answers.set('21000123', adult);
    const card = hash('21000123');
    expect(check.cached(card)).toBeUndefined();
    expect(await check.check('21000123', card)).toEqual(adult);
    expect(check.cached(card)).toEqual(adult);
    expect(await check.check('21000123', card)).toEqual(adult);
    expect(lookup.asked).toHaveLength(1);
    clock.at += 10 * 60_000;
    expect(check.cached(card)).toBeUndefined();
    await check.check('21000123', card);
    expect(lookup.asked).toHaveLength(2);
  });

  it('remembers "no such patron" briefly and "no answer" not at all', async () => {
    const { check, lookup, clock } = setup(60 * 60_000, 30_000);
    const unknown = hash('99999999');
    expect(await check.check('99999999', unknown)).toBeUndefined();
    expect(check.cached(unknown)).toBeNull();
    clock.at += 30_000;
    expect(check.cached(unknown)).toBeUndefined();

    lookup.answers.set('21000123', 'unavailable');
    const card = hash('21000123');
    expect(await check.check('21000123', card)).toBeUndefined();
    expect(check.cached(card)).toBeUndefined();
    lookup.answers.set('21000123', adult);
    expect(await check.check('21000123', card)).toEqual(adult);
  });

  it('asks once for a card tapped again while its answer is on the way, and decides that tap once', async () => {
    const { check, lookup } = setup();
    lookup.answers.set('21000123', adult);
    lookup.held = true;
    const card = hash('21000123');
    const decided: Array<Member | undefined> = [];
    expect(check.whenChecked('21000123', card, (m) => decided.push(m))).toBe(true);
    expect(check.whenChecked('21000123', card, (m) => decided.push(m))).toBe(false);
    // Another card is not held up by the first.
    expect(check.whenChecked('55555555', hash('55555555'), (m) => decided.push(m ?? ({ unknown: true } as never)))).toBe(true);
    lookup.release();
    await tick();
    expect(lookup.asked).toEqual(['21000123', '55555555']);
    expect(decided).toEqual([adult, { unknown: true }]);
  });

  it('decides nothing once stopped, and logs instead of throwing when deciding fails', async () => {
    const { check, lookup, logs } = setup();
    lookup.answers.set('21000123', adult);
    check.whenChecked('21000123', hash('21000123'), () => {
      throw new Error('store closed');
    });
    await tick();
    expect(logs.some((l) => l.includes('deciding after the SIP2 online check failed') && l.includes('store closed'))).toBe(true);

    lookup.held = true;
    const decided: unknown[] = [];
    check.whenChecked('44444444', hash('44444444'), (m) => decided.push(m));
    await check.stop();
    lookup.release();
    await tick();
    expect(decided).toEqual([]);
    expect(lookup.stopped).toBe(true);
  });

  it('turns a failing look-up into "unknown card" and logs the pseudonym, never the number', async () => {
    const { check, lookup, logs } = setup();
    lookup.answers.set('21000999', new Error('socket hang up') as never);
    expect(await check.check('21000999', hash('21000999'))).toBeUndefined();
    await check.check('21000123', hash('21000123'));
    expect(logs.length).toBeGreaterThan(0);
    for (const line of logs) {
      expect(line).not.toContain('21000999');
      expect(line).not.toContain('21000123');
    }
    expect(logs.join('\n')).toContain(pseudonym(hash('21000999')));
    // This branch's pseudonym, not a cut of the card hash, which is the same at every branch and at central.
    expect(logs.join('\n')).not.toContain(hash('21000999').toString('hex', 0, 4));
  });
});

describe('SIP2 password and construction', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const config = Sip2ConfigSchema.parse({ host: '127.0.0.1', port: 6001, institutionId: 'TOWN', user: 'gate' });
  const silent = { info: () => {}, warn: () => {}, debug: () => {} };

  it('reads the password from OAG_SIP2_PASSWORD, then the password file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oag-sip2-'));
    dirs.push(dir);
    const file = join(dir, 'sip2.pw');
    writeFileSync(file, 'from-file\n');
    expect(loadSip2Password({ passwordFile: file }, { OAG_SIP2_PASSWORD: 'from-env' })).toBe('from-env');
    expect(loadSip2Password({ passwordFile: file }, {})).toBe('from-file');
  });

  it('fails to start, naming what is missing, without a password or with an unreadable CA file', () => {
    const errors = (fn: () => unknown): string[] => {
      try {
        fn();
      } catch (error) {
        if (error instanceof ConfigError) return error.errors;
        throw error;
      }
      return [];
    };
    expect(errors(() => createOnlineCheck(config, { clock: { now: () => new Date(0) }, logger: silent, env: {}, pseudonym }))).toEqual([
      'OAG_SIP2_PASSWORD: not set (and no sip2.passwordFile in the config)',
    ]);
    expect(errors(() => loadSip2Password({ passwordFile: '/nonexistent/sip2.pw' }, {}))).toEqual([
      'sip2.passwordFile (/nonexistent/sip2.pw): cannot read: ENOENT',
    ]);
    // A device that never ends is refused at the limit, not read until memory runs out.
    expect(errors(() => loadSip2Password({ passwordFile: '/dev/zero' }, {}))[0]).toMatch(/^sip2\.passwordFile \(\/dev\/zero\): too large/);
    const withCa = { ...config, tls: { ca: '/nonexistent/ca.pem', rejectUnauthorized: true } };
    expect(errors(() => createOnlineCheck(withCa, { clock: { now: () => new Date(0) }, logger: silent, env: { OAG_SIP2_PASSWORD: 'pw' }, pseudonym }))).toEqual([
      'sip2.tls.ca (/nonexistent/ca.pem): cannot read: ENOENT',
    ]);
  });
});
