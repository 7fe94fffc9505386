// The console's CSV log export, streamed: the same bytes as the whole export built in one loop, but read and
// formatted a page at a time with the event loop turning between pages (a tap during a long export is served
// before the export ends). Local times come from one offset lookup per quarter hour, the same text as before.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { csvPages } from '../../gateway/console/routes/log.js';
import { CSV_HEADER, csvLine, localTimes, storedRow } from '../../gateway/console/log-format.js';
import { parsePolicy, toLocalIso } from '../../policies/index.js';
import type { Policy } from '../../policies/index.js';
import { startConsole } from '../helpers/console.js';
import type { ConsoleHarness } from '../helpers/console.js';

const running: ConsoleHarness[] = [];
afterEach(async () => {
  for (const c of running.splice(0)) await c.stop();
});

/** `n` events over the last days, of several types, some with text a CSV cell must quote or defuse. */
function fill(c: ConsoleHarness, n: number): void {
  const store = c.harness.running.store;
  const start = Date.parse('2026-03-20T00:00:00Z');
  store.transaction(() => {
    for (let i = 0; i < n; i++) {
      const at = new Date(start + i * 97_000);
      if (i % 5 === 0) store.events.append({ type: 'staff', at, data: { actor: i % 10 === 0 ? '=HYPERLINK("x")' : 'sam, "the" manager', action: 'lockdown-on' } });
      else store.events.append({ type: 'access', at, reason: 'member', data: { decision: 'granted', reason: 'member', reader: 'entry', person: 'ab12cd34', mode: 'open-access' } });
    }
  });
}

/** The export as the route built it before it streamed: every page formatted in one loop. */
function inOneLoop(c: ConsoleHarness, policy: Policy): string {
  const parts = ['\ufeff', CSV_HEADER];
  let before: string | undefined;
  for (;;) {
    const page = c.harness.running.store.events.query({ limit: 1000, before });
    for (const event of page) parts.push(csvLine(storedRow(event), toLocalIso(policy, new Date(event.at))));
    if (page.length < 1000) break;
    before = page[page.length - 1]!.id;
  }
  return parts.join('');
}

async function staffConsole(): Promise<{ c: ConsoleHarness; get: (url: string) => ReturnType<ConsoleHarness['call']> }> {
  const c = await startConsole();
  running.push(c);
  await c.addUser('sam', 'staff');
  const staff = await c.login('sam');
  return { c, get: (url) => c.call(staff, 'GET', url) };
}

describe('the CSV log export', () => {
  it('gives the same file as building it in one loop, across pages and the DST change', async () => {
    const { c, get } = await staffConsole();
    fill(c, 2_345); // 2.6 days from 20 March: London's clocks go forward on the 29th, so also a later fill
    const store = c.harness.running.store;
    store.transaction(() => {
      for (let i = 0; i < 300; i++) store.events.append({ type: 'door', at: new Date(Date.parse('2026-03-29T00:00:00Z') + i * 37_000), data: { state: 'open' } });
    });
    const response = await get('/api/console/log.csv');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(response.body).toBe(inOneLoop(c, c.harness.running.gateway.policies.current));
    expect(response.body).toContain('+01:00,door,Door opened');
    expect(response.body.trim().split('\r\n')).toHaveLength(1 + store.events.count());
  });

  it('stops at the row limit, and filters as the JSON log does', async () => {
    const { c } = await staffConsole();
    fill(c, 1_000);
    const store = c.harness.running.store;
    const all: string[] = [];
    for await (const text of csvPages((p) => store.events.query({ types: ['staff'], ...p }), (at) => at, { maxRows: 150, page: 40 })) all.push(text);
    const lines = all.join('').replace(/^\ufeff/, '').trim().split('\r\n');
    expect(lines).toHaveLength(151);
    expect(lines.slice(1).every((l) => l.split(',')[2] === 'staff' || l.includes(',staff,'))).toBe(true);
  });

  it('lets the event loop turn between pages: a tap scheduled during the export is served before it ends', async () => {
    const { c, get } = await staffConsole();
    fill(c, 3_000);
    const store = c.harness.running.store;
    const query = store.events.query.bind(store.events);
    let pages = 0;
    store.events.query = (q) => {
      pages++;
      return query(q);
    };
    // How many pages were read by the time each turn of the loop ran: built in one loop, every turn sees either
    // none or all of them.
    const seen: number[] = [];
    let probe = setImmediate(function look() {
      seen.push(pages);
      probe = setImmediate(look);
    });
    const response = await get('/api/console/log.csv');
    clearImmediate(probe);
    const total = pages;
    expect(response.body.trim().split('\r\n')).toHaveLength(1 + store.events.count());
    expect(total).toBeGreaterThan(5);
    expect(seen.filter((n) => n > 0 && n < total).length).toBeGreaterThanOrEqual(total / 2);
  });
});

describe('local times in the export', () => {
  const town = parse(readFileSync(new URL('../../policies/examples/town.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;

  it.each(['Europe/London', 'America/St_Johns', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'UTC'])('are what toLocalIso gives, in %s', (timezone) => {
    const parsed = parsePolicy({ ...town, timezone });
    if (!parsed.ok) throw new Error(parsed.errors.join('; '));
    const policy = parsed.policy;
    const local = localTimes((at) => toLocalIso(policy, at));
    const check = (ms: number): void => {
      const at = new Date(ms).toISOString();
      expect(local(at), at).toBe(toLocalIso(policy, new Date(ms)));
    };
    // A year in steps of a little over half an hour, and around the changes (late March to early April, late
    // September to early October) either side of every quarter hour.
    const year = Date.parse('2026-01-01T00:00:00Z');
    for (let ms = year; ms < year + 365 * 86_400_000; ms += 31 * 60_000 + 1_001) check(ms);
    for (const from of ['2026-03-25T00:00:00Z', '2026-09-24T00:00:00Z']) {
      const start = Date.parse(from);
      for (let q = start; q < start + 16 * 86_400_000; q += 900_000) {
        check(q - 1_000);
        check(q);
      }
    }
  });
});
