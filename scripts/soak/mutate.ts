// Malformed inputs, made from a seed so that a run can be repeated: random bytes, valid payloads cut short or with
// bytes changed, values of the wrong type, huge values, invalid UTF-8, deep nesting. Every generator takes a valid
// example of the input it attacks, so that most of what comes out gets past the first check and into the code
// behind it.

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i += 4) {
      const word = Math.floor(this.next() * 4294967296);
      for (let k = 0; k < 4 && i + k < n; k += 1) out[i + k] = (word >>> (8 * k)) & 0xff;
    }
    return out;
  }
}

/** Byte sequences that are not UTF-8: a lone continuation byte, an overlong slash, a surrogate, a cut-off sequence. */
export const INVALID_UTF8: readonly Buffer[] = [
  Buffer.from([0x80]),
  Buffer.from([0xc0, 0xaf]),
  Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from([0xf4, 0x90, 0x80, 0x80]),
  Buffer.from([0xe2, 0x82]),
  Buffer.from([0xff, 0xfe]),
  Buffer.from([0xc3, 0x28]),
];

/** Strings that have broken parsers and validators elsewhere. */
const NASTY_STRINGS: readonly string[] = [
  '',
  ' ',
  '\u0000',
  '\u202e',
  '\ud800',
  '💥'.repeat(3),
  '__proto__',
  'constructor',
  'toString',
  '../../../../etc/passwd',
  '%00',
  '%zz',
  '${7*7}',
  "'; DROP TABLE events; --",
  '<script>alert(1)</script>',
  '1e309',
  '-0',
  'NaN',
  'null',
  'true',
  '0x7fffffff',
  '9'.repeat(400),
  '2026-02-30T25:61:61Z',
  '2026-03-29T01:30:00',
  'é'.normalize('NFD'),
  '\r\n\r\n',
];

const NASTY_NUMBERS: readonly number[] = [0, -1, 1, -0, 0.5, 2 ** 31, 2 ** 53 + 1, -(2 ** 63), 1e308, -1e308, 5e-324, Number.MAX_SAFE_INTEGER];

/** A size from the usual ones, now and then (one in twenty) the extreme one: the extremes cost the most time. */
export function sized(rng: Rng, usual: readonly number[], extreme: number): number {
  return rng.chance(0.05) ? extreme : rng.pick(usual);
}

function hugeString(rng: Rng): string {
  const size = sized(rng, [1024, 65_536], 300_000);
  return rng.pick(['a', '9', 'é', '💥', '\\', '"']).repeat(size);
}

/** A value of some other type than the one given. */
function wrongType(rng: Rng, value: unknown): unknown {
  const choices: Array<() => unknown> = [
    () => null,
    () => rng.pick(NASTY_NUMBERS),
    () => rng.pick(NASTY_STRINGS),
    () => rng.chance(0.5),
    () => [],
    () => ({}),
    () => [value],
    () => ({ value }),
    () => hugeString(rng),
    () => nested(rng, 20 + rng.int(200)),
  ];
  return rng.pick(choices)();
}

/** A value nested `depth` levels deep, as an object (small depths: JSON.stringify recurses too). */
function nested(rng: Rng, depth: number): unknown {
  let value: unknown = rng.pick([1, 'x', null, true]);
  for (let i = 0; i < depth; i += 1) value = rng.chance(0.5) ? [value] : { a: value };
  return value;
}

function clone<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

/** Changes one place in a JSON value: a field gets the wrong type, a huge or nasty value, goes missing, or gains a stranger. */
export function mutateValue(rng: Rng, value: unknown, rounds = 1 + rng.int(3)): unknown {
  let result = clone(value);
  for (let round = 0; round < rounds; round += 1) result = mutateOnce(rng, result);
  return result;
}

function mutateOnce(rng: Rng, value: unknown): unknown {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'string' && rng.chance(0.4)) return tweakString(rng, value);
    if (typeof value === 'number' && rng.chance(0.4)) return rng.pick(NASTY_NUMBERS);
    return wrongType(rng, value);
  }
  if (Array.isArray(value)) {
    if (value.length === 0 || rng.chance(0.2)) return rng.chance(0.5) ? wrongType(rng, value) : [...value, wrongType(rng, value[0])];
    const i = rng.int(value.length);
    const copy = [...value];
    const action = rng.int(7);
    if (action === 0) copy.splice(i, 1);
    else if (action === 1) {
      // Repeats of one element, kept under about a megabyte however large the element already is.
      const size = (JSON.stringify(copy[i]) ?? '').length + 1;
      copy.push(...Array.from({ length: Math.min(sized(rng, [2, 100], 5000), Math.floor(1_000_000 / size)) }, () => copy[i]));
    }
    else copy[i] = mutateOnce(rng, copy[i]);
    return copy;
  }
  const record = { ...(value as Record<string, unknown>) };
  const keys = Object.keys(record);
  const action = rng.int(10);
  if (keys.length === 0 || action === 0) {
    record[rng.pick(['__proto__', 'constructor', 'extra', '', '💥', 'a'.repeat(300)])] = wrongType(rng, undefined);
  } else if (action === 1) {
    delete record[rng.pick(keys)];
  } else if (action === 2) {
    return wrongType(rng, value);
  } else {
    const key = rng.pick(keys);
    record[key] = mutateOnce(rng, record[key]);
  }
  return record;
}

function tweakString(rng: Rng, text: string): string {
  switch (rng.int(6)) {
    case 0:
      return text.slice(0, rng.int(text.length + 1));
    case 1:
      return text + rng.pick(NASTY_STRINGS);
    case 2:
      return text.toUpperCase() === text ? text.toLowerCase() : text.toUpperCase();
    case 3:
      return text.replace(/[0-9]/g, () => String(rng.int(10)));
    case 4:
      return ` ${text} `;
    default:
      return rng.pick(NASTY_STRINGS);
  }
}

/** Changes bytes of a buffer: flips, inserts, deletes, repeats a slice, splices in invalid UTF-8 or a quote. */
export function mutateBytes(rng: Rng, input: Buffer): Buffer {
  let out = Buffer.from(input);
  const rounds = 1 + rng.int(4);
  for (let round = 0; round < rounds; round += 1) {
    const at = out.length === 0 ? 0 : rng.int(out.length);
    switch (rng.int(8)) {
      case 0:
        if (out.length > 0) out[at] = out[at]! ^ (1 << rng.int(8));
        break;
      case 1:
        out = Buffer.concat([out.subarray(0, at), rng.bytes(1 + rng.int(8)), out.subarray(at)]);
        break;
      case 2:
        out = Buffer.concat([out.subarray(0, at), out.subarray(Math.min(out.length, at + 1 + rng.int(16)))]);
        break;
      case 3: {
        const end = Math.min(out.length, at + 1 + rng.int(64));
        out = Buffer.concat([out.subarray(0, end), out.subarray(at, end), out.subarray(end)]);
        break;
      }
      case 4:
        out = Buffer.concat([out.subarray(0, at), rng.pick(INVALID_UTF8), out.subarray(at)]);
        break;
      case 5:
        out = Buffer.concat([out.subarray(0, at), Buffer.from(rng.pick(['"', '\\', '{', '[', ']', '}', ',', ':', '\n', '\u0000', '#', '&a', '*a', '- ', '---'])), out.subarray(at)]);
        break;
      case 6:
        out = out.subarray(0, at);
        break;
      default:
        if (out.length > 0) out[at] = rng.int(256);
    }
  }
  return out;
}

/** `[[[[…]]]]` or `{"a":{"a":…}}` as text, deeper than any parser's stack if asked. */
export function deepText(rng: Rng, depth: number, style: 'json' | 'yaml' = 'json'): string {
  if (style === 'yaml' && rng.chance(0.5)) return `${'- '.repeat(Math.min(depth, 2000))}x\n`;
  return rng.chance(0.5) ? `${'['.repeat(depth)}1${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

export type Strategy = 'random-bytes' | 'truncated' | 'byte-mutated' | 'value-mutated' | 'wrong-type' | 'huge' | 'invalid-utf8' | 'deep-nesting' | 'empty';

export const STRATEGIES: readonly Strategy[] = ['random-bytes', 'truncated', 'byte-mutated', 'value-mutated', 'wrong-type', 'huge', 'invalid-utf8', 'deep-nesting', 'empty'];

/**
 * One malformed JSON-ish payload from a valid example. `maxBytes` keeps it under a surface's own size limit most
 * of the time (a few go over, on purpose).
 */
export function malformedJson(rng: Rng, example: unknown, maxBytes = 64 * 1024): { strategy: Strategy; bytes: Buffer } {
  const strategy = rng.pick(STRATEGIES);
  const valid = Buffer.from(JSON.stringify(example));
  let bytes: Buffer;
  switch (strategy) {
    case 'random-bytes':
      bytes = rng.bytes(rng.int(rng.chance(0.9) ? 256 : maxBytes + 4096));
      break;
    case 'truncated':
      bytes = valid.subarray(0, rng.int(valid.length));
      break;
    case 'byte-mutated':
      bytes = mutateBytes(rng, valid);
      break;
    case 'value-mutated':
      bytes = Buffer.from(stringifyBounded(mutateValue(rng, example), maxBytes));
      break;
    case 'wrong-type':
      bytes = Buffer.from(JSON.stringify(wrongType(rng, example)) ?? 'null');
      break;
    case 'huge':
      bytes = Buffer.from(JSON.stringify(hugeInside(rng, example, maxBytes)));
      break;
    case 'invalid-utf8': {
      const at = 1 + rng.int(Math.max(1, valid.length - 2));
      bytes = Buffer.concat([valid.subarray(0, at), rng.pick(INVALID_UTF8), valid.subarray(at)]);
      break;
    }
    case 'deep-nesting':
      bytes = Buffer.from(deepText(rng, sized(rng, [100, 1000, 10_000], 100_000)));
      break;
    default:
      bytes = Buffer.from(rng.pick(['', ' ', 'null', '0', '""', '[]', '{}', 'true', '\n']));
  }
  return { strategy, bytes };
}

/** JSON text of a mutated value; one that grew past any sensible size is cut to a little over `maxBytes`. */
export function stringifyBounded(value: unknown, maxBytes: number): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? 'null';
  } catch {
    return 'x'.repeat(maxBytes + 1);
  }
  return text.length > 4 * maxBytes ? text.slice(0, maxBytes + 1) : text;
}

/** The example with one field (or the whole) replaced by something large: a long string, a long array. */
function hugeInside(rng: Rng, example: unknown, maxBytes: number): unknown {
  const big = rng.chance(0.5) ? 'x'.repeat(rng.int(maxBytes + 4096)) : Array.from({ length: rng.int(maxBytes / 8) }, (_, i) => i);
  if (example === null || typeof example !== 'object' || Array.isArray(example)) return big;
  const record = { ...(example as Record<string, unknown>) };
  const keys = Object.keys(record);
  record[keys.length > 0 && rng.chance(0.8) ? rng.pick(keys) : 'extra'] = big;
  return record;
}

/** Percent-encoding that never throws (encodeURIComponent does on a lone surrogate). */
export function percentEncode(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** A query string for a GET: keys of the route, strangers, repeated keys, broken percent-encoding, huge values. */
export function malformedQuery(rng: Rng, example: Record<string, string>): string {
  const keys = [...Object.keys(example), 'x', '__proto__', 'limit', 'before', 'types', 'from', 'to'];
  const parts: string[] = [];
  const count = rng.int(5);
  for (let i = 0; i < count; i += 1) {
    const key = rng.pick(keys);
    const base = Object.hasOwn(example, key) ? example[key]! : rng.pick(NASTY_STRINGS);
    const value = rng.chance(0.3) ? base : rng.chance(0.5) ? tweakString(rng, base) : rng.pick(NASTY_STRINGS);
    const encoded = rng.chance(0.1) ? rng.pick(['%', '%zz', '%e2%82', '%c0%af', '%ed%a0%80', '%00']) : percentEncode(value);
    parts.push(rng.chance(0.1) ? `${percentEncode(key)}[]=${encoded}` : rng.chance(0.05) ? percentEncode(key) : `${percentEncode(key)}=${encoded}`);
  }
  if (rng.chance(0.03)) parts.push(`x=${'a'.repeat(sized(rng, [2000, 20_000], 70_000))}`);
  return parts.join(rng.chance(0.05) ? ';' : '&');
}

/** Text-level mutations of a YAML or CSV document, line by line or byte by byte. */
export function mutateText(rng: Rng, text: string, style: 'yaml' | 'csv'): { strategy: string; bytes: Buffer } {
  const lines = text.split('\n');
  const kind = rng.int(10);
  switch (kind) {
    case 0:
      return { strategy: 'random-bytes', bytes: rng.bytes(rng.int(sized(rng, [512], 300_000))) };
    case 1:
      return { strategy: 'truncated', bytes: Buffer.from(text).subarray(0, rng.int(text.length)) };
    case 2:
      return { strategy: 'byte-mutated', bytes: mutateBytes(rng, Buffer.from(text)) };
    case 3: {
      const i = rng.int(lines.length);
      const copy = [...lines];
      const action = rng.int(4);
      if (action === 0) copy.splice(i, 1);
      else if (action === 1) copy.splice(i, 0, ...Array.from({ length: sized(rng, [2, 50], 5000) }, () => lines[i]!));
      else if (action === 2) copy[i] = rng.pick(NASTY_STRINGS);
      else [copy[i], copy[0]] = [copy[0]!, copy[i]!];
      return { strategy: 'lines', bytes: Buffer.from(copy.join('\n')) };
    }
    case 4: {
      const at = rng.int(Math.max(1, text.length));
      return { strategy: 'invalid-utf8', bytes: Buffer.concat([Buffer.from(text.slice(0, at)), rng.pick(INVALID_UTF8), Buffer.from(text.slice(at))]) };
    }
    case 5:
      if (style === 'yaml') return { strategy: 'deep-nesting', bytes: Buffer.from(deepText(rng, sized(rng, [100, 1000, 10_000], 100_000), 'yaml')) };
      // Brackets without quotes: the import spends about a millisecond on each stray quote (csv-parse's errors),
      // so quotes come in their own, smaller doses below.
      return { strategy: 'deep-nesting', bytes: Buffer.from(`${'['.repeat(sized(rng, [100, 1000, 10_000], 100_000))}1`) };
    case 6:
      return { strategy: 'huge', bytes: Buffer.from(text.replace(/: [^\n]+|,[^,\n]*/, (m) => m.slice(0, 2) + 'x'.repeat(sized(rng, [1000, 20_000], 400_000)))) };
    case 7:
      if (rng.chance(0.5)) {
        // Stray quotes: in CSV they open a quoted field the line never closes.
        let out = text;
        for (let n = sized(rng, [1, 10, 100], 2000); n > 0; n -= 1) {
          const at = rng.int(out.length + 1);
          out = `${out.slice(0, at)}"${out.slice(at)}`;
        }
        return { strategy: 'stray-quotes', bytes: Buffer.from(out) };
      }
      return { strategy: 'empty', bytes: Buffer.from(rng.pick(['', '\n', '\ufeff', '---\n', '~', '[]', '{}', 'null'])) };
    default: {
      // Cells or values swapped for strangers, a few at a time.
      let out = text;
      for (let n = 1 + rng.int(3); n > 0; n -= 1) {
        const tokens = out.split(style === 'csv' ? /(,|\n)/ : /(: |\n|- )/);
        const i = rng.int(tokens.length);
        if (tokens[i] !== undefined && !/^(,|\n|: |- )$/.test(tokens[i]!)) tokens[i] = tweakString(rng, tokens[i]!);
        out = tokens.join('');
      }
      return { strategy: 'value-mutated', bytes: Buffer.from(out) };
    }
  }
}
