// Plays a day of visitors at a demo branch through its simulated reader and door, on the branch's clock.
import type { Clock, Timer } from '../../gateway/core/clock.js';
import type { DemoBranch } from './branch.js';
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
  /** A partner group arriving for its booking: their cards, and the window in minutes from the start. */
  group?: { cards: readonly string[]; fromMinute: number; toMinute: number } | undefined;
}

const DOOR_OPEN_MS = 4000;

export interface DayReplay {
  done: Promise<void>;
  cancel(): void;
}

export function replayDay(options: DayOptions): DayReplay {
  const { branch, clock } = options;
  const simulated = branch.running.hardware.simulated!;
  const door = simulated.inputs.doorContact!;
  const exitButton = simulated.inputs.exitButton!;
  const random = seededRandom(options.seed);
  // Mostly members who may come in, with a sprinkling of cards that will be refused for a reason.
  const cards = [...branch.cards.valid.slice(0, 400), ...branch.cards.other.slice(0, 40), 'DEADBEEF01', '04FFFF0000'];
  const visits = planVisits(cards, options.visits, options.dayMinutes, options.seed);
  const group = options.group;
  if (group !== undefined) {
    // The group arrives together just after its booking starts and leaves as it ends.
    group.cards.slice(0, 8).forEach((card, i) => {
      visits.push({ arriveAt: group.fromMinute + 2 + i, stayMinutes: group.toMinute - group.fromMinute - 12, card });
    });
  }
  const timers = new Set<Timer>();
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const later = (minutes: number, action: () => void): void => {
    const timer = clock.setTimeout(() => {
      timers.delete(timer);
      action();
    }, minutes * 60_000);
    timers.add(timer);
  };
  const passDoor = (after: () => void = () => {}): void => {
    door.set(true);
    later(DOOR_OPEN_MS / 60_000, () => {
      door.set(false);
      after();
    });
  };

  /** Runs `act` and returns the decision it led to, if any (taps and PINs are decided synchronously). */
  const decided = (act: () => void): { allow: boolean; reason: string } | undefined => {
    let decision: { allow: boolean; reason: string } | undefined;
    const onAccess = (outcome: { decision: { allow: boolean; reason: string } }): void => {
      decision = outcome.decision;
    };
    branch.running.gateway.bus.once('access', onAccess);
    act();
    branch.running.gateway.bus.off('access', onAccess);
    return decision;
  };

  for (const visit of visits) {
    later(visit.arriveAt, () => {
      const decision = decided(() => simulated.reader?.tap(visit.card));
      if (decision?.reason === 'pin-required' && branch.pin !== undefined) {
        // Card + PIN: the visitor types it a few seconds later (now and then wrongly, and then again).
        const pin = branch.pin;
        const typo = random() < 0.15;
        later(0.1, () => {
          const answer = decided(() => simulated.keypad?.enter(typo ? '0000' : pin));
          if (answer?.allow === true) enter(visit);
          else if (typo) later(0.2, () => attemptAgain(visit, pin));
        });
        return;
      }
      if (decision?.allow === true) enter(visit);
    });
  }

  const attemptAgain = (visit: Visit, pin: string): void => {
    const decision = decided(() => simulated.reader?.tap(visit.card));
    if (decision?.reason !== 'pin-required') return;
    later(0.1, () => {
      if (decided(() => simulated.keypad?.enter(pin))?.allow === true) enter(visit);
    });
  };

  function enter(visit: Visit): void {
      passDoor();
      // Some late visitors stay past the close: the lights stay on and the alarm says so until they leave.
      const close = options.closeAtMinute;
      const lingers = close !== undefined && visit.arriveAt > close - 90 && visit.arriveAt < close && random() < 0.3;
      const stay = lingers ? close - visit.arriveAt + 10 + Math.round(random() * 30) : visit.stayMinutes;
      later(stay, () => {
        exitButton.set(true);
        exitButton.set(false);
        passDoor();
      });
  }
  later(options.dayMinutes, () => finish());
  return {
    done,
    cancel() {
      for (const timer of timers) clock.clearTimeout(timer);
      timers.clear();
      finish();
    },
  };
}
