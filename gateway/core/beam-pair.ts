// A directional pair of beams across the doorway: the outer one (street side) then the inner one is a person coming
// in, the inner then the outer is a person going out. A passage is read from when the first beam breaks until both
// are clear again: which broke first says where they came from, which cleared last where they went. Anything else
// (one beam alone, first and last the same beam, a beam held broken) is no passage, and is told as an oddity.
import type { Clock, Timer } from './clock.js';

export type Beam = 'outer' | 'inner';
export type Direction = 'in' | 'out';

export interface BeamPairOptions {
  clock: Clock;
  /** A passage that takes longer than this is someone standing in the doorway or something left there. */
  timeoutMs: number;
  onPassage: (direction: Direction) => void;
  /** What was odd, in words for the log; never a person. */
  onOddity: (detail: string) => void;
}

/** Long enough for a slow walker with a pushchair; short enough that a bag left across a beam is told. */
export const BEAM_PASSAGE_TIMEOUT_MS = 15_000;

interface Passage {
  first: Beam;
  seen: Set<Beam>;
  /** Timed out: wait for both beams to clear, then start afresh, counting nothing. */
  abandoned: boolean;
}

export class BeamPair {
  private readonly broken = new Set<Beam>();
  private passage: Passage | undefined;
  private timer: Timer | undefined;

  constructor(private readonly options: BeamPairOptions) {}

  /** The beams' levels at start: a beam already broken begins a passage nobody saw start, which counts nothing. */
  initial(outer: boolean, inner: boolean): void {
    if (outer) this.broken.add('outer');
    if (inner) this.broken.add('inner');
    if (this.broken.size > 0) this.passage = { first: outer ? 'outer' : 'inner', seen: new Set(this.broken), abandoned: true };
  }

  change(beam: Beam, broken: boolean): void {
    if (broken) this.onBreak(beam);
    else this.onClear(beam);
  }

  stop(): void {
    this.stopTimer();
  }

  private onBreak(beam: Beam): void {
    if (this.broken.has(beam)) return;
    this.broken.add(beam);
    if (this.passage === undefined) {
      this.passage = { first: beam, seen: new Set([beam]), abandoned: false };
      this.stopTimer();
      this.timer = this.options.clock.setTimeout(() => this.timedOut(), this.options.timeoutMs);
      return;
    }
    this.passage.seen.add(beam);
  }

  private onClear(beam: Beam): void {
    if (!this.broken.delete(beam)) return;
    const passage = this.passage;
    if (this.broken.size > 0 || passage === undefined) return;
    this.passage = undefined;
    this.stopTimer();
    if (passage.abandoned) return;
    if (passage.seen.size < 2) {
      this.options.onOddity(`only the ${passage.first} beam broke: nobody went through`);
      return;
    }
    if (passage.first === beam) {
      this.options.onOddity(`the beams broke out of order (${beam} first and last): someone turned back`);
      return;
    }
    this.options.onPassage(passage.first === 'outer' ? 'in' : 'out');
  }

  private timedOut(): void {
    this.timer = undefined;
    if (this.passage === undefined) return;
    this.passage.abandoned = true;
    this.options.onOddity(`a beam stayed broken longer than ${Math.round(this.options.timeoutMs / 1000)} s: not counted`);
  }

  private stopTimer(): void {
    if (this.timer === undefined) return;
    this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
