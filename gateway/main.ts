// The gateway's composition root: the only place that reads files, opens the store and the hardware, and
// wires everything. Outputs go to their safe state before anything else happens.
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { createHardware } from '../firmware-bridge/create-hardware.js';
import { installSafeStateHandlers } from '../firmware-bridge/safety.js';
import type { Hardware } from '../firmware-bridge/types.js';
import { loadPolicyText } from '../policies/index.js';
import type { Policy } from '../policies/index.js';
import { createCardHasher, deploymentKeyId } from './core/cards.js';
import { createClockTrust, systemClock } from './core/clock.js';
import type { Clock } from './core/clock.js';
import { ConfigError, loadDeploymentKey } from './config.js';
import type { GatewayConfig } from './config.js';
import { Gateway } from './core/controller.js';
import { startLocalApi } from './http/server.js';
import type { LocalApi } from './http/server.js';
import { MemberSync } from './members/sync.js';
import type { MemberSyncHooks } from './members/sync.js';
import { createOnlineCheck } from './sip2/online-check.js';
import type { OnlineCheck } from './sip2/online-check.js';
import { openStore } from './store/index.js';
import type { Store } from './store/index.js';
import { startSystemdNotify } from './systemd-notify.js';
import { attachUplink } from './uplink/attach.js';

export interface StartGatewayOptions {
  clock?: Clock;
  logger?: Logger;
  /** Injected by tests and the demo; otherwise built from `config.hardware`. */
  hardware?: Hardware;
  env?: NodeJS.ProcessEnv;
  /** Install SIGTERM/SIGINT/crash handlers that drive the outputs safe (the real service does; tests don't). */
  handleSignals?: boolean;
  /** Tests only: hooks into the member-list sync (a failure inside the apply transaction). */
  memberSyncHooks?: MemberSyncHooks;
}

export interface RunningGateway {
  gateway: Gateway;
  store: Store;
  hardware: Hardware;
  logger: Logger;
  api: LocalApi | undefined;
  /** The member-list sync with central (when `mqtt:` is configured). */
  memberSync: MemberSync | undefined;
  stop(): Promise<void>;
}

/** The door relay's safe level follows the lock type: the door is locked whenever the software is not in control. */
export function withDoorSafeLevel(config: GatewayConfig): GatewayConfig['hardware'] {
  const door = config.hardware.outputs.door;
  const lockedLevel = config.lock.type === 'fail-secure' ? 'inactive' : 'active';
  return { ...config.hardware, outputs: { ...config.hardware.outputs, door: { ...door, safe: lockedLevel } } };
}

export async function startGateway(config: GatewayConfig, options: StartGatewayOptions = {}): Promise<RunningGateway> {
  const logger = options.logger ?? pino({ level: config.log.level, base: { site: config.site } });
  const hardware = options.hardware ?? (await createHardware(withDoorSafeLevel(config), { logger }));
  // Filled in once the gateway runs, so that SIGTERM stops it cleanly (store closed, uplink told) after the
  // outputs have already been made safe by the handler itself.
  let stopRunning: (() => Promise<void>) | undefined;
  const uninstallSafety =
    options.handleSignals === true
      ? installSafeStateHandlers(hardware, logger, {
          onSignal: async () => {
            await stopRunning?.();
            process.exit(0);
          },
        })
      : () => {};
  let store: Store | undefined;
  let online: OnlineCheck | undefined;
  try {
    const policy = readPolicy(config);
    const key = loadDeploymentKey(config, options.env ?? process.env);
    store = openStore(config.store.path, { clock: options.clock ?? systemClock });
    const clock = options.clock ?? systemClock;
    online = config.sip2 === undefined ? undefined : createOnlineCheck(config.sip2, { clock, logger, env: options.env ?? process.env });
    online?.start();
    const hashCard = createCardHasher(key);
    const gateway = new Gateway({
      config,
      policy,
      hardware,
      store,
      hashCard,
      clock,
      clockTrusted: createClockTrust(config.clock),
      logger,
      online,
    });
    gateway.start();
    const api = config.http.enabled
      ? await startLocalApi({ gateway, hardware, config: config.http, logger, console: { store, hashCard, clock } })
      : undefined;
    // With a broker, the member list comes from central (docs/members.md); the tap path never waits on it.
    const memberSync =
      config.mqtt === undefined
        ? undefined
        : new MemberSync({
            store,
            keyId: deploymentKeyId(key),
            clock,
            logger,
            record: (event) => gateway.events.record('members', event),
            alarms: gateway.alarms,
            onApplied: () => gateway.bus.emit('state-changed'),
            config: config.members,
            hooks: options.memberSyncHooks,
          });
    memberSync?.start();
    // Without a broker configured the branch runs alone and keeps every event in its outbox.
    const link =
      config.mqtt === undefined ? undefined : attachUplink({ gateway, store, config: config.mqtt, site: config.site, clock, logger, members: memberSync });
    const notifier = startSystemdNotify({ logger });
    notifier.ready();
    const openStoreRef = store;
    const onlineRef = online;
    let stopped = false;
    const stop = async (): Promise<void> => {
      if (stopped) return;
      stopped = true;
      // At once, before the outputs go safe: an LMS answer arriving later must not open the door.
      const onlineStopped = onlineRef?.stop();
      notifier.stopping();
      hardware.allSafe();
      await api?.close();
      await gateway.stop();
      await onlineStopped;
      memberSync?.stop();
      // After the gateway's own stop event is in the outbox, so that it goes out with the last batch if it can.
      await link?.stop();
      await hardware.close();
      notifier.stop();
      openStoreRef.close();
      uninstallSafety();
    };
    stopRunning = stop;
    return { gateway, store, hardware, logger, api, memberSync, stop };
  } catch (error) {
    const onlineStopped = online?.stop();
    hardware.allSafe();
    await onlineStopped;
    await hardware.close();
    store?.close();
    uninstallSafety();
    throw error;
  }
}

function readPolicy(config: GatewayConfig): Policy {
  let text: string;
  try {
    text = readFileSync(config.policyFile, 'utf8');
  } catch (error) {
    throw new ConfigError(config.policyFile, [`policyFile: cannot read ${config.policyFile}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`]);
  }
  const parsed = loadPolicyText(text, config.policyFile);
  if (!parsed.ok) throw new ConfigError(config.policyFile, parsed.errors);
  if (parsed.policy.site !== config.site) {
    throw new ConfigError(config.policyFile, [`site: "${parsed.policy.site}" does not match the gateway's site "${config.site}"`]);
  }
  return parsed.policy;
}
