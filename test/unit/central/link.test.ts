// Central's MQTT link acknowledges a branch's message only once ingest is done with it: a message the store could
// not take is sent again by the broker (the link reconnects on its persistent session), a refused one is not.
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from 'mqtt';
import { CentralBus } from '../../../central/bus.js';
import { parseCentralConfig } from '../../../central/config.js';
import type { IncomingMessage } from '../../../central/ingest.js';
import { CentralLink, centralSubscriptions, type LinkIngest } from '../../../central/link.js';
import { readSigningKey } from '../../../central/signing-key.js';
import { topics } from '../../../policies/contract/index.js';
import { startTestBroker } from '../../helpers/mqtt-credentials.js';
import { testSigningKey } from '../../helpers/signing-keys.js';
import { until } from '../../helpers/until.js';

const SITE = 'town';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Ingest as the link sees it: records every message, and fails the store for the payloads in `failOnce` the first time. */
function recordingIngest(failOnce: Set<string>): LinkIngest & { seen: string[] } {
  const seen: string[] = [];
  return {
    seen,
    async handle(msg: IncomingMessage) {
      const text = msg.payload.toString();
      seen.push(text);
      if (failOnce.delete(text)) throw new Error('SQLITE_FULL: database or disk is full');
    },
  };
}

async function startLink(ingest: LinkIngest, logs: string[] = []) {
  const test = await startTestBroker([SITE]);
  cleanups.push(() => test.close());
  const link = new CentralLink({
    url: test.broker.url,
    broker: { clientId: 'oag-central', protocolVersion: 4, sessionExpirySeconds: 3600, ...test.broker.central },
    prefix: 'oa/v1',
    commandTimeoutMs: 1000,
    signingKey: readSigningKey(testSigningKey().privateFile, 'signing.keyFile'),
    ingest,
    bus: new CentralBus(),
    clock: { now: () => new Date() },
    logger: pino({ level: 'warn' }, { write: (line: string) => void logs.push(line) }),
    storeRetryMs: 20,
  });
  cleanups.push(() => link.close());
  await link.start();
  const branch = connect(test.broker.url, { protocolVersion: 4, clientId: SITE, ...test.mqtt.login(SITE), reconnectPeriod: 0 });
  cleanups.push(() => void branch.end(true));
  await until(() => branch.connected, 'the branch connected');
  return { link, branch };
}

describe('central link: acknowledged once stored', () => {
  it('has a message the store could not take sent again, and a refused one not', async () => {
    const ingest = recordingIngest(new Set(['store-fails']));
    const logs: string[] = [];
    const { branch } = await startLink(ingest, logs);
    const events = topics('oa/v1', SITE).events;
    await branch.publishAsync(events, 'not json: refused', { qos: 1 });
    await branch.publishAsync(events, 'store-fails', { qos: 1 });
    await branch.publishAsync(events, 'stored', { qos: 1 });

    await until(() => ingest.seen.filter((s) => s === 'store-fails').length === 2, () => `the failed message sent again; ingest saw ${JSON.stringify(ingest.seen)}`);
    // Once more after the reconnect that brought it back: nothing else came again.
    await branch.publishAsync(events, 'last', { qos: 1 });
    await until(() => ingest.seen.includes('last'), 'the last message');
    expect(ingest.seen.filter((s) => s === 'not json: refused')).toHaveLength(1);
    expect(ingest.seen.filter((s) => s === 'stored')).toHaveLength(1);
    const messages = logs.map((l) => JSON.parse(l) as { msg: string; err?: string });
    expect(messages).toContainEqual(expect.objectContaining({ msg: expect.stringContaining('message not stored: not acknowledged'), err: 'SQLITE_FULL: database or disk is full' }));
  });
});

/** Ingest whose every message waits until the test settles it: a commit that has not happened yet. */
function heldIngest(): LinkIngest & { seen: string[]; arrivals: Array<{ text: string; settledBefore: string[] }>; settle(text: string, outcome: 'stored' | 'store-fails'): void } {
  const seen: string[] = [];
  const settled: string[] = [];
  const arrivals: Array<{ text: string; settledBefore: string[] }> = [];
  // By payload, oldest first: a message sent again may arrive while its first copy is still in ingest.
  const pending = new Map<string, Array<{ resolve(): void; reject(err: Error): void }>>();
  return {
    seen,
    arrivals,
    handle(msg: IncomingMessage) {
      const text = msg.payload.toString();
      seen.push(text);
      arrivals.push({ text, settledBefore: [...settled] });
      return new Promise<void>((resolve, reject) => pending.set(text, [...(pending.get(text) ?? []), { resolve, reject }]));
    },
    settle(text, outcome) {
      const p = pending.get(text)!.shift()!;
      settled.push(text);
      if (outcome === 'stored') p.resolve();
      else p.reject(new Error('SQLITE_FULL: database or disk is full'));
    },
  };
}

describe('central link: many messages in ingest at once', () => {
  it('hands the next events to ingest before the first is committed, and acknowledges each only after its own commit', async () => {
    const ingest = heldIngest();
    const { branch } = await startLink(ingest);
    const events = topics('oa/v1', SITE).events;
    const sent = ['e1', 'e2', 'e3', 'e4', 'e5'];
    for (const text of sent) await branch.publishAsync(events, text, { qos: 1 });

    // All five in ingest while none is committed: they can be committed together.
    await until(() => ingest.seen.length === 5, () => `five messages in ingest at once; it saw ${JSON.stringify(ingest.seen)}`);
    ingest.settle('e1', 'stored');
    ingest.settle('e2', 'stored');
    ingest.settle('e4', 'stored');
    // e3's store fails: the link reconnects and the broker sends again what was not acknowledged: e3, and e5, whose
    // commit has not happened (its acknowledgement is not sent on the new connection when it does).
    ingest.settle('e3', 'store-fails');
    await until(() => ingest.seen.length >= 7, () => `the unacknowledged messages sent again; ingest saw ${JSON.stringify(ingest.seen)}`);
    ingest.settle('e5', 'stored');
    expect(ingest.seen.slice(5).sort()).toEqual(['e3', 'e5']);
    ingest.settle('e3', 'stored');
    ingest.settle('e5', 'stored');

    await branch.publishAsync(events, 'last', { qos: 1 });
    await until(() => ingest.seen.includes('last'), 'the last message');
    expect(ingest.seen.slice(7)).toEqual(['last']);
  });

  it('lets a state wait until ingest is done with the events before it, and the events after it wait for the state', async () => {
    const ingest = heldIngest();
    const { branch } = await startLink(ingest);
    const t = topics('oa/v1', SITE);
    await branch.publishAsync(t.events, 'e1', { qos: 1 });
    await branch.publishAsync(t.state, 'state', { qos: 1 });
    await branch.publishAsync(t.events, 'e2', { qos: 1 });
    await until(() => ingest.seen.length === 1, 'the first event');
    ingest.settle('e1', 'stored');
    await until(() => ingest.seen.length === 2, 'the state');
    ingest.settle('state', 'stored');
    await until(() => ingest.seen.length === 3, 'the event after the state');
    ingest.settle('e2', 'stored');
    // Each reached ingest only once the one before it was done with.
    expect(ingest.arrivals).toEqual([
      { text: 'e1', settledBefore: [] },
      { text: 'state', settledBefore: ['e1'] },
      { text: 'e2', settledBefore: ['e1', 'state'] },
    ]);
  });
});

describe('central link: several instances', () => {
  it('shares the events in the group, and takes the retained state, replies, member requests and desk changes as every instance', () => {
    expect(centralSubscriptions('oa/v1', 'central')).toEqual([
      'oa/v1/sites/+/availability',
      'oa/v1/sites/+/state',
      '$share/central/oa/v1/sites/+/events',
      'oa/v1/sites/+/command/reply',
      'oa/v1/sites/+/policy',
      'oa/v1/sites/+/members/request',
      'oa/v1/sites/+/members/change',
    ]);
    expect(centralSubscriptions('oa/v1', undefined).every((f) => !f.startsWith('$share/'))).toBe(true);
  });

  it('refuses a share group on MQTT 3.1.1, one a topic level cannot hold, or one without a shared history, naming the field', () => {
    const broker = { url: 'mqtts://mqtt.example.org:8883', clientId: 'oag-central-2' };
    const store = { postgres: { urlFile: '/etc/oag/central-db-url' } };
    expect(() => parseCentralConfig({ broker: { ...broker, shareGroup: 'central', protocolVersion: 4 } })).toThrow(
      'broker.shareGroup: needs protocolVersion 5: MQTT 3.1.1 has no shared subscriptions',
    );
    expect(() => parseCentralConfig({ broker: { ...broker, shareGroup: 'central/+' } })).toThrow('broker.shareGroup: must be lower case letters, digits and dashes');
    expect(() => parseCentralConfig({ broker: { ...broker, shareGroup: 'central' } })).toThrow('store.postgres: required with broker.shareGroup');
    expect(parseCentralConfig({ broker: { ...broker, shareGroup: 'central' }, store }).broker?.shareGroup).toBe('central');
  });
});
