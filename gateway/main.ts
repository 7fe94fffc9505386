// The gateway's composition root: the only place that reads files, opens the store and the hardware, and
// wires everything. Outputs go to their safe state before anything else happens. The core (gateway/core/) is
// built first and runs whatever happens around it; every other part is an extension (gateway/extensions/) whose
// failure, at start or later, is an alarm and a retry, never a stopped door.
import { pino } from 'pino';
import type { Logger } from 'pino';
import { createHardware } from '../firmware-bridge/create-hardware.js';
import { installSafeStateHandlers } from '../firmware-bridge/safety.js';
import type { Hardware } from '../firmware-bridge/types.js';
import { parsePolicy, unknownPolicyNames } from '../policies/index.js';
import type { Policy } from '../policies/index.js';
import { createCardHasher, deploymentKeyId } from './core/cards.js';
import { systemClock } from './core/clock.js';
import type { Clock } from './core/clock.js';
import { createClockTrust } from './core/clock-trust.js';
import type { ClockProbeIo } from './core/clock-trust.js';
import { consoleCookieSecure, doorLocks, loadDeploymentKey, withDoorSafeHardware } from './config.js';
import type { GatewayConfig, ServiceConfig } from './config.js';
import type { AlarmName } from './core/model.js';
import { Gateway } from './core/controller.js';
import { AnnouncementsExtension } from './extensions/announcements.js';
import { ExtensionHost } from './extensions/extension.js';
import type { RetryPolicy } from './extensions/extension.js';
import { LocalApiExtension } from './extensions/local-api.js';
import { MemberSyncExtension } from './extensions/member-sync.js';
import { PowerExtension } from './extensions/power.js';
import type { PowerDeps } from './extensions/power.js';
import { BuildingOutputsExtension } from './extensions/building-outputs.js';
import { IntruderAlarmExtension, warnIntruderAlarmWithoutPanel } from './extensions/intruder-alarm.js';
import { RetentionExtension } from './extensions/retention.js';
import { Sip2Extension } from './extensions/sip2.js';
import { StorageExtension } from './extensions/storage.js';
import { UplinkExtension } from './extensions/uplink.js';
import { loadCentralKeys, type CentralPublicKey } from './uplink/verify.js';
import type { HealthReport, LocalApi } from './http/server.js';
import type { MemberSync, MemberSyncHooks } from './members/sync.js';
import { readPolicyFile } from './policy-file.js';
import { ReplaceableStore, openStoreOrFallback } from './store/index.js';
import type { Store, StoreOptions } from './store/index.js';
import { startSystemdNotify } from './systemd-notify.js';
import { membersCurrentTopic, topics as siteTopics } from '../policies/contract/topics.js';

export const CONFIG_INVALID_ALARM: AlarmName = 'config-invalid';

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
  /** Optional config sections the service left out as invalid (`loadGatewayConfigForService`): raised as config-invalid. */
  droppedSections?: ServiceConfig['dropped'];
  /** Tests only: how soon a failed extension is started again. */
  extensionRetry?: RetryPolicy;
  /** Tests only: how the store is opened (SQLite's `max_page_count` for a real SQLITE_FULL, say). */
  openStore?: (path: string, options: StoreOptions) => ReturnType<typeof openStoreOrFallback>;
  /** Tests only: what the clock-trust probes read instead of the real files and commands. */
  clockProbeIo?: ClockProbeIo;
  /** Tests only: where the power extension looks for the Pi's throttled flags, and how often. */
  power?: Pick<PowerDeps, 'platformRoot' | 'pollMs' | 'readText' | 'listDir'>;
}

export interface RunningGateway {
  gateway: Gateway;
  /** The store the gateway uses now: reopened in place when it could not be opened read-write at start. */
  store: ReplaceableStore;
  hardware: Hardware;
  logger: Logger;
  /** The parts around the core, each with its state (running, failed and retrying, stopped). */
  extensions: ExtensionHost;
  /** The local API while it runs (undefined when disabled, or failed and retrying). */
  readonly api: LocalApi | undefined;
  /** The member-list sync with central while it runs (when `mqtt:` is configured). */
  readonly memberSync: MemberSync | undefined;
  /** The storage extension: its backlog of events not yet on disk, and whether it is failing. */
  storage: StorageExtension;
  stop(): Promise<void>;
}

/** The door relay's safe level follows the lock type: the door is locked whenever the software is not in control. */
export function withDoorSafeLevel(config: GatewayConfig): GatewayConfig['hardware'] {
  return withDoorSafeHardware(config.hardware, config.lock.type);
}

export async function startGateway(config: GatewayConfig, options: StartGatewayOptions = {}): Promise<RunningGateway> {
  const logger = options.logger ?? pino({ level: config.log.level, base: { site: config.site } });
  const hardware = options.hardware ?? (await createHardware(withDoorSafeLevel(config), { logger, pinEntryTimeoutMs: config.taps.pinTimeoutMs }));
  const simulated = simulatedParts(config);
  if (simulated.length > 0) logger.warn({ simulated }, `simulated hardware (${simulated.join(', ')}): named in the config; a test bench or the demo, never a branch door`);
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
  let store: ReplaceableStore | undefined;
  try {
    const env = options.env ?? process.env;
    const policyFile = readPolicy(config);
    if (!policyFile.ok) {
      logger.error({ policyFile: config.policyFile, errors: policyFile.errors }, `policy file unusable; the branch runs closed: ${policyFile.errors[0]}`);
    }
    const policy = policyFile.ok ? policyFile.policy : closedFallbackPolicy(config.site);
    const key = loadDeploymentKey(config, env);
    const clock = options.clock ?? systemClock;
    // No busy timeout: SQLite waits for a lock by sleeping the thread, which is the door's thread.
    const storeOptions: StoreOptions = { clock, busyTimeoutMs: 0 };
    const open = (): ReturnType<typeof openStoreOrFallback> => (options.openStore ?? openStoreOrFallback)(config.store.path, storeOptions);
    const opened = open();
    if (opened.mode !== 'read-write') {
      logger.error({ path: config.store.path, mode: opened.mode, err: { message: (opened.fault as Error)?.message } }, `store not writable at start; running ${opened.mode}`);
    }
    store = new ReplaceableStore(opened);
    const liveStore = store;
    const hashCard = createCardHasher(key);
    const clockTrust = createClockTrust(config.clock, options.clockProbeIo);
    // Asked once before the core starts (each probe's commands time out), so that a boot on a trusted clock does
    // not raise clock-untrusted for the first moments, and one on an untrusted clock never holds the door free.
    await clockTrust.refresh();
    const gateway = new Gateway({
      config,
      policy,
      hardware,
      store,
      hashCard,
      clock,
      clockTrust,
      logger,
      lastEventId: newestEventId(store),
      help: { clearAfterAcknowledgedMs: config.help.clearAfterAcknowledgedMinutes * 60_000 },
      centralKeys: phoneTokenKeys(config, logger),
    });
    const extensions = new ExtensionHost({ bus: gateway.bus, alarms: gateway.alarms, logger, retry: options.extensionRetry });
    const storage = new StorageExtension({
      store,
      events: gateway.events,
      alarms: gateway.alarms,
      faults: gateway.storageFaults,
      reopen: open,
      logger,
      openFault: opened.fault,
    });
    // First, so that the gateway's own start event is written like every later one.
    extensions.add(storage);
    extensions.add(new RetentionExtension({ store, clock, retentionDays: config.store.retentionDays, clockTrusted: () => gateway.clockIsTrusted }));
    extensions.add(
      new PowerExtension({
        alarms: gateway.alarms,
        setPower: (facts, quiet) => gateway.setPower(facts, quiet),
        mainsPresent: hardware.inputs.mainsPresent,
        ...options.power,
      }),
    );
    addBuildingExtensions(extensions, gateway, hardware, config, clock, logger);
    const sound = config.sound;
    // Spoken announcements (docs/sound.md); without them the sounder only beeps.
    if (sound !== undefined && sound.driver !== 'none') {
      extensions.add(
        new AnnouncementsExtension({
          config: { ...sound, driver: sound.driver },
          clock,
          policy: () => gateway.policies.current,
          alarms: gateway.alarms,
          record: (event) => gateway.events.record('announcement', event),
        }),
      );
    }
    const sip2Config = config.sip2;
    if (sip2Config !== undefined) extensions.add(new Sip2Extension({ gateway, config: sip2Config, clock, env }));
    else warnSecondOpinionWithoutSip2(gateway, logger);
    // With a broker, the member list comes from central (docs/members.md); the tap path never waits on it.
    const memberSync =
      config.mqtt === undefined
        ? undefined
        : new MemberSyncExtension({
            store,
            keyId: deploymentKeyId(key),
            central: {
              keyFiles: config.mqtt.centralKeys,
              announcementTopic: membersCurrentTopic(config.mqtt.prefix),
              transferTopic: siteTopics(config.mqtt.prefix, config.site).membersChunk,
            },
            clock,
            record: (event) => gateway.events.record('members', event),
            alarms: gateway.alarms,
            onApplied: () => gateway.bus.emit('state-changed'),
            config: config.members,
            hooks: options.memberSyncHooks,
          });
    if (memberSync !== undefined) extensions.add(memberSync);
    // Without a broker configured the branch runs alone and keeps every event in its outbox.
    if (config.mqtt !== undefined) {
      extensions.add(new UplinkExtension({ gateway, store, config: config.mqtt, site: config.site, clock, members: memberSync, desk: { keyId: deploymentKeyId(key) } }));
    }
    const localApi = config.http.enabled
      ? new LocalApiExtension({
          gateway,
          hardware,
          config: config.http,
          // Behind a TLS proxy the request arrives as http: the cookie must be Secure all the same (http.cookieSecure).
          console: { store, hashCard, clock, options: { cookieSecure: consoleCookieSecure(config.http) } },
          health: () => healthReport(extensions, storage, liveStore),
          doorScreen: { clock, pinTimeoutMs: config.taps.pinTimeoutMs },
        })
      : undefined;
    if (localApi !== undefined) extensions.add(localApi);

    // The storage extension is listening before the core records its first event.
    await extensions.startExtension('storage');
    gateway.start();
    const dropped = options.droppedSections ?? [];
    if (dropped.length > 0) {
      const detail = dropped.map(({ section, errors }) => `${section}: left out (${errors[0]})`).join('; ');
      logger.error({ dropped }, `config sections left out as invalid: ${detail}`);
      gateway.alarms.raise(CONFIG_INVALID_ALARM, detail);
    }
    if (!policyFile.ok) {
      gateway.alarms.raise('policy-refused', `policy file ${config.policyFile}: ${policyFile.errors[0]}; running ${gateway.policies.source === 'file' ? 'closed' : `the saved version ${gateway.policies.current.version}`}`);
    }
    await extensions.start();
    const notifier = startSystemdNotify({ logger });
    notifier.ready();
    let stopped = false;
    const stop = async (): Promise<void> => {
      if (stopped) return;
      stopped = true;
      // Readers and keypad first: a card held to the reader in the moment after the outputs go safe must find
      // nobody listening, or its grant would energise the relay again.
      hardware.detachReaders();
      // At once, before the outputs go safe: an LMS answer arriving later must not open the door.
      const sip2Stopped = extensions.stopExtension('sip2');
      notifier.stopping();
      // Held, not just written: the uplink and the console run until the stop event is out, and a command or a
      // timer in that time must not move a relay. The pins stay at this level after exit (hardware.close).
      hardware.holdSafe();
      await gateway.stop();
      await sip2Stopped;
      // After the gateway's own stop event is recorded, so that it is written and goes out with the last batch.
      await extensions.stop();
      await hardware.close();
      notifier.stop();
      liveStore.close();
      uninstallSafety();
    };
    stopRunning = stop;
    return {
      gateway,
      store,
      hardware,
      logger,
      extensions,
      storage,
      get api() {
        return localApi?.current;
      },
      get memberSync() {
        return memberSync?.current;
      },
      stop,
    };
  } catch (error) {
    hardware.detachReaders();
    hardware.holdSafe();
    await hardware.close();
    store?.close();
    uninstallSafety();
    throw error;
  }
}

/** A policy that asks for the SIP2 second opinion at a branch without `sip2:`: said once per policy version. */
function warnSecondOpinionWithoutSip2(gateway: Gateway, logger: Logger): void {
  let told: number | undefined;
  const check = (): void => {
    const policy = gateway.policies.current;
    if (policy.rules.sip2SecondOpinion !== true || told === policy.version) return;
    told = policy.version;
    logger.warn({ policyVersion: policy.version }, 'policy rules.sip2SecondOpinion: this gateway has no sip2: section, so grants are not followed up; the member list decides alone');
  };
  check();
  gateway.bus.on('policy-applied', check);
}

/** What the config names as simulated: allowed only by name, and said at every start. */
function simulatedParts(config: GatewayConfig): string[] {
  const { hardware } = config;
  return [
    ...(hardware.gpio.driver === 'simulated' ? ['gpio'] : []),
    ...hardware.readers.filter((reader) => reader.driver === 'simulated').map((reader) => `reader ${reader.id}`),
    ...(!Array.isArray(hardware.keypad) && hardware.keypad.driver === 'simulated' ? ['keypad'] : []),
  ];
}

function healthReport(extensions: ExtensionHost, storage: StorageExtension, store: ReplaceableStore): HealthReport {
  const parts = extensions.status().map((part) => ({
    name: part.name,
    state: part.state,
    ...(part.error === undefined ? {} : { error: part.error }),
    ...(part.retryAt === undefined ? {} : { retryAt: new Date(part.retryAt).toISOString() }),
  }));
  return {
    healthy: parts.every((part) => part.state === 'running') && store.mode === 'read-write' && !storage.failing,
    parts,
    storage: { mode: store.mode, backlog: storage.backlog },
  };
}

function newestEventId(store: Store): string | undefined {
  try {
    return store.events.newestId();
  } catch {
    return undefined;
  }
}

type PolicyFileResult = { ok: true; policy: Policy } | { ok: false; errors: string[] };

function readPolicy(config: GatewayConfig): PolicyFileResult {
  const parsed = readPolicyFile(config.policyFile);
  if (!parsed.ok) return parsed;
  if (parsed.policy.site !== config.site) {
    return { ok: false, errors: [`site: "${parsed.policy.site}" does not match the gateway's site "${config.site}"`] };
  }
  const unknown = unknownPolicyNames(parsed.policy, { doors: doorLocks(config).map(({ id }) => id), outputs: config.hardware.switched.map(({ id }) => id) });
  return unknown.length > 0 ? { ok: false, errors: unknown } : parsed;
}

/** The switched outputs and the intruder alarm panel, each only where the config fits them (docs/gateway.md). */
function addBuildingExtensions(extensions: ExtensionHost, gateway: Gateway, hardware: Hardware, config: GatewayConfig, clock: Clock, logger: Logger): void {
  const clockTrusted = (): boolean => gateway.clockIsTrusted;
  if (hardware.switched.size > 0) {
    extensions.add(
      new BuildingOutputsExtension({
        outputs: hardware.switched,
        config: config.hardware.switched,
        policy: () => gateway.policies.current,
        clock,
        clockTrusted,
        events: gateway.events,
        setOutputs: (outputs, quiet) => gateway.setOutputs(outputs, quiet),
      }),
    );
  }
  const panel = hardware.intruderAlarm;
  if (panel === undefined) {
    warnIntruderAlarmWithoutPanel(gateway.bus, () => gateway.policies.current, logger);
    return;
  }
  extensions.add(
    new IntruderAlarmExtension({
      panel,
      policy: () => gateway.policies.current,
      clock,
      clockTrusted,
      mode: () => gateway.mode,
      closedAndEmpty: () => gateway.closing.closedAndEmpty,
      events: gateway.events,
      alarms: gateway.alarms,
      setIntruderAlarm: (state, quiet) => gateway.setIntruderAlarm(state, quiet),
    }),
  );
}

/**
 * The policy a branch runs on when its policy file cannot be used: closed at all hours (the door secure, staff
 * cards open it, the exit releases), version 0 so that any saved or sent policy outranks it. A restart loop
 * would leave the door to its relay's resting state and nobody told; this keeps the software in charge and
 * raises `policy-refused` with the file's first error.
 */
export function closedFallbackPolicy(site: string): Policy {
  const parsed = parsePolicy({ version: 1, site, name: `${site} (policy file unusable: closed)`, schedule: { weekly: {} } });
  if (!parsed.ok) throw new Error(`the built-in closed policy is invalid: ${parsed.errors.join('; ')}`);
  return { ...parsed.policy, version: 0 };
}

/**
 * Central's public keys for phone tokens at the door (docs/phone-credential.md), the ones member sync uses. A key that
 * cannot be read is member sync's alarm; here it only means every phone token is refused, said once.
 */
function phoneTokenKeys(config: GatewayConfig, logger: Logger): CentralPublicKey[] {
  if (config.mqtt === undefined) return [];
  try {
    return loadCentralKeys(config.mqtt.centralKeys);
  } catch (error) {
    logger.warn({ err: { message: (error as Error).message } }, 'phone tokens are refused: no usable central key');
    return [];
  }
}
