// The whole gateway with `sip2:` configured against the SIP2 responder on loopback, one per test: the responder, the
// gateway's password file and config, the harness, and their removal after the test.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, vi } from 'vitest';
import type { GatewayConfigInput } from '../../gateway/config.js';
import type { Member } from '../../policies/types.js';
import { removeDir, startHarness } from './gateway-harness.js';
import type { Harness, HarnessOptions } from './gateway-harness.js';
import { startSip2Responder } from './sip2-responder.js';
import type { ResponderOptions, Sip2Responder } from './sip2-responder.js';
import { until } from './until.js';

const PASSWORD = 'gate-password';

export interface Sip2GatewayOptions {
  /** What the library system knows; it shares the gateway's password. */
  patrons: ResponderOptions['patrons'];
  behaviour?: ResponderOptions['behaviour'];
  policy: Record<string, unknown>;
  members: Record<string, Partial<Member>>;
  /** The gateway's config beside `sip2:`. */
  config?: Partial<GatewayConfigInput>;
  /** Changes to the `sip2:` section (short timeouts, no reconnect wait, open access from PC=OA). */
  sip2?: Record<string, unknown>;
  start?: HarnessOptions['start'];
}

export interface Sip2GatewayScene {
  readonly harness: Harness;
  readonly responder: Sip2Responder;
  /** Starts the responder and the gateway and waits for the gateway's SIP2 login. */
  start(options: Sip2GatewayOptions): Promise<Harness>;
  /** Restarts the gateway (same folder); the new harness is the one stopped after the test. */
  restart(): Promise<Harness>;
  /** How many patron status requests (63) the library system has had. */
  patronRequests(): number;
  /** Taps a card and waits for its decision (which may come from the library system's answer). */
  tapAndWait(card: string): Promise<string>;
}

/**
 * Registers the per-test stop and clean-up; with `fakeDate`, only Date is faked at that instant (sockets and their
 * timeouts run on real time).
 */
export function sip2GatewayPerTest(dirPrefix: string, options: { fakeDate?: string } = {}): Sip2GatewayScene {
  let harness: Harness | undefined;
  let responder: Sip2Responder | undefined;
  let dir = '';

  if (options.fakeDate !== undefined) {
    const at = new Date(options.fakeDate);
    beforeEach(() => {
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(at);
    });
  }

  afterEach(async () => {
    await harness?.stop();
    await responder?.stop();
    harness = undefined;
    responder = undefined;
    if (options.fakeDate !== undefined) vi.useRealTimers();
    if (dir !== '') removeDir(dir);
    dir = '';
  });

  const scene: Sip2GatewayScene = {
    get harness(): Harness {
      if (harness === undefined) throw new Error('the SIP2 gateway is not started');
      return harness;
    },
    get responder(): Sip2Responder {
      if (responder === undefined) throw new Error('the SIP2 responder is not started');
      return responder;
    },
    async start(o) {
      const lms = await startSip2Responder({ password: PASSWORD, patrons: o.patrons, behaviour: o.behaviour });
      responder = lms;
      dir = mkdtempSync(join(tmpdir(), dirPrefix));
      writeFileSync(join(dir, 'sip2.pw'), `${PASSWORD}\n`);
      const sip2 = {
        host: '127.0.0.1',
        port: lms.port,
        institutionId: 'TOWN',
        user: 'gate-sip',
        passwordFile: join(dir, 'sip2.pw'),
        timeoutMs: 300,
        keepaliveSeconds: 0,
        reconnectMinMs: 50,
        mapping: { openAccess: { field: 'PC', values: ['OA'] } },
        ...o.sip2,
      };
      harness = await startHarness({
        dir,
        policy: o.policy,
        members: o.members,
        config: { ...o.config, sip2 } as Partial<GatewayConfigInput>,
        start: o.start,
      });
      await until(() => lms.received.some((m) => m.code === '99'), 'the SIP2 login');
      return harness;
    },
    async restart() {
      harness = await scene.harness.restart();
      return harness;
    },
    patronRequests: () => scene.responder.received.filter((m) => m.code === '63').length,
    async tapAndWait(card) {
      const h = scene.harness;
      const before = h.reasons().length;
      h.tap(card);
      await until(() => h.reasons().length > before);
      return h.reasons().at(-1)!;
    },
  };
  return scene;
}
