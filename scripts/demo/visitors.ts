// A day of visitors for the demo: who comes when, how long they stay, and a few who will be refused.
// Deterministic (seeded) so that every run tells the same story.

export interface Visit {
  /** Minutes after the demo day starts. */
  arriveAt: number;
  stayMinutes: number;
  card: string;
  /** Comes in behind someone else on the same grant. */
  tailgater?: boolean;
}

export function seededRandom(seed: number): () => number {
  // mulberry32: small, fast and good enough for a demo's dice.
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` visits spread over `dayMinutes`, busiest around midday and early evening. */
export function planVisits(cards: readonly string[], count: number, dayMinutes: number, seed = 7): Visit[] {
  const random = seededRandom(seed);
  const visits: Visit[] = [];
  for (let i = 0; i < count; i += 1) {
    const peak = random() < 0.5 ? 0.35 : 0.75;
    const spread = (random() + random() + random()) / 3 - 0.5;
    const arriveAt = Math.max(0, Math.min(dayMinutes - 1, Math.round((peak + spread * 0.8) * dayMinutes)));
    const card = cards[Math.floor(random() * cards.length)] ?? cards[0]!;
    visits.push({ arriveAt, stayMinutes: 10 + Math.round(random() * 80), card });
  }
  return visits.sort((a, b) => a.arriveAt - b.arriveAt);
}
