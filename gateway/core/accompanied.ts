// Rule accompaniedMinors' memory: when an adult was last let in at each entry reader. In memory only: a restart
// forgets it, and a child then waits for the adult to tap again, which is the safe side.

/** The last adult grant per reader (a door's entry reader), for DecisionContext.adultGrantedMsAgo. */
export class AdultGrants {
  /** Reader id → epoch ms of the last adult grant there. As many entries as the branch has entry readers. */
  private readonly lastAt = new Map<string, number>();

  adultGranted(readerId: string, atMs: number): void {
    this.lastAt.set(readerId, atMs);
  }

  /** Milliseconds since the last adult grant at this reader, or null when none is remembered. */
  sinceAdult(readerId: string, atMs: number): number | null {
    const last = this.lastAt.get(readerId);
    return last === undefined ? null : atMs - last;
  }
}
