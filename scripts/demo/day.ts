// Plays a day of visitors at a demo branch through its simulated reader, keypad, door, counter and motion sensor,
// on the branch's clock, and writes down what really happened (truth.ts) as it plays it.
import type { Clock, Timer } from '../../gateway/core/clock.js';
import type { AccessOutcome } from '../../gateway/core/bus.js';
import { modeAt } from '../../policies/index.js';
import type { Policy, ScheduleMode } from '../../policies/index.js';
import { MAIN_DOOR } from '../../firmware-bridge/config.js';
import type { SimulatedInputControls } from '../../firmware-bridge/types.js';
import type { DemoBranch } from './branch.js';
import { DayTruth } from './truth.js';
import type { EntryKind } from './truth.js';
import { planVisits, seededRandom } from './visitors.js';
import type { Visit } from './visitors.js';

export interface DayOptions {
  branch: DemoBranch;
  clock: Clock;
  /** Minutes from the clock's start to the end of the replay. */
  dayMinutes: number;
  visits: number;
  seed: number;
  /** Minutes from the start to the evening close: some late visitors stay past it, to show the close. */
  closeAtMinute?: number | undefined;
  /**
   * A partner group arriving for its booking: their cards, the window in minutes from the start, and the door their
   * booking opens (default the main door). Where that is another door, one of them tries the main door first.
   */
  group?: { cards: readonly string[]; fromMinute: number; toMinute: number; door?: string | undefined } | undefined;
}

const SECOND = 1 / 60;
/** How long a person holds the door open going through. */
const DOOR_OPEN_MINUTES = 4 * SECOND;
/** Between two people at the door: the contact must be seen shut before the next one opens it. */
const DOOR_GAP_MINUTES = 2 * SECOND;
/** A second person through the same opening comes this long after the first (longer than a counter's bounce). */
const TAILGATER_AFTER_MINUTES = 1.5 * SECOND;
const PIN_TYPING_MINUTES = 6 * SECOND;
const PIN_GIVE_UP_MINUTES = 10;
/** From the door to the intruder alarm panel's keypad, and the code typed (well within a panel's entry time). */
const PANEL_KEYPAD_MINUTES = 8 * SECOND;
/** While anyone is inside, the motion sensor sees them this often. */
const MOTION_EVERY_MINUTES = 3;

export interface DayReplay {
  done: Promise<void>;
  /** What really happened, as the script played it. */
  truth: DayTruth;
  cancel(): void;
}

type Decision = { allow: boolean; reason: string };

type DayVisit = Visit & {
  booking?: boolean;
  /** The door they use (default the main door). */
  door?: string;
  /** Taps at the main door's reader first, is refused, and goes round to their own door. */
  triesMainDoorFirst?: boolean;
};

/** One door as the visitors meet it: its reader, contact and exit button, and whoever is waiting to go through. */
interface DemoDoor {
  id: string;
  readerId: string;
  contact: SimulatedInputControls | undefined;
  exit: SimulatedInputControls | undefined;
  /** A counter's pulses in and out (the main door's inputs; another door counts from its contact). */
  counter: { in: SimulatedInputControls | undefined; out: SimulatedInputControls | undefined };
  /** Waits for the door to be free: `turn` gets it alone, and calls `release` once done with it. */
  use(turn: (release: () => void) => void): void;
}

export function replayDay(options: DayOptions): DayReplay {
  const { branch, clock } = options;
  const simulated = branch.running.hardware.simulated!;
  const { motion } = simulated.inputs;
  const policy = (): Policy => branch.running.gateway.policies.current;
  const random = seededRandom(options.seed);
  const truth = new DayTruth();
  // Mostly members who may come in, with a sprinkling of cards that will be refused for a reason.
  const cards = [...branch.cards.valid.slice(0, 400), ...branch.cards.other.slice(0, 40), 'DEADBEEF01', '04FFFF0000'];
  const visits: DayVisit[] = planVisits(cards, options.visits, options.dayMinutes, options.seed);
  const group = options.group;
  if (group !== undefined) {
    // The group arrives together just after its booking starts and leaves as it ends; at a door of its own, the first
    // of them goes to the main door out of habit.
    const door = group.door ?? MAIN_DOOR;
    group.cards.slice(0, 8).forEach((card, i) => {
      visits.push({
        arriveAt: group.fromMinute + 2 + i,
        stayMinutes: group.toMinute - group.fromMinute - 12,
        card,
        booking: true,
        door,
        triesMainDoorFirst: i === 0 && door !== MAIN_DOOR,
      });
    });
  }
  const timers = new Set<Timer>();
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  let cancelled = false;
  const later = (minutes: number, action: () => void): void => {
    if (cancelled) return;
    const timer = clock.setTimeout(() => {
      timers.delete(timer);
      action();
    }, minutes * 60_000);
    timers.add(timer);
  };
  const pulse = (input: SimulatedInputControls | undefined): void => {
    input?.set(true);
    input?.set(false);
  };
  const scheduleMode = (): ScheduleMode => modeAt(policy(), clock.now()).mode;

  // One person at a door at a time: two people through one opening are a tailgate, which the script plays on
  // purpose, never by accident of timing.
  const oneAtATime = (): DemoDoor['use'] => {
    const queue: Array<(release: () => void) => void> = [];
    let busy = false;
    const next = (): void => {
      const turn = queue.shift();
      if (turn === undefined || cancelled) {
        busy = false;
        return;
      }
      busy = true;
      let released = false;
      turn(() => {
        if (released) return;
        released = true;
        later(DOOR_GAP_MINUTES, next);
      });
    };
    return (turn) => {
      queue.push(turn);
      if (!busy) next();
    };
  };
  const demoDoor = (id: string, readerId: string): DemoDoor => {
    if (id !== MAIN_DOOR) {
      const own = simulated.doors[id];
      return { id, readerId, contact: own?.contact, exit: own?.exit, counter: { in: undefined, out: undefined }, use: oneAtATime() };
    }
    const { doorContact, exitButton, counterIn, counterOut } = simulated.inputs;
    return { id, readerId, contact: doorContact, exit: exitButton, counter: { in: counterIn, out: counterOut }, use: oneAtATime() };
  };
  const doors = new Map(Object.entries(branch.readerAt).map(([id, readerId]) => [id, demoDoor(id, readerId)]));
  const doorOf = (visit: DayVisit): DemoDoor => {
    const door = doors.get(visit.door ?? MAIN_DOOR);
    if (door === undefined) throw new Error(`the demo branch ${branch.site} has no door "${visit.door}"`);
    return door;
  };
  const mainDoor = doors.get(MAIN_DOOR)!;
  /** The door opens, people go through it one after the other (a counter pulse each, in or out), and it shuts. */
  const throughDoor = (door: DemoDoor, people: ReadonlyArray<() => void>, direction: 'in' | 'out', after: () => void): void => {
    door.contact?.set(true);
    const counter = door.counter[direction];
    const goesThrough = (passed: () => void): void => {
      pulse(counter);
      passed();
    };
    people.forEach((passed, i) => (i === 0 ? goesThrough(passed) : later(i * TAILGATER_AFTER_MINUTES, () => goesThrough(passed))));
    later(DOOR_OPEN_MINUTES, () => {
      door.contact?.set(false);
      after();
    });
  };

  // A tap is decided in the same turn; a PIN on the thread pool: its answer is found by the card's pseudonym.
  const pinWaiters = new Map<string, (decision: Decision) => void>();
  const onAccess = (outcome: AccessOutcome): void => {
    if (outcome.person === null) return;
    const waiter = pinWaiters.get(outcome.person);
    if (waiter === undefined) return;
    pinWaiters.delete(outcome.person);
    waiter(outcome.decision);
  };
  branch.running.gateway.bus.on('access', onAccess);
  const tapDecision = (card: string, door: DemoDoor): Decision | undefined => {
    let decision: Decision | undefined;
    const onTap = (outcome: AccessOutcome): void => {
      decision = outcome.decision;
    };
    branch.running.gateway.bus.once('access', onTap);
    simulated.reader?.tap(card, door.readerId);
    branch.running.gateway.bus.off('access', onTap);
    return decision;
  };
  const typePin = (card: string, digits: string, answered: (decision: Decision | undefined) => void): void => {
    const person = branch.personOf(card);
    let settled = false;
    const settle = (decision: Decision | undefined): void => {
      if (settled) return;
      settled = true;
      pinWaiters.delete(person);
      answered(decision);
    };
    pinWaiters.set(person, settle);
    simulated.keypad?.enter(digits);
    // The answer comes from the thread pool, in real time, however fast the day runs; a PIN the keypad drops (nothing
    // pending) has none, and the visitor gives up after a while.
    later(PIN_GIVE_UP_MINUTES, () => settle(undefined));
  };

  for (const visit of visits) {
    later(visit.arriveAt, () => (visit.triesMainDoorFirst === true ? mainDoor.use((release) => tryMainDoor(visit, release)) : doorOf(visit).use((release) => arrive(visit, release))));
  }

  /** A member of a group whose booking opens another door taps at the main door: it stays shut, as on any closed night. */
  function tryMainDoor(visit: DayVisit, release: () => void): void {
    const decision = tapDecision(visit.card, mainDoor);
    if (decision?.allow === true) return enter(visit, decision, mainDoor, release);
    if (decision !== undefined) truth.refused('closed');
    release();
    later(1, () => doorOf(visit).use((ownRelease) => arrive(visit, ownRelease)));
  }

  function arrive(visit: DayVisit, release: () => void): void {
    const door = doorOf(visit);
    if (scheduleMode() === 'staffed') {
      // Staff hold the door free: people walk in without a card.
      truth.openingsWhileHeldFree += 1;
      throughDoor(door, [() => truth.entered({ at: clock.now(), mode: 'staffed', kind: 'walk-in', ageBand: null })], 'in', release);
      stayThenLeave(visit);
      return;
    }
    const decision = tapDecision(visit.card, door);
    if (decision === undefined) return release();
    if (decision.reason === 'pin-required' && branch.pin !== undefined) {
      // Card + PIN: the visitor types it a few seconds later (now and then wrongly, and then again).
      const pin = branch.pin;
      const typo = random() < 0.15;
      /** Types `digits` a few seconds on: in, or refused; after a wrong PIN, `retry` (if given) has another go. */
      const typeAfterTap = (digits: string, retry?: () => void): void =>
        later(PIN_TYPING_MINUTES, () =>
          typePin(visit.card, digits, (answer) => {
            if (answer?.allow === true) return enter(visit, answer, door, release);
            if (answer !== undefined) truth.refused(answer.reason);
            if (retry === undefined || answer?.reason !== 'pin-wrong') return release();
            retry();
          }),
        );
      // After a typo: taps again and types it right this time.
      const tapAgain = (): void => {
        const again = tapDecision(visit.card, door);
        if (again?.reason === 'pin-required') return typeAfterTap(pin);
        if (again !== undefined && !again.allow) truth.refused(again.reason);
        return again?.allow === true ? enter(visit, again, door, release) : release();
      };
      typeAfterTap(typo ? '0000' : pin, typo ? tapAgain : undefined);
      return;
    }
    if (decision.allow) return enter(visit, decision, door, release);
    truth.refused(decision.reason);
    release();
  }

  function enter(visit: DayVisit, decision: Decision, door: DemoDoor, release: () => void): void {
    const at = clock.now();
    const mode = modeAt(policy(), at).mode;
    // Now and then someone slips in behind a member on the same opening: only a counter can see it.
    const tailgater = door.counter.in !== undefined && mode === 'open-access' && random() < 0.05;
    const member = (): void => truth.entered({ at, mode, kind: (visit.booking === true ? 'booking' : decision.reason) as EntryKind, ageBand: branch.ageBandOf(visit.card) });
    const behind = (): void => {
      truth.tailgates += 1;
      truth.entered({ at: clock.now(), mode, kind: 'tailgater', ageBand: null });
    };
    throughDoor(door, tailgater ? [member, behind] : [member], 'in', release);
    // Let in while the branch had set its alarm (staff, a group's booking in closed hours): the door is on the panel's
    // entry route, and they type the code at its keypad within the entry time, as the branch expects in closed hours.
    const panel = branch.panel;
    if (panel !== undefined && panel.state !== 'unset') later(PANEL_KEYPAD_MINUTES, () => panel.state !== 'unset' && panel.unsetAtKeypad());
    // Whoever got in leaves by the door they came in by.
    stayThenLeave({ ...visit, door: door.id });
    if (tailgater) stayThenLeave({ ...visit, door: door.id, stayMinutes: 5 + Math.round(random() * 40) });
  }

  function stayThenLeave(visit: DayVisit): void {
    const door = doorOf(visit);
    // Some late visitors stay past the close: the lights stay on and the alarm says so until they leave.
    const close = options.closeAtMinute;
    const lingers = close !== undefined && visit.arriveAt > close - 90 && visit.arriveAt < close && random() < 0.3;
    const stay = lingers ? close - visit.arriveAt + 10 + Math.round(random() * 30) : visit.stayMinutes;
    const hesitates = random() < 0.05;
    later(stay, () =>
      door.use((release) => {
        if (scheduleMode() === 'staffed') {
          truth.openingsWhileHeldFree += 1;
          throughDoor(door, [() => truth.left(clock.now())], 'out', release);
          return;
        }
        if (hesitates) {
          // Presses the exit button, thinks better of it, and presses again a little later to go.
          pulse(door.exit);
          truth.exitPressesWithoutExit += 1;
        }
        later(hesitates ? 30 * SECOND : 0, () => {
          pulse(door.exit);
          throughDoor(door, [() => truth.left(clock.now())], 'out', release);
        });
      }),
    );
  }

  // The motion sensor sees whoever is inside, every few minutes.
  if (motion !== undefined) {
    const watch = (): void => {
      if (truth.inside > 0) {
        motion.set(true);
        later(10 * SECOND, () => motion.set(false));
      }
      later(MOTION_EVERY_MINUTES, watch);
    };
    later(MOTION_EVERY_MINUTES, watch);
  }

  later(options.dayMinutes, () => finish());
  return {
    done,
    truth,
    cancel() {
      cancelled = true;
      for (const timer of timers) clock.clearTimeout(timer);
      timers.clear();
      branch.running.gateway.bus.off('access', onAccess);
      finish();
    },
  };
}
