// Days in an IANA time zone, for the pages: which date an instant falls on there, and when that date's day and week
// begin. A branch's "today" is its own zone's, whatever zone the browser is in. Pure (Intl only), no DOM.

const partsFormats = new Map();
function partsFormat(timeZone) {
  let f = partsFormats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    partsFormats.set(timeZone, f);
  }
  return f;
}

/** The wall clock in `timeZone` at `ms`, as numbers. */
function wall(ms, timeZone) {
  const p = Object.fromEntries(partsFormat(timeZone).formatToParts(new Date(ms)).map((x) => [x.type, Number(x.value)]));
  return { y: p.year, m: p.month, d: p.day, h: p.hour, min: p.minute, s: p.second };
}

/** How far `timeZone`'s wall clock is ahead of UTC at `ms`. */
function offsetMs(ms, timeZone) {
  const w = wall(ms, timeZone);
  return Date.UTC(w.y, w.m - 1, w.d, w.h, w.min, w.s) - Math.floor(ms / 1000) * 1000;
}

const pad = (n) => String(n).padStart(2, '0');

/** "2025-06-03": the date `date` falls on in `timeZone`. */
export function localDate(date, timeZone) {
  const w = wall(date.getTime(), timeZone);
  return `${w.y}-${pad(w.m)}-${pad(w.d)}`;
}

/** A calendar date `days` later (earlier when negative): calendar arithmetic, no zone involved. */
export function addDays(isoDate, days) {
  const d = new Date(Date.parse(`${isoDate}T00:00:00Z`) + days * 86_400_000);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

/** The instant `isoDate` begins in `timeZone` (its midnight, or its first hour where a clock change skips midnight). */
export function startOfLocalDay(isoDate, timeZone) {
  const utcMidnight = Date.parse(`${isoDate}T00:00:00Z`);
  // The offset at the guess can differ from the offset at midnight across a clock change: a second pass settles it.
  let at = utcMidnight - offsetMs(utcMidnight, timeZone);
  at = utcMidnight - offsetMs(at, timeZone);
  if (localDate(new Date(at), timeZone) < isoDate) at += 3_600_000;
  return new Date(at);
}

/** The instant the week (Monday to Sunday) holding `isoDate` begins in `timeZone`. */
export function startOfLocalWeek(isoDate, timeZone) {
  const weekday = new Date(`${isoDate}T00:00:00Z`).getUTCDay();
  return startOfLocalDay(addDays(isoDate, -((weekday + 6) % 7)), timeZone);
}
