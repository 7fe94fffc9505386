// The member the benchmarks' lists are made of: in date, open access, no PIN, so that a tap is granted unless a
// bench changes a field on purpose.
import type { Member } from '../../policies/types.js';

export const BENCH_MEMBER: Readonly<Member> = Object.freeze({
  expires: '2099-12-31',
  blocked: false,
  blockedUntil: null,
  openAccess: true,
  birthDate: '1980-01-01',
  adult: null,
  staff: false,
  groups: [],
  pinHash: null,
});
