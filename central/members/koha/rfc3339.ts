// Koha writes `updated_on` in its server's offset (`2026-05-01T09:30:00+01:00`) and reads a `q` date-time the same
// way; the poller answers in the offset Koha last used, so that a Koha that compares the text as its database's
// local time still compares like with like.

/** The offset of an RFC 3339 date-time, in minutes east of UTC (0 for `Z`). */
export function offsetMinutes(dateTime: string): number {
  const m = /([+-])(\d{2}):(\d{2})$/.exec(dateTime);
  if (m === null) return 0;
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
}

/** `ms` as RFC 3339 to the second, in the given offset (`Z` for 0). */
export function formatRfc3339(ms: number, offset: number): string {
  const local = new Date(Math.floor(ms / 1000) * 1000 + offset * 60_000).toISOString().slice(0, 19);
  if (offset === 0) return `${local}Z`;
  const abs = Math.abs(offset);
  return `${local}${offset < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}
