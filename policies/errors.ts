// One way to turn schema failures into messages people can act on: `path: reason`, e.g.
// `schedule.weekly.mon[1].to: must be after from`. Shared by every schema in the project
// (policies, gateway config, MQTT payloads), so that every input error reads the same.
import type { z } from 'zod';

type Path = readonly PropertyKey[];

/** `schedule.weekly.mon[1].to`; the document itself is `(root)`. */
export function formatPath(path: Path): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][\w$-]*$/.test(key)) out += out === '' ? key : `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out === '' ? '(root)' : out;
}

/** One line per problem; an unknown key is named in the path, one line per key. */
export function formatIssues(error: z.ZodError): string[] {
  const lines: string[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) lines.push(`${formatPath([...issue.path, key])}: unknown key`);
      continue;
    }
    lines.push(`${formatPath(issue.path)}: ${issue.message}`);
  }
  return lines;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return String(value);
}

/**
 * A per-parse error map with plain-English defaults. Messages written on a schema itself win over it
 * (zod's precedence), so only the generic cases are worded here.
 */
export const plainErrors: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'required';
      return `must be ${issue.expected === 'int' ? 'a whole number' : `a ${issue.expected}`} (got ${describe(issue.input)})`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')} (got ${describe(issue.input)})`;
    case 'too_small':
      if (issue.origin === 'array') return `must have at least ${String(issue.minimum)} item(s)`;
      if (issue.origin === 'string') return `must be at least ${String(issue.minimum)} character(s)`;
      return `must be ${issue.inclusive ? 'at least' : 'greater than'} ${String(issue.minimum)}`;
    case 'too_big':
      if (issue.origin === 'array') return `must have at most ${String(issue.maximum)} item(s)`;
      if (issue.origin === 'string') return `must be at most ${String(issue.maximum)} character(s)`;
      return `must be ${issue.inclusive ? 'at most' : 'less than'} ${String(issue.maximum)}`;
    case 'unrecognized_keys':
      return `unknown key(s): ${issue.keys.join(', ')}`;
    case 'invalid_union':
      return 'does not match any allowed form';
    case 'invalid_key':
      // A record's key (an output id, a language): say what is wrong with the key, not only that it is.
      return `is not a valid key: ${issue.issues.map((inner) => inner.message).join('; ')}`;
    default:
      return undefined;
  }
};

export type Validation<T> = { ok: true; value: T } | { ok: false; errors: string[] };

/** Parse with the plain messages and return either the value or the formatted errors. */
export function validate<S extends z.ZodType>(schema: S, input: unknown): Validation<z.output<S>> {
  const result = schema.safeParse(input, { error: plainErrors, reportInput: true });
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, errors: formatIssues(result.error) };
}
