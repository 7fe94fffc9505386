// Which configured reader a PC/SC reader is, from its name: an ACR122U and a second ACR122U differ only in
// the index PC/SC appends ("… 00 00", "… 01 00"), so the config says which pattern is the entry door.

export interface NamedEntry {
  namePattern?: string | undefined;
}

export type ReaderMatcher<T> = (readerName: string) => T | undefined;

/** The first entry whose pattern matches (case-insensitive); else the first entry without a pattern; else none. */
export function readerMatcher<T extends NamedEntry>(entries: readonly T[]): ReaderMatcher<T> {
  const compiled = entries.map((entry) => ({ entry, pattern: entry.namePattern === undefined ? undefined : new RegExp(entry.namePattern, 'i') }));
  const fallback = compiled.find((c) => c.pattern === undefined)?.entry;
  return (readerName) => compiled.find((c) => c.pattern?.test(readerName) === true)?.entry ?? fallback;
}
