// Plays a day of visitors at a demo branch through its simulated reader and door, on the branch's clock.
import type { Clock, Timer } from '../../gateway/clock.js';
import type { DemoBranch } from './branch.js';
import { planVisits, seededRandom } from './visitors.js';

export interface DayOptions {
  branch: DemoBranch;
  clock: Clock;
  /** Minutes from the clock's start to the end of the replay. */
  dayMinutes: number;
  visits: number;
  seed: number;
  /** Minutes from the start to the evening close: some late visitors stay past it, to show the close. */
  closeAtMinute?: number | undefined;
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

  for (const visit of visits) {
    later(visit.arriveAt, () => {
      let granted = false;
      const onAccess = (outcome: { decision: { allow: boolean } }): void => {
        granted = outcome.decision.allow;
      };
      branch.running.gateway.bus.once('access', onAccess);
      simulated.reader?.tap(visit.card);
      branch.running.gateway.bus.off('access', onAccess);
      if (!granted) return;
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
