// Field parsers for member exports, shared by the gateway's CSV import and central's LMS import. Written by hand
// rather than with regular expressions and Date because they run for every field of a million-row import; each
// returns undefined for a value it cannot read.

const DAYS_IN_MONTH = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function digits(s: string, from: number, count: number): number {
  let n = 0;
  for (let i = from; i < from + count; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

function validDay(y: number, m: number, d: number): boolean {
  if (y < 1 || m < 1 || m > 12 || d < 1 || d > DAYS_IN_MONTH[m]!) return false;
  return m !== 2 || d !== 29 || (y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0));
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** `YYYY-MM-DD` or `DD/MM/YYYY` (day and month may have one digit) → `YYYY-MM-DD`; a real calendar day only. */
export function parseDate(raw: string): string | undefined {
  const s = raw.trim();
  if (s.length === 10 && s.charCodeAt(4) === 45 && s.charCodeAt(7) === 45) {
    const y = digits(s, 0, 4);
    const m = digits(s, 5, 2);
    const d = digits(s, 8, 2);
    return validDay(y, m, d) ? s : undefined;
  }
  const a = s.indexOf('/');
  const b = a < 0 ? -1 : s.indexOf('/', a + 1);
  if (a < 1 || a > 2 || b - a < 2 || b - a > 3 || s.length !== b + 5) return undefined;
  const d = digits(s, 0, a);
  const m = digits(s, a + 1, b - a - 1);
  const y = digits(s, b + 1, 4);
  if (!validDay(y, m, d)) return undefined;
  return `${y}-${pad2(m)}-${pad2(d)}`;
}

const BOOLEANS = new Map<string, boolean>([
  ['y', true],
  ['yes', true],
  ['true', true],
  ['1', true],
  ['n', false],
  ['no', false],
  ['false', false],
  ['0', false],
]);

/** Y/N, yes/no, true/false, 1/0 in any case. */
export function parseBoolean(raw: string): boolean | undefined {
  return BOOLEANS.get(raw) ?? BOOLEANS.get(raw.trim().toLowerCase());
}

export const GROUP_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
const GROUP_SEPARATORS = /[\s,;|]+/;
const NO_GROUPS: readonly string[] = Object.freeze([]);

/** Group names (the policies' booking `group` slugs), lower-cased; undefined if one is not a valid name. */
export function parseGroups(raw: string): readonly string[] | undefined {
  const s = raw.trim();
  if (s === '') return NO_GROUPS;
  const groups: string[] = [];
  for (const part of s.toLowerCase().split(GROUP_SEPARATORS)) {
    if (part === '') continue;
    if (!GROUP_PATTERN.test(part)) return undefined;
    if (!groups.includes(part)) groups.push(part);
  }
  // Sorted, so the same groups in another order are the same member (and the same list hash).
  return groups.sort();
}
