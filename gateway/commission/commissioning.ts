// Commissioning on site (`oag commission`): a technician tests the wiring step by step while the gateway runs, since
// the gateway owns the GPIO lines, the readers and the store. One session at a time; what it sees is the raw inputs
// (a fire input that clears says nothing on the bus, and a contact is what is being tested, not the door's opinion of
// it); what it drives goes through the door's own unlock and the gateway's own announcements, so the invariants hold
// as for any staff unlock. Every start, step, pulse and end is a `commissioning` event: the commissioning record.
import { randomBytes } from 'node:crypto';
import type { DigitalInput, DigitalOutput, Hardware } from '../../firmware-bridge/types.js';
import type { COMMISSIONING_RESULTS } from '../../policies/contract/events.js';
import { isPhraseId, PHRASE_IDS, PHRASES_WITH_MINUTES } from '../../policies/phrases.js';
import type { PhraseId } from '../../policies/phrases.js';
import type { AccessOutcome } from '../core/bus.js';
import type { Clock, Timer } from '../core/clock.js';
import type { Gateway } from '../core/controller.js';
import type { EventBody } from '../core/event-log.js';
import type { LoggedEvent } from '../core/model.js';

export const COMMISSIONING_STEPS = ['exit-button', 'door-contact', 'fire-input', 'card-reader', 'announcements', 'door-relay', 'switched-outputs'] as const;
export type CommissioningStep = (typeof COMMISSIONING_STEPS)[number];
export type StepResult = (typeof COMMISSIONING_RESULTS)[number];

/** A session nobody watches and nobody calls for this long is over (a tool that never opened its stream). */
export const IDLE_END_MS = 15 * 60_000;
export const MAX_PULSE_SECONDS = 30;

/** What the tool needs to know to walk the steps: what is fitted here. */
export interface FittedHardware {
  doors: Array<{ id: string; contact: boolean; exit: boolean }>;
  fireInput: boolean;
  readers: Array<{ id: string; role: 'entry' | 'exit' }>;
  outputs: Array<{ id: string; label?: string | undefined; on: boolean }>;
  /** The phrases to listen to: each one that needs no minutes to say. */
  phrases: PhraseId[];
  /** Whether the announcements extension speaks them; without it the sounder beeps for each. */
  spoken: boolean;
}

/** One input's change, as the watch stream tells it. */
export interface InputChange {
  input: 'exit-button' | 'door-contact' | 'fire-input';
  door?: string | undefined;
  active: boolean;
}

export interface WatchListener {
  input(change: InputChange): void;
  tap(tap: { role: 'entry' | 'exit'; door: string; person: string | null; result: 'granted' | 'refused'; reason: string }): void;
  announcement(said: { phrase: string; outcome: string; detail?: string | undefined }): void;
  mode(mode: string): void;
  ended(reason: string): void;
}

interface Session {
  id: string;
  technician: string;
  actor: string;
  steps: CommissioningStep[];
  startedAt: Date;
  lastSeen: number;
  results: Array<{ step: string; result: StepResult }>;
  watchers: Set<WatchListener>;
}

interface Pulse {
  /** Back to safe now: the door locked (unless something else holds it), the output at its level before. */
  end(): void;
}

export type Outcome<T> = ({ ok: true } & T) | { ok: false; status: 400 | 404 | 409; error: string };

export interface CommissioningDeps {
  gateway: Gateway;
  hardware: Hardware;
  clock: Clock;
}

export class Commissioning {
  private session: Session | undefined;
  private readonly pulses = new Set<Pulse>();

  constructor(private readonly deps: CommissioningDeps) {}

  fitted(): FittedHardware {
    const { hardware, gateway } = this.deps;
    const states = new Map((gateway.state.outputs ?? []).map((output) => [output.id, output]));
    return {
      doors: hardware.doors.map((door) => ({ id: door.id, contact: door.contact !== undefined, exit: door.exit !== undefined })),
      fireInput: hardware.inputs.fireAlarm !== undefined,
      readers: gateway.state.readers.map((reader) => ({ id: reader.id, role: reader.role })),
      outputs: [...hardware.switched].map(([id, output]) => ({ id, label: states.get(id)?.label, on: output.active })),
      // The ones that say minutes have none to say outside open access or a booking: they would be silent.
      phrases: PHRASE_IDS.filter((phrase) => !PHRASES_WITH_MINUTES.includes(phrase)),
      spoken: gateway.bus.listenerCount('announce') > 0,
    };
  }

  start(technician: string, steps: CommissioningStep[], actor: string): Outcome<{ session: string }> {
    const running = this.active();
    if (running !== undefined) {
      // A session with its tool still watching is someone at work; one without is a tool that went away.
      if (running.watchers.size > 0) {
        return {
          ok: false,
          status: 409,
          error: `${running.technician} (${running.actor}) is commissioning since ${running.startedAt.toISOString()}: one session at a time; it ends when their oag commission does`,
        };
      }
      this.finish(running, 'replaced by a new session');
    }
    const session: Session = {
      id: randomBytes(8).toString('hex'),
      technician,
      actor,
      steps,
      startedAt: this.deps.clock.now(),
      lastSeen: this.deps.clock.now().getTime(),
      results: [],
      watchers: new Set(),
    };
    this.session = session;
    this.record(session, { action: 'started', technician, detail: `steps: ${steps.join(', ')}` });
    return { ok: true, session: session.id };
  }

  /** The session by its id, if it is the one under way; touching it keeps it alive. */
  private find(id: string): Outcome<{ session: Session }> {
    const session = this.active();
    if (session === undefined || session.id !== id) {
      return { ok: false, status: 409, error: 'no commissioning session under way with that id: start one first (oag commission)' };
    }
    session.lastSeen = this.deps.clock.now().getTime();
    return { ok: true, session };
  }

  step(id: string, step: CommissioningStep, result: StepResult, detail: string | undefined, at: { door?: string | undefined; output?: string | undefined }): Outcome<object> {
    const found = this.find(id);
    if (!found.ok) return found;
    found.session.results.push({ step, result });
    this.record(found.session, { action: 'step', step, result, ...at, ...(detail === undefined ? {} : { detail }) });
    return { ok: true };
  }

  /**
   * The door relay (through the door's own unlock, held for `seconds`) or a switched output (to its other level for
   * `seconds`, then back). Never in a fire, and never in open access with people inside: the building is in use.
   */
  pulse(id: string, target: { door?: string | undefined; output?: string | undefined }, seconds: number): Outcome<{ from?: boolean; to?: boolean }> {
    const found = this.find(id);
    if (!found.ok) return found;
    const { gateway } = this.deps;
    if (gateway.mode === 'emergency') {
      return { ok: false, status: 409, error: 'the fire alarm holds the branch in emergency: nothing is pulsed during a fire (reset alarms once the fire input has cleared)' };
    }
    const inside = gateway.occupancy.inside;
    if (gateway.mode === 'open-access' && inside > 0) {
      return { ok: false, status: 409, error: `the branch is in open access with ${inside} inside: pulse the outputs when it is empty or outside open-access hours` };
    }
    if (target.output !== undefined) return this.pulseOutput(found.session, target.output, seconds);
    return this.pulseDoor(found.session, target.door, seconds);
  }

  announce(id: string, phrase: string): Outcome<{ spoken: boolean }> {
    const found = this.find(id);
    if (!found.ok) return found;
    if (!isPhraseId(phrase)) return { ok: false, status: 400, error: `phrase: no phrase "${phrase}" (phrases: ${PHRASE_IDS.join(', ')})` };
    const spoken = this.deps.gateway.bus.listenerCount('announce') > 0;
    const result = this.deps.gateway.execute({ command: 'announce', text: phrase }, found.session.actor);
    if (!result.ok) return { ok: false, status: 409, error: result.error };
    return { ok: true, spoken };
  }

  /** Ends the session: any pulse still running ends now (door locked, outputs back), and the record says why. */
  end(id: string, reason: string): Outcome<{ passed: number; failed: number; skipped: number }> {
    const found = this.find(id);
    if (!found.ok) return found;
    return { ok: true, ...this.finish(found.session, reason) };
  }

  /** The tool's stream: inputs, taps, announcements and mode as they happen; closing the last one ends the session. */
  watch(id: string, listener: WatchListener): Outcome<{ levels: InputChange[]; mode: string; stop: () => void }> {
    const found = this.find(id);
    if (!found.ok) return found;
    const session = found.session;
    const { hardware, gateway } = this.deps;
    const cleanups: Array<() => void> = [];
    const levels: InputChange[] = [];
    const several = hardware.doors.length > 1;
    const listen = (input: DigitalInput | undefined, change: Omit<InputChange, 'active'>): void => {
      if (input === undefined) return;
      const at = several || change.door !== 'main' ? change : { input: change.input };
      levels.push({ ...at, active: input.active });
      const handler = (active: boolean): void => listener.input({ ...at, active });
      input.on('change', handler);
      cleanups.push(() => input.off('change', handler));
    };
    for (const door of hardware.doors) {
      listen(door.exit, { input: 'exit-button', door: door.id });
      listen(door.contact, { input: 'door-contact', door: door.id });
    }
    listen(hardware.inputs.fireAlarm, { input: 'fire-input' });
    const onAccess = (outcome: AccessOutcome): void => {
      listener.tap({ role: outcome.role, door: outcome.door, person: outcome.person, result: outcome.decision.allow ? 'granted' : 'refused', reason: outcome.decision.reason });
    };
    const onEvent = (event: LoggedEvent): void => {
      if (event.type === 'announcement') listener.announcement({ phrase: event.phrase, outcome: event.outcome, detail: event.detail });
    };
    const onMode = (mode: string): void => listener.mode(mode);
    gateway.bus.on('access', onAccess);
    gateway.bus.on('event-logged', onEvent);
    gateway.bus.on('branch-mode', onMode);
    cleanups.push(() => {
      gateway.bus.off('access', onAccess);
      gateway.bus.off('event-logged', onEvent);
      gateway.bus.off('branch-mode', onMode);
    });
    session.watchers.add(listener);
    let stopped = false;
    const stop = (): void => {
      if (stopped) return;
      stopped = true;
      for (const cleanup of cleanups) cleanup();
      session.watchers.delete(listener);
      // The tool went away without ending (killed, its network gone): nothing may stay pulsed for it.
      if (this.session === session && session.watchers.size === 0) this.finish(session, 'the commissioning tool went away');
    };
    return { ok: true, levels, mode: gateway.mode, stop };
  }

  /** Everything back to safe, and the session over: the gateway stops, or the local API closes. */
  close(): void {
    if (this.session !== undefined) this.finish(this.session, 'the gateway stopped');
    this.endPulses();
  }

  private active(): Session | undefined {
    const session = this.session;
    if (session === undefined) return undefined;
    if (session.watchers.size === 0 && this.deps.clock.now().getTime() - session.lastSeen > IDLE_END_MS) {
      this.finish(session, 'idle');
      return undefined;
    }
    return session;
  }

  private finish(session: Session, reason: string): { passed: number; failed: number; skipped: number } {
    this.endPulses();
    const count = (result: StepResult): number => session.results.filter((r) => r.result === result).length;
    const tally = { passed: count('passed'), failed: count('failed'), skipped: count('skipped') };
    if (this.session === session) {
      this.session = undefined;
      const result: StepResult = tally.failed === 0 && tally.skipped === 0 && tally.passed > 0 ? 'passed' : 'failed';
      this.record(session, { action: 'ended', result, detail: `${tally.passed} passed, ${tally.failed} failed, ${tally.skipped} skipped: ${reason}`.slice(0, 500) });
      for (const watcher of [...session.watchers]) watcher.ended(reason);
    }
    return tally;
  }

  private endPulses(): void {
    for (const pulse of [...this.pulses]) pulse.end();
  }

  private pulseDoor(session: Session, doorId: string | undefined, seconds: number): Outcome<object> {
    const { gateway, clock } = this.deps;
    const door = gateway.doors.get(doorId);
    if (door === undefined) return { ok: false, status: 404, error: `door: no door "${doorId}" at this branch (doors: ${gateway.doors.ids().join(', ')})` };
    // The door's own unlock, as staff's: refused in lockdown and while the schedule holds the door free, logged.
    const unlocked = gateway.execute({ command: 'unlock', ...(doorId === undefined ? {} : { door: doorId }) }, session.actor);
    if (!unlocked.ok) return { ok: false, status: 409, error: unlocked.error };
    const stillOurs = (): boolean => door.state === 'unlocked' && door.currentRegime === 'secure';
    const endAt = clock.now().getTime() + seconds * 1000;
    let rearm: Timer | undefined;
    const pulse: Pulse = {
      end: () => {
        this.pulses.delete(pulse);
        clock.clearTimeout(rearm);
        clock.clearTimeout(finish);
        // Opened meanwhile, a fire, a lockdown: the door is someone else's now, and it relocks by itself.
        if (stillOurs()) door.lockNow();
      },
    };
    // The door's pulse is its unlockMs (3 s at least): renewed each second until `seconds`, so one setting serves both.
    const renew = (): void => {
      rearm = undefined;
      if (!stillOurs()) return pulse.end();
      if (endAt - clock.now().getTime() > 1000) {
        // unlockOnce restarts the pulse's timer while the door is secure and unlocked.
        door.unlockOnce();
        rearm = clock.setTimeout(renew, 1000);
      }
    };
    rearm = clock.setTimeout(renew, 1000);
    const finish = clock.setTimeout(() => pulse.end(), seconds * 1000);
    this.pulses.add(pulse);
    this.record(session, { action: 'pulse', ...(gateway.doors.several ? { door: door.id } : {}), seconds });
    return { ok: true };
  }

  private pulseOutput(session: Session, id: string, seconds: number): Outcome<{ from: boolean; to: boolean }> {
    const { hardware, gateway, clock } = this.deps;
    const output: DigitalOutput | undefined = hardware.switched.get(id);
    if (output === undefined) return { ok: false, status: 404, error: `output: no switched output "${id}" here (outputs: ${[...hardware.switched.keys()].join(', ') || 'none'})` };
    const from = output.active;
    const set = (on: boolean): void => {
      output.set(on);
      gateway.events.record('output', { output: id, on, by: 'commissioning' });
      gateway.setOutputs(gateway.state.outputs?.map((state) => (state.id === id ? { ...state, on } : state)));
    };
    set(!from);
    const pulse: Pulse = {
      end: () => {
        this.pulses.delete(pulse);
        clock.clearTimeout(finish);
        // The schedule may have moved it meanwhile: then it is where the schedule wants it, and stays.
        if (output.active === !from) set(from);
      },
    };
    const finish = clock.setTimeout(() => pulse.end(), seconds * 1000);
    this.pulses.add(pulse);
    this.record(session, { action: 'pulse', output: id, seconds });
    return { ok: true, from, to: !from };
  }

  private record(session: Session, body: Omit<EventBody<'commissioning'>, 'session' | 'actor'>): void {
    this.deps.gateway.events.record('commissioning', { session: session.id, actor: session.actor, ...body });
  }
}
