// The branch controller: builds the pieces around one event bus, restores what must survive a restart,
// and turns the branch mode (schedule, lockdown, fire) into how the door is held.
import type { Logger } from 'pino';
import type { DigitalInput, DigitalOutput, Hardware, InputName } from '../../firmware-bridge/types.js';
import type { BranchMode, Policy } from '../../policies/index.js';
import type { CentralPublicKey } from '../../policies/contract/signing.js';
import { AccessControl } from './access.js';
import { Alarms } from './alarms.js';
import { EventBus } from './bus.js';
import type { Clock } from './clock.js';
import type { ClockReading, ClockTrust } from './clock-trust.js';
import { ClosingSequence } from './closing.js';
import type { CommandResult, GatewayCommand } from './commands.js';
import { runCommand } from './commands.js';
import { doorLocks, type GatewayConfig } from '../config.js';
import type { Door } from './door.js';
import type { DoorRegime } from './door.js';
import { Doors } from './doors.js';
import { EventLog } from './event-log.js';
import { Feedback } from './feedback.js';
import { HELP_ALARM, HelpCall } from './help-call.js';
import type { HelpSnapshot } from './help-call.js';
import { Lights } from './lights.js';
import { LMS_BLOCKS_SETTING, LmsBlocks } from './lms-blocks.js';
import { ALARM_NAMES } from './model.js';
import type { AlarmName } from './model.js';
import { Motion } from './motion.js';
import { Occupancy } from './occupancy.js';
import type { CountConfidence } from './occupancy.js';
import { PhoneTokens } from './phone-tokens.js';
import { PolicyHolder } from './policy-holder.js';
import type { OfferResult } from './policy-holder.js';
import { ScheduleRunner } from './schedule.js';
import { sitePseudonym } from './site-pseudonym.js';
import { buildState } from './state.js';
import { StorageFaults } from './storage-faults.js';
import { UnknownCardLimit } from './unknown-card-limit.js';
import type { GatewayState, IntruderAlarmState, OutputState, PowerFacts } from './state.js';
import type { Store } from '../store/index.js';

export interface GatewayDeps {
  config: GatewayConfig;
  policy: Policy;
  hardware: Hardware;
  store: Store;
  hashCard: (normalisedId: string) => Buffer;
  clock: Clock;
  /** Whether the wall clock can be believed; asked every 30 s, read without waiting. */
  clockTrust: ClockTrust;
  logger: Logger;
  /** The newest event id in the store, so that new event ids sort after it. */
  lastEventId?: string | undefined;
  /** How many events the core keeps in memory while storage is failing (default 50,000). */
  eventBufferCapacity?: number | undefined;
  /** The help-call button: how long an acknowledged call stays open unless staff reset it (default 30 min). */
  help?: { clearAfterAcknowledgedMs?: number | undefined } | undefined;
  /** Central's public keys (mqtt.centralKeys), for phone tokens at the door; none: every token is refused. */
  centralKeys?: readonly CentralPublicKey[] | undefined;
}

/** What survives a restart (settings row `runtime`). */
interface RuntimeState {
  lockdown: boolean;
  fireLatched: boolean;
  occupancy: number;
  /** Whether that count was counted or estimated (absent in a state saved before 1.8). */
  occupancyConfidence?: CountConfidence;
  alarms: AlarmName[];
  running: boolean;
  /** The open help call (absent in a state saved before the button existed). */
  help?: HelpSnapshot | null;
}

const CLOCK_CHECK_MS = 30_000;
export const LISTENER_FAILED_ALARM: AlarmName = 'listener-failed';

export class Gateway {
  readonly bus = new EventBus();
  readonly events: EventLog;
  readonly alarms: Alarms;
  /** Every door of the branch, `main` first. */
  readonly doors: Doors;
  /** The main door (the only one at most branches). */
  readonly door: Door;
  readonly occupancy: Occupancy;
  readonly motion: Motion;
  readonly lights: Lights;
  readonly access: AccessControl;
  readonly policies: PolicyHolder;
  readonly schedule: ScheduleRunner;
  readonly closing: ClosingSequence;
  readonly storageFaults: StorageFaults;
  readonly help: HelpCall;
  /** Blocks the library system told of before the member list did (the SIP2 second opinion). */
  readonly lmsBlocks: LmsBlocks;
  private readonly unknownCards: UnknownCardLimit;
  /** What logs, events and the console show for a card at this branch (and nowhere else). */
  readonly pseudonym: (cardHash: Buffer) => string;
  private readonly feedback: Feedback;
  private lastMemberStats: ReturnType<Store['members']['stats']> = { count: 0, version: null, updatedAt: null, source: null, hash: '' };
  private lockdown = false;
  private fireActive = false;
  private fireLatched = false;
  private clockTrusted = true;
  private readonly offlineReaders = new Set<string>();
  private readonly readerStates = new Map<string, { id: string; role: 'entry' | 'exit'; online: boolean }>();
  private readonly timers: Array<ReturnType<typeof setInterval>> = [];
  private readonly cleanups: Array<() => void> = [];
  private started = false;
  private uplinkConnected: boolean | null = null;
  /** Told by the power extension; nothing here acts on it. */
  private powerFacts: PowerFacts = { undervoltage: null, mains: null };
  /** Told by the building-outputs and intruder-alarm extensions; undefined where nothing is fitted. */
  private outputStates: OutputState[] | undefined;
  private intruderAlarmState: IntruderAlarmState | undefined;
  /** The branch mode the door regime was last set for, to tell the bus when it changes. */
  private lastRegimeMode: BranchMode | undefined;

  constructor(private readonly deps: GatewayDeps) {
    const { config, store, clock, logger, hardware } = deps;
    this.pseudonym = sitePseudonym(store.settings, logger);
    this.events = new EventLog({
      site: config.site,
      bus: this.bus,
      clock,
      logger,
      lastId: deps.lastEventId,
      bufferCapacity: deps.eventBufferCapacity,
    });
    this.alarms = new Alarms({ bus: this.bus, events: this.events });
    this.storageFaults = new StorageFaults({ alarms: this.alarms, logger });
    // A listener that throws is a bug in one part: the door that emitted goes on, and a person is told.
    this.bus.onListenerError = ({ event, owner, error }) => {
      const part = owner ?? 'core';
      logger.error({ event, part, err: { message: (error as Error)?.message, stack: (error as Error)?.stack } }, `a ${part} listener failed on ${event}`);
      this.alarms.raise(LISTENER_FAILED_ALARM, `${part} failed handling ${event}: ${(error as Error)?.message ?? String(error)}`);
    };
    this.policies = new PolicyHolder(
      { site: config.site, doors: hardware.doors.map((door) => door.id), outputs: [...hardware.switched.keys()], store, events: this.events, bus: this.bus, clock },
      deps.policy,
    );
    this.feedback = new Feedback(hardware.outputs, clock, { quiet: () => this.fireActive || this.fireLatched });
    this.help = new HelpCall({
      alarms: this.alarms,
      events: this.events,
      bus: this.bus,
      clock,
      feedback: this.feedback,
      persist: () => this.persist(),
      clearAfterAcknowledgedMs: deps.help?.clearAfterAcknowledgedMs,
    });
    this.lights = new Lights(hardware.outputs.lights, this.bus, clock);
    const locks = new Map(doorLocks(config).map(({ id, lock }) => [id, lock]));
    this.doors = new Doors({ hardware: hardware.doors, lockFor: (id) => locks.get(id) ?? config.lock, bus: this.bus, alarms: this.alarms, events: this.events, clock });
    this.door = this.doors.main;
    this.occupancy = new Occupancy({
      bus: this.bus,
      events: this.events,
      alarms: this.alarms,
      clock,
      sensors: {
        counterIn: hardware.inputs.counterIn !== undefined,
        counterOut: hardware.inputs.counterOut !== undefined,
        beams: hardware.inputs.beamOuter !== undefined && hardware.inputs.beamInner !== undefined,
      },
      mode: () => this.mode,
      policy: () => this.policies.current,
      persist: () => this.persist(),
      sensorsAt: this.doors.several ? this.door.id : undefined,
    });
    this.motion = new Motion({ bus: this.bus, clock, fitted: hardware.inputs.motion !== undefined });
    this.schedule = new ScheduleRunner({ policy: () => this.policies.current, clock, bus: this.bus, events: this.events });
    this.closing = new ClosingSequence({
      policy: () => this.policies.current,
      clock,
      bus: this.bus,
      events: this.events,
      alarms: this.alarms,
      lights: this.lights,
      feedback: this.feedback,
      occupancy: this.occupancy,
      motion: this.motion,
      lightsOnAt: config.lights.onAt,
      emergency: () => this.fireActive || this.fireLatched,
    });
    this.lmsBlocks = new LmsBlocks({
      storage: {
        load: () => store.settings.get(LMS_BLOCKS_SETTING),
        save: (value) => store.settings.set(LMS_BLOCKS_SETTING, value),
        findMember: (cardHash) => store.members.find(cardHash),
        listHash: () => store.members.stats().hash,
      },
      clock,
      alarms: this.alarms,
      guard: (what, fn, fallback) => this.storageFaults.guard(what, fn, fallback),
    });
    const unknownCardsConfig = config.taps.unknownCards;
    this.unknownCards = new UnknownCardLimit({
      config: {
        burst: unknownCardsConfig.burst,
        windowMs: unknownCardsConfig.windowSeconds * 1000,
        quietMs: unknownCardsConfig.quietSeconds * 1000,
        lookupsPerMinute: unknownCardsConfig.lookupsPerMinute,
        lookupBurst: unknownCardsConfig.lookupBurst,
      },
      clock,
      alarms: this.alarms,
      logger,
    });
    this.access = new AccessControl({
      store,
      hashCard: deps.hashCard,
      pseudonym: this.pseudonym,
      policy: () => this.policies.current,
      context: () => ({
        at: clock.now(),
        occupancy: this.occupancy.inside,
        lockdown: this.lockdown,
        emergency: this.fireActive || this.fireLatched,
        clockTrusted: this.clockTrusted,
        memberListStale: this.alarms.has('member-list-stale'),
        intruderAlarmSet: this.intruderAlarmState?.state === 'set' || this.intruderAlarmState?.state === 'setting',
      }),
      mode: () => this.mode,
      doors: this.doors,
      feedback: this.feedback,
      events: this.events,
      bus: this.bus,
      clock,
      repeatWindowMs: config.taps.repeatWindowMs,
      pinTimeoutMs: config.taps.pinTimeoutMs,
      hasKeypad: hardware.keypad !== undefined,
      faults: this.storageFaults,
      unknownCards: this.unknownCards,
      lmsBlocks: this.lmsBlocks,
      phoneTokens: new PhoneTokens({ keys: deps.centralKeys ?? [], site: config.site, clock, clockTrusted: () => this.clockTrusted }),
      alarms: this.alarms,
      deskReaders: config.hardware.readers.filter((reader) => reader.role === 'desk').map((reader) => reader.id),
    });
  }

  get mode(): BranchMode {
    if (this.fireActive || this.fireLatched) return 'emergency';
    if (this.lockdown) return 'lockdown';
    return this.schedule.current.mode;
  }

  get state(): GatewayState {
    return buildState({
      site: this.deps.config.site,
      at: this.deps.clock.now(),
      mode: this.mode,
      span: this.schedule.current,
      door: this.door.state,
      doors: this.doors.states(),
      lights: this.lights.on,
      inside: this.occupancy.inside,
      confidence: this.occupancy.confidence,
      motionAt: this.motion.fitted ? this.motion.at : undefined,
      capacity: this.policies.current.rules.capacity,
      alarms: this.alarms.list(),
      members: this.memberStats(),
      policy: this.policies.reported,
      clockTrusted: this.clockTrusted,
      readers: [...this.readerStates.values()],
      uplinkConnected: this.uplinkConnected,
      power: this.powerFacts,
      help: this.help.state,
      outputs: this.outputStates,
      intruderAlarm: this.intruderAlarmState,
      secured: this.mode === 'closed' && this.closing.closedAndEmpty && this.intruderAlarmState?.state === 'set',
    });
  }

  /** Restore, wire the hardware, start the schedule. Outputs are already safe (the hardware layer did it first). */
  start(): void {
    if (this.started) return;
    this.started = true;
    const { store, hardware, logger } = this.deps;
    const saved = this.storageFaults.guard('reading the saved state', () => store.settings.get<RuntimeState>('runtime'), undefined);
    if (saved !== undefined) {
      this.lockdown = saved.lockdown;
      this.fireLatched = saved.fireLatched;
      this.occupancy.restore(saved.occupancy, saved.occupancyConfidence);
      this.alarms.restore(saved.alarms.filter((name): name is AlarmName => (ALARM_NAMES as readonly string[]).includes(name)));
      this.occupancy.resume();
      this.help.restore(saved.help, this.alarms.has(HELP_ALARM));
    }
    this.unknownCards.resume();
    this.access.pinLockouts.resume(this.policies.current.rules.pinLockoutSeconds * 1000);
    this.lmsBlocks.load();
    this.emergencyChanged();
    this.events.record('system', saved?.running === true ? { what: 'recovered', detail: 'restarted without a clean stop' } : { what: 'start' });
    logger.info({ site: this.deps.config.site, policyVersion: this.policies.current.version, members: this.memberStats().count }, 'gateway starting');

    this.wireInputs(hardware);
    this.wireReaders(hardware);
    this.wireOutputFaults(hardware);
    this.applyClock(this.deps.clockTrust.current());
    this.every(CLOCK_CHECK_MS, () => this.checkClock());

    const onChange = (): void => {
      this.bus.emit('state-changed');
    };
    for (const event of ['door-state', 'alarm', 'occupancy-changed', 'lights-changed'] as const) {
      this.bus.on(event, onChange);
      this.cleanups.push(() => this.bus.off(event, onChange));
    }
    // Only the schedule (here), lockdown and fire (modeChanged) change the branch mode, so only they re-hold the door.
    const onScheduleMode = (): void => {
      this.emergencyChanged();
      this.applyRegime();
      this.bus.emit('state-changed');
    };
    this.bus.on('schedule-mode', onScheduleMode);
    this.cleanups.push(() => this.bus.off('schedule-mode', onScheduleMode));
    const onPolicy = (): void => {
      this.schedule.refresh();
      // The new policy may change its clockUntrusted rule, and with it how staffed hours hold the door.
      this.applyRegime();
      this.bus.emit('state-changed');
    };
    this.bus.on('policy-applied', onPolicy);
    this.cleanups.push(() => this.bus.off('policy-applied', onPolicy));
    const onAlarmPersist = (): void => this.persist();
    this.bus.on('alarm', onAlarmPersist);
    this.cleanups.push(() => this.bus.off('alarm', onAlarmPersist));
    // A new member list (from central or an import) is followed by a state change: a block it overtakes is lifted.
    const onStateForBlocks = (): void => void this.lmsBlocks.sweep();
    this.bus.on('state-changed', onStateForBlocks);
    this.cleanups.push(() => this.bus.off('state-changed', onStateForBlocks));

    this.closing.start();
    this.schedule.start();
    this.applyRegime();
    this.persist();
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    for (const timer of this.timers) clearInterval(timer);
    for (const cleanup of this.cleanups) cleanup();
    this.schedule.stop();
    this.closing.stop();
    this.policies.stop();
    this.doors.stop();
    this.help.stop();
    this.unknownCards.stop();
    this.feedback.stop();
    this.lights.stop();
    this.occupancy.stop();
    this.deps.hardware.allSafe();
    this.events.record('system', { what: 'stop' });
    this.persist(false);
  }

  execute(command: GatewayCommand, actor: string): CommandResult {
    return runCommand(this, command, actor);
  }

  /** A policy from central (its signature already checked by the uplink). */
  offerPolicy(document: unknown, source: 'central'): OfferResult {
    return this.policies.offer(document, source);
  }

  /** A console edit: a branch override over the policy in force, until central's next version. */
  overridePolicy(draft: unknown, actor: string): OfferResult {
    return this.policies.override(draft, { actor, at: this.deps.clock.now() });
  }

  /** What the power extension can see; `quiet` when it stops, so that no state goes out for it. */
  setPower(facts: PowerFacts, quiet = false): void {
    if (facts.undervoltage === this.powerFacts.undervoltage && facts.mains === this.powerFacts.mains) return;
    this.powerFacts = { ...facts };
    if (!quiet) this.bus.emit('state-changed');
  }

  /** The switched outputs as the building-outputs extension drives them; undefined (quiet) when it stops. */
  setOutputs(outputs: OutputState[] | undefined, quiet = false): void {
    this.outputStates = outputs?.map((output) => ({ ...output }));
    if (!quiet) this.bus.emit('state-changed');
  }

  /** The panel as the intruder-alarm extension sees it; told again when `secured` may have changed. */
  setIntruderAlarm(state: IntruderAlarmState | undefined, quiet = false): void {
    this.intruderAlarmState = state === undefined ? undefined : { ...state };
    if (!quiet) this.bus.emit('state-changed');
  }

  setUplinkConnected(connected: boolean | null): void {
    this.uplinkConnected = connected;
    this.bus.emit('state-changed');
  }

  // ---- used by commands ----

  setLockdown(on: boolean, actor: string): void {
    if (on === this.lockdown) return;
    this.lockdown = on;
    this.events.record('staff', { action: on ? 'lockdown-on' : 'lockdown-off', actor });
    this.modeChanged();
  }

  /** Staff reset after a fire alarm: only once the fire input itself has cleared. */
  resetAlarms(actor: string): { ok: true } | { ok: false; error: string } {
    if (this.fireActive) return { ok: false, error: 'the fire alarm input is still active' };
    this.events.record('staff', { action: 'reset-alarms', actor });
    if (this.fireLatched) {
      this.fireLatched = false;
      this.alarms.clear('fire', `reset by ${actor}`);
      this.alarms.clear('door-released-closed', `reset by ${actor}`);
      this.emergencyChanged();
      this.modeChanged();
    }
    this.alarms.clear('people-inside-after-close', `acknowledged by ${actor}`);
    this.alarms.clear('policy-refused', `acknowledged by ${actor}`);
    this.alarms.clear(LISTENER_FAILED_ALARM, `acknowledged by ${actor}`);
    this.help.reset(actor);
    return { ok: true };
  }

  announce(text: string | undefined, actor: string): void {
    this.events.record('staff', { action: 'announce', actor, ...(text === undefined ? {} : { text }) });
    // Spoken where the announcements extension runs (sound: configured, and working); otherwise the sounder beeps.
    if (!this.bus.emit('announce', { text, actor })) this.feedback.pulse('sounder', 1500);
  }

  // ---- internals ----

  private modeChanged(): void {
    this.persist();
    this.applyRegime();
    this.bus.emit('state-changed');
  }

  private applyRegime(): void {
    const mode = this.mode;
    this.doors.setRegime(regimeFor(mode, this.clockDenies()));
    if (mode !== this.lastRegimeMode) {
      const previous = this.lastRegimeMode;
      this.lastRegimeMode = mode;
      if (previous !== undefined) this.bus.emit('branch-mode', mode);
    }
  }

  /**
   * `output-failed` while any output cannot drive its line (a gpiod output whose gpioset died and has not yet taken
   * the line back), naming which; cleared when every one drives again. The door logic goes on meanwhile: a set while
   * faulted is applied when the line comes back.
   */
  private wireOutputFaults(hardware: Hardware): void {
    const outputs = new Set<DigitalOutput>([
      ...Object.values(hardware.outputs),
      ...hardware.doors.map((door) => door.relay),
      ...hardware.switched.values(),
      ...(hardware.intruderAlarm === undefined ? [] : [hardware.intruderAlarm.set, hardware.intruderAlarm.unset]),
    ]);
    const faults = new Map<string, string>();
    let wired = true;
    this.cleanups.push(() => {
      wired = false;
    });
    const report = (): void => {
      if (faults.size === 0) this.alarms.clear('output-failed', 'every output drives its line again');
      else this.alarms.raise('output-failed', [...faults].map(([name, fault]) => `${name}: ${fault}`).join('; '));
    };
    for (const output of outputs) {
      output.onFault?.((fault) => {
        if (!wired) return;
        if (fault === undefined) faults.delete(output.name);
        else faults.set(output.name, fault);
        report();
      });
      if (output.faulted !== undefined) faults.set(output.name, output.faulted);
    }
    if (faults.size > 0) report();
  }

  private wireInputs(hardware: Hardware): void {
    const on = (name: InputName, handler: (active: boolean) => void): void => {
      const input = hardware.inputs[name];
      if (input !== undefined) this.listen(input, handler);
    };
    this.wireDoors(hardware);
    on('counterIn', (active) => {
      if (active) this.occupancy.counterIn();
    });
    on('counterOut', (active) => {
      if (active) this.occupancy.counterOut();
    });
    const { beamOuter, beamInner } = hardware.inputs;
    // Both beams or neither: one alone cannot tell in from out (the hardware docs say so).
    if (beamOuter !== undefined && beamInner !== undefined) {
      this.occupancy.initialBeams(beamOuter.active, beamInner.active);
      on('beamOuter', (broken) => this.occupancy.beamChanged('outer', broken));
      on('beamInner', (broken) => this.occupancy.beamChanged('inner', broken));
    }
    on('motion', (moving) => this.motion.changed(moving));
    if (hardware.inputs.motion?.active === true) this.motion.changed(true);
    on('tamper', (active) => this.alarms.set('tamper', active));
    on('fireAlarm', (active) => this.onFire(active));
    // Only the press counts: a button stuck down (or held) is one call, and its release is nothing.
    on('helpButton', (pressed) => {
      if (pressed) this.help.press();
    });
    // Held down across a restart, or stuck: a call, unless the one restored is still open.
    if (hardware.inputs.helpButton?.active === true && !this.help.open) this.help.press();
    const fire = hardware.inputs.fireAlarm;
    if (fire?.active === true) this.onFire(true);
    if (hardware.inputs.tamper?.active === true) this.alarms.raise('tamper');
  }

  /** An input's changes to `handler` until the gateway stops. */
  private listen(input: DigitalInput, handler: (active: boolean) => void): void {
    input.on('change', handler);
    this.cleanups.push(() => input.off('change', handler));
  }

  /** Each door's contact and exit button (main's are `inputs.doorContact` and `inputs.exitButton`). */
  private wireDoors(hardware: Hardware): void {
    const found: Array<{ door: Door; open: boolean }> = [];
    for (const wiring of hardware.doors) {
      const door = this.doors.get(wiring.id);
      if (door === undefined) continue;
      if (wiring.contact !== undefined) {
        found.push({ door, open: wiring.contact.active });
        this.listen(wiring.contact, (open) => door.contactChanged(open));
      }
      if (wiring.exit !== undefined) {
        this.listen(wiring.exit, (pressed) => {
          if (pressed) door.exitRequest();
        });
      }
    }
    this.doors.initialContacts(found);
  }

  private onFire(active: boolean): void {
    if (active === this.fireActive) return;
    this.fireActive = active;
    if (active) {
      this.fireLatched = true;
      this.alarms.raise('fire', 'fire alarm input active: doors released');
    } else {
      this.deps.logger.warn('fire alarm input cleared: doors stay released until staff reset');
    }
    this.emergencyChanged();
    this.modeChanged();
  }

  /**
   * What the emergency holds besides the door, from the fire input, the latch restored at start, the reset, or the
   * schedule closing the branch while the door is released.
   */
  private emergencyChanged(): void {
    const emergency = this.fireActive || this.fireLatched;
    this.lights.holdOn(emergency);
    // A door released in closed hours stands open with nobody there, until someone comes to reset the fire alarm:
    // its own alarm, at the severity central pages on. It stays until that reset, whatever the schedule does next.
    if (emergency && this.schedule.current.mode === 'closed') {
      this.alarms.raise('door-released-closed', 'the fire release holds the door open while the branch is closed: send someone to reset it');
    }
  }

  private wireReaders(hardware: Hardware): void {
    for (const reader of hardware.readers) {
      reader.on('tap', (tap) => this.access.handleTap(tap));
      reader.on('read-error', (error) => this.events.record('reader', { reader: error.role, readerId: error.readerId, error: error.message }));
      reader.on('status', (status) => {
        this.readerStates.set(status.readerId, { id: status.readerId, role: status.role, online: status.online });
        if (status.online) this.offlineReaders.delete(status.readerId);
        else this.offlineReaders.add(status.readerId);
        this.alarms.set('reader-offline', this.offlineReaders.size > 0, status.detail ?? status.readerId);
        this.bus.emit('state-changed');
      });
    }
    hardware.keypad?.on('pin', ({ digits, readerId }) => void this.access.handlePin(digits, readerId));
    hardware.keypad?.on('key', () => this.feedback.keyPressed());
    // Logged by the driver (the reason, never a digit); here the member at the door sees and hears it refused.
    hardware.keypad?.on('refused', () => this.feedback.refused());
    // Without its keypad, a door whose policy asks for a PIN lets nobody in who needs one: the same alarm as a reader away.
    hardware.keypad?.on('status', (status) => {
      const key = `keypad:${status.readerId}`;
      if (status.online) this.offlineReaders.delete(key);
      else this.offlineReaders.add(key);
      this.alarms.set('reader-offline', this.offlineReaders.size > 0, status.detail ?? key);
      this.bus.emit('state-changed');
    });
    // Started only now that every listener is in place, so no tap or status is missed.
    for (const reader of hardware.readers) {
      reader.start().catch((error: unknown) => {
        this.deps.logger.error({ err: { message: (error as Error).message }, reader: reader.kind }, 'card reader failed to start');
        this.alarms.raise('reader-offline', `${reader.kind} reader failed to start`);
      });
    }
    hardware.keypad?.start().catch((error: unknown) => this.deps.logger.error({ err: { message: (error as Error).message } }, 'keypad failed to start'));
  }

  /** The probes may run commands: they answer in the background, and the answer is applied when it comes. */
  private checkClock(): void {
    this.deps.clockTrust
      .refresh()
      .then((reading) => {
        if (this.started) this.applyClock(reading);
      })
      .catch((error: unknown) => this.deps.logger.error({ err: { message: (error as Error)?.message } }, 'applying the clock check failed'));
  }

  private applyClock(reading: ClockReading): void {
    const changed = reading.trusted !== this.clockTrusted;
    this.clockTrusted = reading.trusted;
    this.alarms.set('clock-untrusted', !reading.trusted, reading.detail);
    if (!changed) return;
    this.deps.logger.warn({ detail: reading.detail }, reading.trusted ? 'clock trusted' : 'clock not trusted');
    this.applyRegime();
    this.bus.emit('state-changed');
  }

  /** The clock is not believed and the policy will not let members in on it: staffed hours keep the door secure. */
  private clockDenies(): boolean {
    return !this.clockTrusted && this.policies.current.rules.clockUntrusted === 'deny';
  }

  /** The member list's figures for the state; the last ones read while the store cannot be read. */
  private memberStats(): ReturnType<Store['members']['stats']> {
    this.lastMemberStats = this.storageFaults.guard('reading the member list figures', () => this.deps.store.members.stats(), this.lastMemberStats);
    return this.lastMemberStats;
  }

  get clockIsTrusted(): boolean {
    return this.clockTrusted;
  }

  private every(ms: number, fn: () => void): void {
    const timer = setInterval(fn, ms);
    timer.unref?.();
    this.timers.push(timer);
  }

  private persist(running = this.started): void {
    const runtime: RuntimeState = {
      lockdown: this.lockdown,
      fireLatched: this.fireLatched,
      occupancy: this.occupancy.inside,
      occupancyConfidence: this.occupancy.confidence,
      alarms: this.alarms.list(),
      running,
      help: this.help.snapshot(),
    };
    this.storageFaults.guard('saving the door state', () => this.deps.store.settings.set('runtime', runtime), undefined);
  }
}

/**
 * `clockDenies`: the clock is not trusted and the policy's clockUntrusted rule denies. Staffed hours then keep the
 * door secure (staff cards open it, the exit releases): a Pi that boots with yesterday's noon on its clock would
 * otherwise hold the door free all night.
 */
export function regimeFor(mode: BranchMode, clockDenies = false): DoorRegime {
  switch (mode) {
    case 'emergency':
      return 'released';
    case 'lockdown':
      return 'lockdown';
    case 'staffed':
      return clockDenies ? 'secure' : 'free';
    default:
      return 'secure';
  }
}
